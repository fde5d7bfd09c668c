"""Which of a model's own samples simple self-distillation trains on: pure rules over verdicts.

Simple self-distillation (SSD; Zhang et al. 2026, "Embarrassingly Simple Self-Distillation
Improves Code Generation", arXiv 2604.01193) samples solutions from the model and fine-tunes it
on them with plain SFT. The paper trains on the *raw* samples, with no verifier (``keep="all"``);
keeping only what the task's verifier accepts (``keep="correct"``, offtarget's default) is the
rejection-sampling variant (STaR, Zelikman et al. 2022; RFT, Yuan et al. 2023, arXiv 2308.01825),
which a task with a strict verifier can afford. The rules:

=====================  =====================================================================
``all``                every sample (the paper's SSD)
``correct``            the verifier says correct
``correct-formatted``  correct, not ``malformed``, steps consistent where the format has steps,
                       and, when ``formats`` is given, in one of those formats
``majority``           the sample's parsed answer is the problem's strict plurality answer among
                       its samples (label-free, self-consistency; a tie keeps nothing)
``shortest-correct``   per problem, the one correct sample with the fewest tokens (first on ties)
=====================  =====================================================================

Truncated samples (``finish_reason == "length"``) are dropped under every rule unless
``keep_truncated``: TRL appends EOS to each completion, so the model would learn to stop
mid-answer.

    >>> recs = [SampleRecord("p", 0, 5, "stop", True, "85", "direct"),
    ...         SampleRecord("p", 1, 3, "stop", True, "85", "direct"),
    ...         SampleRecord("p", 2, 4, "stop", False, "84", "direct"),
    ...         SampleRecord("p", 3, 32, "length", False, None, "malformed")]
    >>> [r.index for r in select_samples(recs, "correct")]
    [0, 1]
    >>> [r.index for r in select_samples(recs, "shortest-correct")]
    [1]
    >>> [r.index for r in select_samples(recs, "all")]
    [0, 1, 2]
    >>> [r.index for r in select_samples(recs, "majority")]
    [0, 1]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from offtarget.errors import OfftargetError

KEEP_RULES = ("all", "correct", "correct-formatted", "majority", "shortest-correct")


@dataclass(frozen=True)
class SampleRecord:
    """What the rules read about one sample: its place, its length, and the verifier's verdict."""

    problem_id: str
    index: int
    tokens: int
    finish_reason: str
    correct: bool
    answer: str | None
    """The parsed final answer (``None``: none parsed, or an abstention)."""
    format: str
    steps_ok: bool | None = None


def _plurality(answers: list[str]) -> str | None:
    """The most common answer if strictly more common than every other, else ``None``."""
    top = Counter(answers).most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def select_samples(records: Sequence[SampleRecord], keep: str = "correct", *, formats: Sequence[str] = (),
                   keep_truncated: bool = False) -> list[SampleRecord]:
    """The records ``keep`` accepts, in input order (see the module docstring for each rule)."""
    if keep not in KEEP_RULES:
        raise OfftargetError(f"--keep {keep!r}: choose one of {', '.join(KEEP_RULES)}")
    pool = [r for r in records if keep_truncated or r.finish_reason != "length"]
    if keep == "all":
        return pool
    if keep == "correct":
        return [r for r in pool if r.correct]
    if keep == "correct-formatted":
        return [r for r in pool if r.correct and r.format != "malformed" and r.steps_ok is not False
                and (not formats or r.format in formats)]
    by_problem: dict[str, list[SampleRecord]] = defaultdict(list)
    for r in pool:
        by_problem[r.problem_id].append(r)
    chosen: set[tuple[str, int]] = set()
    for pid, rs in by_problem.items():
        if keep == "majority":
            top = _plurality([r.answer for r in rs if r.answer is not None])
            chosen |= {(pid, r.index) for r in rs if top is not None and r.answer == top}
        else:  # shortest-correct
            correct = [r for r in rs if r.correct]
            if correct:
                best = min(correct, key=lambda r: (r.tokens, r.index))
                chosen.add((pid, best.index))
    return [r for r in pool if (r.problem_id, r.index) in chosen]


def selection_stats(records: Sequence[SampleRecord], kept: Sequence[SampleRecord]) -> dict[str, Any]:
    """Counts for ``ssd_stats.json``: problems, samples, kept, kept share, per-problem coverage.

    ``coverage`` is the share of problems with at least one kept sample; ``kept_per_problem``
    maps a count k to the number of problems with exactly k kept samples.

    >>> recs = [SampleRecord("a", 0, 3, "stop", True, "1", "direct"),
    ...         SampleRecord("a", 1, 3, "stop", False, "2", "direct"),
    ...         SampleRecord("b", 0, 3, "stop", False, "3", "direct")]
    >>> s = selection_stats(recs, recs[:1])
    >>> s["kept"], s["kept_share"], s["coverage"], s["kept_per_problem"]
    (1, 0.3333333333333333, 0.5, {'0': 1, '1': 1})
    """
    problems = list(dict.fromkeys(r.problem_id for r in records))
    per_kept = Counter(r.problem_id for r in kept)
    per_all = Counter(r.problem_id for r in records)
    per_correct = Counter(r.problem_id for r in records if r.correct)
    hist = Counter(per_kept.get(p, 0) for p in problems)
    return {
        "problems": len(problems),
        "samples": len(records),
        "kept": len(kept),
        "kept_share": len(kept) / len(records) if records else 0.0,
        "correct": sum(per_correct.values()),
        "correct_share": sum(per_correct.values()) / len(records) if records else 0.0,
        "truncated": sum(r.finish_reason == "length" for r in records),
        "problems_covered": sum(1 for p in problems if per_kept.get(p, 0) > 0),
        "coverage": sum(1 for p in problems if per_kept.get(p, 0) > 0) / len(problems) if problems else 0.0,
        "kept_per_problem": {str(k): hist[k] for k in sorted(hist)},
        "kept_formats": dict(sorted(Counter(r.format for r in kept).items())),
        "per_problem": [{"id": p, "samples": per_all[p], "correct": per_correct.get(p, 0),
                         "kept": per_kept.get(p, 0)} for p in problems],
    }


__all__ = ["KEEP_RULES", "SampleRecord", "select_samples", "selection_stats"]
