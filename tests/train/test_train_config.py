"""Run configs: defaults with reasons, YAML, flag precedence, reward specs, validation errors."""

from __future__ import annotations

from dataclasses import fields

import pytest

from offtarget.errors import OfftargetError
from offtarget.train.config import (
    GRPORunConfig,
    SFTRunConfig,
    config_to_yaml,
    field_docs,
    load_config,
    parse_reward_spec,
)


@pytest.mark.parametrize("cls", [GRPORunConfig, SFTRunConfig])
def test_every_field_has_a_docstring(cls):
    docs = field_docs(cls)
    missing = [f.name for f in fields(cls) if not docs.get(f.name)]
    assert missing == []


def test_subclass_docstring_wins_for_redeclared_fields():
    assert "SFT data" in field_docs(SFTRunConfig)["monitor_every"]
    assert "baseline" in field_docs(GRPORunConfig)["monitor_every"]


def test_grpo_defaults_are_the_measured_lab_settings():
    cfg = load_config(GRPORunConfig, None, {"model": "m"})
    assert (cfg.prompts_per_step, cfg.num_generations, cfg.temperature, cfg.top_k) == (8, 8, 1.0, 0)
    assert cfg.beta > 0, "KL must be measured and logged by default"
    assert cfg.scale_rewards == "batch"
    assert cfg.learning_rate == 1e-4 and cfg.lr_scheduler == "constant"
    assert cfg.curriculum == "off" and not cfg.roc
    assert cfg.group_generated == 8
    assert load_config(GRPORunConfig, None, {"model": "m", "roc": True}).group_generated == 16


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("correctness", ("correctness", 1.0)),
        ("brier:0.5", ("brier", 0.5)),
        ("format_penalty:-1", ("format_penalty", -1.0)),
        ("my_mod:length_penalty", ("my_mod:length_penalty", 1.0)),
        ("pkg.mod:fn:2e-1", ("pkg.mod:fn", 0.2)),
        ("path/to/r.py:fn:3", ("path/to/r.py:fn", 3.0)),
    ],
)
def test_reward_specs(spec, want):
    assert parse_reward_spec(spec) == want


def test_yaml_then_flags(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("model: models/lab/sft\nsteps: 40\nreward: correctness\nkl_max: 0.3\nbeta: 0\n")
    cfg = load_config(GRPORunConfig, path, {"steps": 7})
    assert cfg.steps == 7  # flag beats YAML
    assert cfg.reward == ["correctness"]  # a lone string becomes a list
    assert cfg.kl_max == 0.3 and isinstance(cfg.beta, float) and cfg.beta == 0.0
    again = load_config(GRPORunConfig, _write(tmp_path / "again.yaml", config_to_yaml(cfg)))
    assert again == cfg  # config.yaml round-trips


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("yaml_text", "match"),
    [
        ("model: m\nstep: 3\n", "unknown key"),
        ("model: m\nsteps: three\n", "integer"),
        ("- a\n- b\n", "mapping"),
        ("model: m\nguard_action: explode\n", "guard-action"),
        ("model: m\nscale_rewards: token\n", "scale-rewards"),
        ("model: m\nnum_generations: 1\n", "at least 2"),
        ("model: m\ndifficulty_low: 0.8\ndifficulty_high: 0.2\n", "low <= high"),
        ("model: m\ncurriculum: family\n", "curriculum-family"),
        ("model: m\nguard_action: restore\nsave_best: false\n", "save-best"),
        ("steps: 3\n", "--model"),
        ("model: m\nreward: []\n", "at least one reward"),
    ],
)
def test_bad_configs_raise_one_line_errors(tmp_path, yaml_text, match):
    with pytest.raises(OfftargetError, match=match) as info:
        load_config(GRPORunConfig, _write(tmp_path / "bad.yaml", yaml_text))
    assert "\n" not in str(info.value)


def test_sft_needs_existing_data(tmp_path):
    with pytest.raises(OfftargetError, match="--data"):
        load_config(SFTRunConfig, None, {"model": "m"})
    with pytest.raises(OfftargetError, match="not found"):
        load_config(SFTRunConfig, None, {"model": "m", "data": str(tmp_path / "nope.jsonl")})


def test_trl_args_pass_through_and_unknown_keys_fail():
    from trl import GRPOConfig

    from offtarget.train.session import trl_config

    cfg = load_config(GRPORunConfig, None, {"model": "m", "trl_args": {"max_grad_norm": 0.5}})
    args = trl_config(GRPOConfig, cfg, output_dir="/tmp/x", max_grad_norm=1.0, use_cpu=True, bf16=False)
    assert args.max_grad_norm == 0.5
    bad = load_config(GRPORunConfig, None, {"model": "m", "trl_args": {"max_grad_nrom": 0.5}})
    with pytest.raises(OfftargetError, match="max_grad_nrom"):
        trl_config(GRPOConfig, bad, output_dir="/tmp/x")
