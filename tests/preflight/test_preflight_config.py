"""PreflightConfig: YAML loading, validation messages, window parsing."""

from __future__ import annotations

import pytest

from offtarget.errors import OfftargetError
from offtarget.preflight.config import PreflightConfig, parse_window
from offtarget.preflight.runner import checkpoint_names

SFT = "models/lab/sft"


def test_yaml_fields_and_overrides(tmp_path):
    path = tmp_path / "pf.yaml"
    path.write_text("model: models/lab/sft\nrewards: [correctness, my_mod:fn]\nwindow: [0.2, 0.8]\n"
                    "checks: [redteam]\nout: runs/from_yaml\n")
    cfg = PreflightConfig.from_yaml(path, out=None)
    assert cfg.rewards == ("correctness", "my_mod:fn") and cfg.window == (0.2, 0.8) and cfg.out == "runs/from_yaml"
    assert PreflightConfig.from_yaml(path, out="elsewhere").out == "elsewhere"
    cfg.validate()


def test_yaml_unknown_key_is_named(tmp_path):
    path = tmp_path / "pf.yaml"
    path.write_text("model: x\ngroupsize: 8\n")
    with pytest.raises(OfftargetError, match=r"unknown key\(s\) \['groupsize'\]"):
        PreflightConfig.from_yaml(path)


@pytest.mark.parametrize(
    "kw,match",
    [({"model": ""}, "pass --model"), ({"model": "nowhere"}, "--model nowhere: no Hugging Face checkpoint"),
     ({"reference": "nowhere"}, "--reference nowhere"), ({"checks": ("vibes",)}, "choose from"),
     ({"samples": 0}, "at least 1"), ({"window": (0.5, 0.2)}, "need 0 <= low <= high <= 1"),
     ({"tolerance": -1.0}, "must be >= 0"), ({"sft_data": "nope.jsonl"}, "file not found")],
)
def test_validation_messages(kw, match):
    with pytest.raises(OfftargetError, match=match):
        PreflightConfig(**{"model": SFT, **kw}).validate()


def test_parse_window_and_names():
    assert parse_window("0.1,0.9") == (0.1, 0.9)
    with pytest.raises(OfftargetError, match="write LOW,HIGH"):
        parse_window("0.1-0.9")
    assert checkpoint_names(PreflightConfig(model="a/sft", reference="b/base")) == ("sft", "base")
    assert checkpoint_names(PreflightConfig(model="a/m", reference="b/m")) == ("model", "reference")
    assert checkpoint_names(PreflightConfig(model="a/sft")) == ("sft", None)
