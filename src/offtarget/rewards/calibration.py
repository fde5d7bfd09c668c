"""Calibration rewards: RLCR (correctness + Brier) and the Brier term on its own.

RLCR (Damani et al., "Beyond Binary Rewards", arXiv 2507.16806) rewards a completion with
answer correctness ``c`` ∈ {0, 1} and stated confidence ``q`` ∈ [0, 1] by

    rlcr  = c − λ·(q − c)²          (λ = ``calibration_weight``, 1 in the paper)

a bounded proper scoring rule added to the binary reward, so the expected reward is maximised
by the most likely answer stated with its true probability of being right. The Brier term
alone, as in DESIGN.md, is

    brier = 1 − (q − c)²   ∈ [0, 1]

so that ``correctness + brier`` (weights 1 and λ) trains the same policy as ``rlcr`` with
``calibration_weight=λ``: the two differ by the constant λ, which GRPO's group baseline removes.

``c`` is the strict verdict (``verdict.correct``). An abstention is never correct, so its
stated confidence is scored against 0; an abstention that states no confidence claims nothing and
is scored as q = 0 (so ``rlcr = 0``, ``brier = 1``). This is not a hack: answering with honest
confidence p earns p² in expectation, more than abstaining for any p > 0; on unanswerable items
the two tie. (Scoring a bare abstention as the worst case, as an earlier version did, made the lab's
RLCR run unlearn abstention: recall 0.77 → 0.07.) Combine with ``ternary`` to *teach* abstention.

**Unparseable confidence** (absent, non-numeric such as ``<confidence>high</confidence>``, or
outside [0, 1] such as 1.3 or −0.2; the task's verifier returns ``confidence=None`` for all of
these) is scored as the worst case: ``(q − c)² = 1``, i.e. q is taken to be ``1 − c``, the
value that maximises the penalty. So ``rlcr = c − λ`` and ``brier = 0``. The reason: any milder
score makes omitting the tag a hack. If a missing q counted as, say, q = 0 (as in an early lab
prototype), a wrong answer without a tag would earn the best calibration score, and a policy
can learn to drop the tag whenever it is unsure. With the worst case, stating any q ∈ [0, 1] is
never worse than stating none.

Trap measured on the lab models: with TRL's default ``scale_rewards="group"`` the
Brier term makes every group's reward vary, so even all-correct groups get full-size
normalised advantages and stated q collapsed to 0.95; ``scale_rewards="batch"`` did not.

    >>> from offtarget.rewards import rlcr_reward, brier_reward
    >>> rlcr_reward()(["2+2="], ["d 4<confidence>0.8</confidence>"], answer=["4"])  # 1 - 0.2²
    [0.96]
    >>> brier_reward()(["2+2="], ["d 5<confidence>0.8</confidence>"], answer=["4"])  # 1 - 0.8²
    [0.36]
"""

from __future__ import annotations

import math
from functools import partial

from offtarget.rewards.base import Scored, VerdictReward, flag
from offtarget.rewards.registry import register_reward
from offtarget.tasks.problem import Problem, Task, Verdict


def squared_error(q: float | None, correct: bool) -> float:
    """``(q − c)²``, with an unparseable ``q`` (None, NaN, outside [0, 1]) scored as the worst case, 1."""
    c = 1.0 if correct else 0.0
    if q is None or math.isnan(q) or not 0.0 <= q <= 1.0:
        return 1.0
    return (q - c) ** 2


def _stated(verdict: Verdict) -> float | None:
    """The confidence scored: a bare abstention claims nothing, q = 0."""
    if verdict.abstained and verdict.confidence is None:
        return 0.0
    return verdict.confidence


def _diagnostics(verdict: Verdict) -> dict[str, float | None]:
    q = verdict.confidence
    return {
        "confidence": q,
        "confidence_missing": flag(q is None),
        "correct": flag(verdict.correct),
        "squared_error": squared_error(_stated(verdict), verdict.correct),
    }


def _score_rlcr(problem: Problem, text: str, verdict: Verdict, *, calibration_weight: float) -> Scored:
    c = 1.0 if verdict.correct else 0.0
    reward = c - calibration_weight * squared_error(_stated(verdict), verdict.correct)
    return Scored(round(reward, 12), _diagnostics(verdict))


def _score_brier(problem: Problem, text: str, verdict: Verdict) -> Scored:
    return Scored(round(1.0 - squared_error(_stated(verdict), verdict.correct), 12), _diagnostics(verdict))


@register_reward("rlcr")
def rlcr_reward(
    task: Task | str | None = None, *, calibration_weight: float = 1.0, name: str = "rlcr"
) -> VerdictReward:
    """RLCR reward ``c − λ(q − c)²`` (arXiv 2507.16806); unparseable confidence counts as ``(q − c)² = 1``."""
    return VerdictReward(name, partial(_score_rlcr, calibration_weight=calibration_weight), task)


@register_reward("brier")
def brier_reward(task: Task | str | None = None, *, name: str = "brier") -> VerdictReward:
    """Brier term ``1 − (q − c)²`` ∈ [0, 1], to add beside ``correctness`` with its own weight.

    Unparseable confidence scores 0 (the worst case).
    """
    return VerdictReward(name, _score_brier, task)
