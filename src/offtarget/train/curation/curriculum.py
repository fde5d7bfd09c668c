"""Curriculum order: structured families first, or easy → hard by measured pass rate. Off by default.

Both orders are stable (ties keep the input order) and deterministic, so a run can be
reproduced and resumed. They produce a *static* order: pre-sort the training dataset and
train with ``shuffle_dataset=False``, under which TRL's ``RepeatSampler`` walks the dataset
in index order (rows are still shuffled within one generation batch, and every epoch
repeats the order: TRL 1.16's ``trainer/utils.py``).

- ``family``: problems grouped by family in the order given (e.g. arithmetic before open
  word problems); families not listed follow, in order of first appearance. A problem's
  family is ``metadata["family"]`` (``"default"`` when absent) unless a ``family`` function
  is passed.
- ``difficulty``: descending pass rate (easiest first); problems without a measured rate go
  last.

    >>> from offtarget.tasks import Problem
    >>> ps = [Problem("x", "1+1=", "2"), Problem("y", "1+2=", "3"), Problem("z", "1+3=", "4")]
    >>> [p.id for p in order_by_difficulty(ps, {"x": 0.2, "y": 0.9})]
    ['y', 'x', 'z']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from offtarget.errors import OfftargetError
from offtarget.tasks.problem import Problem

Mode = Literal["off", "family", "difficulty"]


@dataclass(frozen=True)
class CurriculumConfig:
    """How to order training problems before GRPO."""

    mode: Mode = "off"
    """``off`` keeps the dataset order; ``family`` groups by family; ``difficulty`` goes easy → hard."""
    family_order: tuple[str, ...] = ()
    """For ``family``: family names, most structured first; unlisted families follow."""


def default_family(problem: Problem) -> str:
    """A problem's family: ``metadata["family"]`` if present, else ``"default"``."""
    return str(problem.metadata.get("family", "default"))


def order_by_family(
    problems: Sequence[Problem],
    order: Sequence[str],
    family: Callable[[Problem], str] = default_family,
) -> list[Problem]:
    """Problems grouped by family in ``order``; unlisted families after, by first appearance."""
    rank = {name: i for i, name in enumerate(order)}
    for p in problems:
        rank.setdefault(family(p), len(rank))
    return sorted(problems, key=lambda p: rank[family(p)])


def order_by_difficulty(
    problems: Sequence[Problem],
    pass_rates: Mapping[str, float],
) -> list[Problem]:
    """Easy → hard: descending pass rate by problem id; unmeasured problems last, ties stable."""

    def key(p: Problem) -> tuple[int, float]:
        rate = pass_rates.get(p.id)
        return (1, 0.0) if rate is None else (0, -float(rate))

    return sorted(problems, key=key)


def apply_curriculum(
    problems: Sequence[Problem],
    config: CurriculumConfig = CurriculumConfig(),
    pass_rates: Mapping[str, float] | None = None,
) -> list[Problem]:
    """Order ``problems`` as ``config`` says (a copy; the input order when ``mode="off"``)."""
    if config.mode == "off":
        return list(problems)
    if config.mode == "family":
        if not config.family_order:
            raise OfftargetError("curriculum mode 'family' needs family_order (most structured first)")
        return order_by_family(problems, config.family_order)
    if config.mode == "difficulty":
        if pass_rates is None:
            raise OfftargetError(
                "curriculum mode 'difficulty' needs measured pass rates (run the preflight foothold first)"
            )
        return order_by_difficulty(problems, pass_rates)
    raise OfftargetError(f"unknown curriculum mode {config.mode!r}; choose off, family or difficulty")


__all__ = [
    "CurriculumConfig",
    "apply_curriculum",
    "default_family",
    "order_by_difficulty",
    "order_by_family",
]
