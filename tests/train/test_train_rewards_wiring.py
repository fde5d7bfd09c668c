"""`--reward` wiring: registered names with weights, users' own functions, weight-0 helpers for curation."""

from __future__ import annotations

import importlib.util

import pytest

from offtarget.errors import OfftargetError
from offtarget.tasks import ArithmeticTask
from offtarget.train.config import GRPORunConfig, load_config
from offtarget.train.grpo_run import build_rewards, check_vllm


def cfg(**kw):
    return load_config(GRPORunConfig, None, {"model": "m", **kw})


def names(funcs):
    return [f.__name__ for f in funcs]


def test_names_weights_and_a_user_reward_from_a_file(tmp_path):
    user = tmp_path / "my_rewards.py"
    user.write_text("def short(prompts, completions, **kw):\n    return [-len(c) / 10 for c in completions]\n")
    funcs, weights, outcome, _ = build_rewards(
        cfg(reward=["correctness", "brier:0.5", f"{user}:short:0.1"], dynamic_sampling=True), ArithmeticTask())
    assert names(funcs) == ["correctness", "brier", "short"] and weights == [1.0, 0.5, 0.1]
    assert outcome == "correctness"
    assert funcs[2](["1+1="], ["d 2"]) == [-0.3]


def test_curation_adds_outcome_and_penalty_with_weight_zero():
    funcs, weights, outcome, penalty = build_rewards(cfg(reward=["brier"], roc=True), ArithmeticTask())
    assert names(funcs) == ["brier", "correctness", "format_penalty"] and weights == [1.0, 0.0, 0.0]
    assert (outcome, penalty) == ("correctness", "format_penalty")
    funcs, weights, _, _ = build_rewards(cfg(reward=["brier"], dynamic_sampling=False), ArithmeticTask())
    assert names(funcs) == ["brier"], "nothing is added when no curation rule reads it"


@pytest.mark.parametrize(
    ("spec", "match"),
    [("nonsense", "unknown reward"), ("no_such_module_xyz:f", "no module"), ("correctness:x:y:", "expected .module:function")],
)
def test_bad_reward_specs(spec, match):
    with pytest.raises(OfftargetError, match=match):
        build_rewards(cfg(reward=[spec]), ArithmeticTask())


def test_duplicate_rewards_are_refused():
    with pytest.raises(OfftargetError, match="once"):
        build_rewards(cfg(reward=["brier", "brier:2"]), ArithmeticTask())


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_use_vllm_without_vllm_is_a_clear_error():
    with pytest.raises(OfftargetError, match="vllm package is not installed"):
        check_vllm(cfg(use_vllm=True))
    check_vllm(cfg())  # off: nothing to check
