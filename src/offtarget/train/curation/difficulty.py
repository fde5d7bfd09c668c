"""Offline difficulty window: keep the prompts the policy sometimes, but not always, solves.

GRPO learns only from groups whose rewards differ. A prompt solved by every sample (p = 1) or
by none (p = 0) gives a zero advantage to every rollout, and prompts far outside the window
mostly waste rollouts. Measure each prompt's pass rate from k samples of the starting policy
(the preflight's foothold step does this), then keep ``low ≤ p ≤ high`` (default 0.1–0.9), or
the strict ``0 < p < 1`` (``strict_window``).

**The input is correctness, never a shaped reward.** A shaped reward (format bonus, Brier
term, step similarity) is non-zero and varies across samples even when every sample is wrong,
so a prompt the policy never solves can look "medium" by mean reward, and an always-solved
prompt with an occasional format slip can look "hard". Filtering on it keeps exactly the
prompts the window is meant to drop (the verl-recipe PR 125 pitfall). So every value must be
a bool or exactly 0 / 1; anything else raises.

    >>> rep = difficulty_window({"a": [1, 1, 1, 1], "b": [0, 1, 0, 1], "c": [0, 0, 0, 0]})
    >>> rep.kept, rep.too_easy, rep.too_hard
    (['b'], ['a'], ['c'])
    >>> rep.counts()
    {'total': 3, 'kept': 1, 'too_easy': 1, 'too_hard': 1, 'unmeasured': 0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from offtarget.errors import OfftargetError

T = TypeVar("T")


@dataclass(frozen=True)
class DifficultyWindow:
    """Which measured pass rates count as "learnable now"."""

    low: float = 0.1
    """Smallest pass rate kept; below it a prompt is ``too_hard``."""
    high: float = 0.9
    """Largest pass rate kept; above it a prompt is ``too_easy``."""
    closed: bool = True
    """Whether the bounds themselves are kept (``low ≤ p ≤ high``) or not (``low < p < high``)."""

    def __post_init__(self) -> None:
        if not (0.0 <= self.low <= self.high <= 1.0):
            raise OfftargetError(
                f"difficulty window needs 0 <= low <= high <= 1, got low={self.low}, high={self.high}"
            )

    def contains(self, p: float) -> bool:
        if self.closed:
            return self.low <= p <= self.high
        return self.low < p < self.high


STRICT = DifficultyWindow(0.0, 1.0, closed=False)
"""``0 < p < 1``: drop only prompts with no GRPO signal at all."""


@dataclass(frozen=True)
class DifficultyReport:
    """What the window kept and dropped, and why; ids keep the input order."""

    window: DifficultyWindow
    pass_rates: dict[str, float]
    """Measured pass rate of every prompt with at least one sample."""
    kept: list[str] = field(default_factory=list)
    too_easy: list[str] = field(default_factory=list)
    """Pass rate above the window (``p > high``, or ``p ≥ high`` when open)."""
    too_hard: list[str] = field(default_factory=list)
    """Pass rate below the window."""
    unmeasured: list[str] = field(default_factory=list)
    """No samples: dropped, since nothing says whether they are learnable."""

    def counts(self) -> dict[str, int]:
        return {
            "total": len(self.kept) + len(self.too_easy) + len(self.too_hard) + len(self.unmeasured),
            "kept": len(self.kept),
            "too_easy": len(self.too_easy),
            "too_hard": len(self.too_hard),
            "unmeasured": len(self.unmeasured),
        }

    def filter(self, items: Sequence[T], key: str = "id") -> list[T]:
        """The items whose ``key`` (attribute or mapping key, e.g. a Problem's id) was kept, in order."""
        kept = set(self.kept)

        def ident(item: Any) -> str:
            return item[key] if isinstance(item, Mapping) else getattr(item, key)

        return [item for item in items if ident(item) in kept]


def _as_correct(value: Any, prompt_id: str) -> bool:
    if isinstance(value, bool):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if v == 0.0 or v == 1.0:
        return v == 1.0
    raise OfftargetError(
        f"difficulty filter takes 0/1 correctness, got {value!r} for prompt {prompt_id!r}: "
        "pass the verifier's verdicts, not a shaped reward"
    )


def pass_rates(correctness: Mapping[str, Sequence[Any]]) -> dict[str, float]:
    """Share of correct samples per prompt (prompts with no samples are left out)."""
    rates = {}
    for pid, values in correctness.items():
        flags = [_as_correct(v, pid) for v in values]
        if flags:
            rates[pid] = sum(flags) / len(flags)
    return rates


def difficulty_window(
    correctness: Mapping[str, Sequence[Any]],
    low: float = 0.1,
    high: float = 0.9,
    *,
    closed: bool = True,
) -> DifficultyReport:
    """Keep prompts whose pass rate lies in the window; report the rest by reason.

    ``correctness`` maps a prompt id to its k samples' correctness (bools or 0/1).
    """
    window = DifficultyWindow(low, high, closed)
    rates = pass_rates(correctness)
    kept, easy, hard, unmeasured = [], [], [], []
    for pid in correctness:
        if pid not in rates:
            unmeasured.append(pid)
        elif window.contains(rates[pid]):
            kept.append(pid)
        elif rates[pid] > high or (not closed and rates[pid] >= high):
            easy.append(pid)
        else:
            hard.append(pid)
    return DifficultyReport(window, rates, kept, easy, hard, unmeasured)


def strict_window(correctness: Mapping[str, Sequence[Any]]) -> DifficultyReport:
    """Keep ``0 < p < 1``: every prompt with at least one success and one failure."""
    return difficulty_window(correctness, STRICT.low, STRICT.high, closed=STRICT.closed)
