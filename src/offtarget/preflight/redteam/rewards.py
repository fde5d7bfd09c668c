"""Which rewards the red-team runs: the defaults, penalties seen as negative rewards, user functions.

    >>> from offtarget.tasks import ArithmeticTask
    >>> resolve_reward("format_penalty", ArithmeticTask())[0]
    '-format_penalty'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from offtarget.tasks.problem import Task

DEFAULT_REWARDS = ("correctness", "rlcr", "brier", "ternary", "format", "stepwise")
"""Red-teamed when ``--reward`` is not given: the registry's rewards one would train on
(``lenient_correctness`` is hackable on purpose; ``format_penalty`` is a penalty, higher = worse)."""


PENALTIES = ("format_penalty",)
"""Registered rewards that are penalties (higher = worse): red-teamed as their negative, the
way a trainer uses them (a negative weight), under the name ``-<name>``."""


class Negated:
    """``−fn``: a penalty seen as the reward a negative weight makes of it (``None`` kept)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.__name__ = f"-{getattr(fn, '__name__', 'penalty')}"

    def __call__(self, *args: Any, **kwargs: Any) -> list[float | None]:
        return [None if v is None else -v for v in self.fn(*args, **kwargs)]


def resolve_reward(spec: str, task: Task) -> tuple[str, Callable]:
    """A registered name (built for ``task``) or a user's ``module:function`` / ``file.py:function``."""
    from offtarget.rewards.registry import get_reward, load_reward

    if ":" in spec:
        return spec, load_reward(spec)
    fn = get_reward(spec, task=task)
    if spec in PENALTIES:
        return f"-{spec}", Negated(fn)
    return spec, fn
