"""The rewards called through TRL 1.16's own ``GRPOTrainer._calculate_rewards`` (no model needed)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
from reward_helpers import ADD, UNANS

from offtarget.rewards import get_reward, problem_to_row

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")
accelerate = pytest.importorskip("accelerate")


def _stub_trainer(funcs):
    stub = SimpleNamespace(
        accelerator=accelerate.Accelerator(cpu=True),
        reward_funcs=funcs,
        reward_processing_classes=[None] * len(funcs),
        reward_func_names=[f.__name__ for f in funcs],
        state=SimpleNamespace(global_step=0),
        args=SimpleNamespace(report_to=[]),
        environments=None,
        _pending_extra_logs=defaultdict(list),
        _pending_metrics=defaultdict(list),
    )
    stub._log_completion_extra = lambda column, values: stub._pending_extra_logs[column].extend(values)
    stub._log_metric = lambda name, value: stub._pending_metrics[name].append(value)
    return stub


@pytest.mark.parametrize("conversational", [False, True])
def test_rewards_through_trl_calculate_rewards(conversational):
    funcs = [get_reward("rlcr"), get_reward("ternary"), get_reward("stepwise"), get_reward("format_penalty")]
    stub = _stub_trainer(funcs)
    problems = [ADD, ADD, UNANS, UNANS]  # two generations per prompt
    texts = ["s 15 08 = 85<c>8", "d 86<confidence>1.3</confidence>", "?", "d 27"]
    if conversational:
        inputs = [{**problem_to_row(p), "prompt": [{"role": "user", "content": p.prompt}]} for p in problems]
        completions = [[{"role": "assistant", "content": t}] for t in texts]
    else:
        inputs = [problem_to_row(p) for p in problems]
        completions = texts
    rewards = trl.GRPOTrainer._calculate_rewards(
        stub, inputs, [x["prompt"] for x in inputs], completions, [[0]] * len(inputs)
    )
    assert tuple(rewards.shape) == (4, 4)
    expected = [
        [1 - 0.15**2, 1.0, 1.0, 0.0],
        [-1.0, -1.0, 0.0, 0.0],  # stepwise: [=86] vs [15, 08, =85] -> 0
        [0.0, 1.0, float("nan"), 0.0],  # a bare abstention claims q = 0: rlcr 0; stepwise does not apply
        [-1.0, -1.0, float("nan"), 0.0],
    ]
    torch.testing.assert_close(rewards, torch.tensor(expected), equal_nan=True)
    assert stub._pending_metrics["rlcr/confidence_missing"] == [0.75]
    assert stub._pending_metrics["ternary/over_answer"] == [0.5]
    assert all(len(v) == 4 for v in stub._pending_extra_logs.values())
