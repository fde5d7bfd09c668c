"""The shape every offtarget reward shares: verify each completion, score it, log diagnostics.

A reward is a :class:`VerdictReward`: a picklable callable with TRL's reward signature
``fn(prompts, completions, completion_ids=None, **kwargs) -> list[float | None]`` and a
``__name__`` (TRL uses it to name the ``rewards/<name>/mean`` metric). It rebuilds the
:class:`~offtarget.tasks.Problem` of each row from the dataset columns
(:mod:`offtarget.rewards.columns`), runs the task's strict verifier once, and hands
``(problem, text, verdict)`` to a small scoring function that returns the reward and a dict of
per-completion diagnostics.

Diagnostics reach TRL through the two callbacks it passes to reward functions:

- ``log_extra(column, values)``: one value per completion, added to the completions table
  (``log_completions=True``) as column ``<name>/<key>``;
- ``log_metric(name, value)``: the batch mean of each diagnostic over the rows where it is
  defined, logged as ``<name>/<key>`` beside TRL's own metrics (TRL averages it over processes).

Two rewards with the same ``__name__`` in one trainer would interleave their logged columns:
give each instance a distinct ``name``.

    >>> from offtarget.rewards import get_reward
    >>> fn = get_reward("correctness")
    >>> fn(["2+2="], ["d 4"], answer=["4"])
    [1.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from offtarget.rewards.columns import completion_text, problems_from_columns
from offtarget.tasks.problem import Problem, Task, Verdict


class Scored(NamedTuple):
    """One completion's reward and its diagnostics (``None`` = not defined for this row)."""

    reward: float | None
    diagnostics: dict[str, float | None]


Scorer = Callable[[Problem, str, Verdict], Scored]
"""``(problem, completion_text, verdict) -> Scored``; a module-level function or a partial of one."""


def resolve_task(task: Task | str | None) -> Task:
    """A task object from an object, a suite name (``"arithmetic"``) or ``None`` (arithmetic)."""
    if task is None:
        from offtarget.tasks.arithmetic import ArithmeticTask

        return ArithmeticTask()
    if isinstance(task, str):
        from offtarget.tasks import get_task

        return get_task(task)
    return task


class VerdictReward:
    """A TRL reward function that scores completions from the strict verifier's verdicts."""

    def __init__(self, name: str, scorer: Scorer, task: Task | str | None = None) -> None:
        self.__name__ = name
        self.scorer = scorer
        self.task = resolve_task(task)
        self.log_columns = True
        """Also send per-completion diagnostics to TRL's completions table (``log_extra``)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__name__!r}, task={getattr(self.task, 'name', self.task)!r})"

    def evaluate(self, problems: Sequence[Problem], completions: Sequence[Any]) -> list[Scored]:
        """Score completions against their problems (no TRL involved; used by the preflight too)."""
        if len(problems) != len(completions):
            raise ValueError(f"{len(problems)} problems but {len(completions)} completions")
        out = []
        for problem, completion in zip(problems, completions, strict=True):
            text = completion_text(completion)
            out.append(self.scorer(problem, text, self.task.verify(problem, text)))
        return out

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        problems = problems_from_columns(prompts, **kwargs)
        scored = self.evaluate(problems, completions)
        log_diagnostics(
            self.__name__,
            [s.diagnostics for s in scored],
            log_metric=kwargs.get("log_metric"),
            log_extra=kwargs.get("log_extra") if self.log_columns else None,
        )
        return [s.reward for s in scored]


def log_diagnostics(
    name: str,
    diagnostics: Sequence[dict[str, float | None]],
    log_metric: Callable[[str, float], None] | None = None,
    log_extra: Callable[[str, list], None] | None = None,
) -> dict[str, float]:
    """Send per-completion diagnostics to TRL; return the batch means that were logged.

    A key whose values are all ``None`` in this batch logs no metric (a mean of nothing is not
    zero), but still logs its per-completion column so every column has one value per row.
    """
    keys: list[str] = []
    for d in diagnostics:
        keys.extend(k for k in d if k not in keys)
    means: dict[str, float] = {}
    for key in keys:
        values = [d.get(key) for d in diagnostics]
        if log_extra is not None:
            log_extra(f"{name}/{key}", values)
        defined = [float(v) for v in values if v is not None and not math.isnan(float(v))]
        if defined:
            means[key] = sum(defined) / len(defined)
            if log_metric is not None:
                log_metric(f"{name}/{key}", means[key])
    return means


def flag(condition: bool) -> float:
    """A boolean diagnostic as 0.0 / 1.0, so its batch mean is a rate."""
    return 1.0 if condition else 0.0
