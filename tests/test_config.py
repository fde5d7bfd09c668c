"""One config mechanism for every command: defaults ← YAML ← flags, flags generated from dataclass fields."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from offtarget.audit.config import AuditConfig
from offtarget.cli import app
from offtarget.config import field_docs, load_config
from offtarget.errors import OfftargetError
from offtarget.preflight.config import PreflightConfig


def test_flags_beat_yaml_beat_defaults(tmp_path):
    path = tmp_path / "audit.yaml"
    path.write_text("models: {base: models/lab/base}\nsamples: 8\ntop_p: 0.9\nsplits: [test]\n")
    cfg = load_config(AuditConfig, path, {"samples": 3})
    assert (cfg.samples, cfg.top_p, cfg.splits, cfg.temperature) == (3, 0.9, ("test",), 1.0)
    assert cfg.models == {"base": "models/lab/base"}


def test_yaml_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models: {base: x}\nsampels: 8\n")
    with pytest.raises(OfftargetError, match=r"bad.yaml: unknown key\(s\) \['sampels'\]"):
        load_config(AuditConfig, path)
    path.write_text("models: {base: x}\nsamples: many\n")
    with pytest.raises(OfftargetError, match="samples must be an integer"):
        load_config(AuditConfig, path)


def test_every_audit_and_preflight_field_is_documented():
    for cls in (AuditConfig, PreflightConfig):
        docs = field_docs(cls)
        missing = [f for f in cls.__dataclass_fields__ if not docs.get(f)]
        assert not missing, f"{cls.__name__} fields without a docstring: {missing}"


def _resolved(args: list[str], monkeypatch) -> AuditConfig:
    """The config `offtarget audit ARGS` builds (the runner is swapped for a capture: no model runs)."""
    from offtarget.audit import results

    seen = {}

    def capture(cfg, console=None, render=True):
        seen["cfg"] = cfg
        raise SystemExit(0)

    monkeypatch.setattr(results, "run_config", capture)
    CliRunner().invoke(app, ["audit", *args])
    return seen["cfg"]


def test_audit_cli_applies_flags_over_config(tmp_path, monkeypatch):
    # The bug this replaces: `audit --config` ignored every flag but --model.
    path = tmp_path / "a.yaml"
    path.write_text(json.dumps({"models": {"base": "models/lab/base"}, "samples": 8, "problems": 50}))
    cfg = _resolved(["--config", str(path), "--samples", "2", "--splits", "test,ood", "--no-greedy",
                     "--out", str(tmp_path / "o")], monkeypatch)
    assert (cfg.samples, cfg.problems, cfg.splits, cfg.greedy) == (2, 50, ("test", "ood"), False)
    cfg = _resolved(["-m", "a=x", "--model", "b=y", "--probes", "accuracy", "--probes", "kl"], monkeypatch)
    assert list(cfg.models.items()) == [("a", "x"), ("b", "y")] and cfg.probes == ("accuracy", "kl")


def test_bad_model_flag_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["audit", "--model", "nopath"])
    assert isinstance(result.exception, OfftargetError) and "NAME=PATH" in str(result.exception)
