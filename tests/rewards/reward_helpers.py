"""Test helpers for rewards: two hand-made arithmetic problems and a TRL-shaped call that records logs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from offtarget.rewards import problem_to_row
from offtarget.tasks import Problem

ADD = Problem("test/carries=1/27+58", "27+58=", "85", "test", "carries=1", False, {"a": 27, "b": 58})
"""27 + 58: columns (carry, digit) = 15, 08; answer 85."""
UNANS = Problem("test/u0-27+k=", "27+k=", None, "test", "unanswerable", True, {})


@dataclass
class Logged:
    rewards: list
    metrics: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    extras: dict[str, list] = field(default_factory=lambda: defaultdict(list))


def call_like_trl(fn: Callable, problems: Sequence[Problem], completions: Sequence) -> Logged:
    """Call a reward function exactly as TRL 1.16's ``_calculate_rewards`` does."""
    rows = [problem_to_row(p) for p in problems]
    kwargs = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
    out = Logged(rewards=[])
    kwargs["trainer_state"] = None
    kwargs["log_metric"] = lambda name, value: out.metrics[name].append(value)
    kwargs["log_extra"] = lambda column, values: out.extras[column].extend(values)
    out.rewards = fn(
        prompts=[r["prompt"] for r in rows],
        completions=list(completions),
        completion_ids=[[0]] * len(rows),
        **kwargs,
    )
    assert len(out.rewards) == len(problems)
    for column, values in out.extras.items():
        assert len(values) == len(problems), column  # one value per completion, never more
    return out
