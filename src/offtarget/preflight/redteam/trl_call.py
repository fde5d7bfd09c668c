"""Calling a reward function exactly as TRL's ``GRPOTrainer._calculate_rewards`` calls it.

``fn(prompts=..., completions=..., completion_ids=..., trainer_state=None, log_extra=...,
log_metric=..., **dataset_columns)`` with the columns of :func:`offtarget.rewards.problem_to_row`;
anything a user's reward does wrong (raises, returns NaN, a non-number or the wrong count) becomes
a :class:`RewardFailure`, a finding rather than a crash.

    >>> from offtarget.rewards import get_reward
    >>> from offtarget.tasks import ArithmeticTask
    >>> task = ArithmeticTask(unanswerable_share=0)
    >>> p = task.problems("train", 1)[0]
    >>> call_like_trl(get_reward("correctness"), [p], [f"d {p.answer}"])
    [1.0]
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

from offtarget.rewards.columns import problem_to_row
from offtarget.tasks.problem import Problem


class RewardFailure(Exception):
    """A reward function raised, or returned something TRL could not use."""


def call_like_trl(fn: Callable, problems: Sequence[Problem], completions: Sequence[str],
                  tokenizer: Any = None) -> list[float | None]:
    """One batch through ``fn`` with TRL's arguments; checked values (``None`` kept) or :class:`RewardFailure`."""
    rows = [problem_to_row(p) for p in problems]
    columns = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"} if rows else {}
    if tokenizer is not None:
        ids = [list(x) for x in tokenizer(list(completions), add_special_tokens=False)["input_ids"]]
    else:
        ids = [list(c.encode("utf-8")) for c in completions]
    try:
        out = fn(prompts=[r["prompt"] for r in rows], completions=list(completions), completion_ids=ids,
                 trainer_state=None, log_extra=lambda *a, **k: None, log_metric=lambda *a, **k: None, **columns)
        if inspect.isawaitable(out):
            out = asyncio.run(_await(out))
    except Exception as exc:  # noqa: BLE001 - any failure of user code is a finding, not a crash
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise RewardFailure(f"raises {type(exc).__name__}: {first}".rstrip(": ")) from None
    try:
        values = list(out)
    except TypeError:
        raise RewardFailure(f"returned a {type(out).__name__}, not a list") from None
    if len(values) != len(completions):
        raise RewardFailure(f"returned {len(values)} values for {len(completions)} completions")
    checked: list[float | None] = []
    for v in values:
        if v is None:
            checked.append(None)
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise RewardFailure(f"returned a non-number {v!r}") from None
        if not math.isfinite(x):
            raise RewardFailure(f"returned {x}")
        checked.append(x)
    return checked


async def _await(x):
    return await x
