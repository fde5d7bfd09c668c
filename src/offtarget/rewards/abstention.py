"""Ternary abstention reward (TruthRL, arXiv 2509.25760).

Binary correctness scores "I don't know" like a wrong answer, so RL teaches guessing. TruthRL
separates the three outcomes:

=====================================  ===========  =======================
outcome                                answerable   unanswerable (``should_abstain``)
=====================================  ===========  =======================
correct answer                         ``correct``  —
abstains                               ``abstain``  ``correct``
wrong answer (any answer where none)   ``wrong``    ``wrong``
malformed                              ``malformed`` (default: ``wrong``)
=====================================  ===========  =======================

with defaults ``correct = +1``, ``abstain = 0``, ``wrong = −1``. On an unanswerable item
abstaining *is* the correct response, so it earns ``correct``; any answer there is a
hallucination and earns ``wrong``. The weights must satisfy ``wrong ≤ abstain ≤ correct``
and ``wrong < correct`` (``abstain = wrong`` gives back the binary baseline TruthRL compares
against).

Diagnostics: ``correct`` / ``abstained`` / ``wrong`` rates, ``over_refusal`` (abstentions
among answerable rows) and ``over_answer`` (answers among unanswerable rows), each defined
only on the rows it concerns.

    >>> from offtarget.rewards import ternary_reward
    >>> ternary_reward()(["2+2=", "2+2=", "2+k="], ["d 4", "?", "?"], answer=["4", "4", None])
    [1.0, 0.0, 1.0]
"""

from __future__ import annotations

from functools import partial

from offtarget.errors import OfftargetError
from offtarget.rewards.base import Scored, VerdictReward, flag
from offtarget.rewards.registry import register_reward
from offtarget.tasks.problem import Problem, Task, Verdict


def _score_ternary(
    problem: Problem,
    text: str,
    verdict: Verdict,
    *,
    correct: float,
    abstain: float,
    wrong: float,
    malformed: float,
) -> Scored:
    unanswerable = bool(problem.should_abstain)
    if verdict.format == "malformed":
        reward, outcome = malformed, "wrong"
    elif verdict.abstained:
        reward, outcome = (correct, "correct") if unanswerable else (abstain, "abstained")
    elif verdict.correct and not unanswerable:
        reward, outcome = correct, "correct"
    else:
        reward, outcome = wrong, "wrong"
    return Scored(
        reward,
        {
            "correct": flag(outcome == "correct"),
            "abstained": flag(verdict.abstained),
            "wrong": flag(outcome == "wrong"),
            "over_refusal": None if unanswerable else flag(verdict.abstained),
            "over_answer": flag(not verdict.abstained) if unanswerable else None,
        },
    )


@register_reward("ternary")
def ternary_reward(
    task: Task | str | None = None,
    *,
    correct: float = 1.0,
    abstain: float = 0.0,
    wrong: float = -1.0,
    malformed: float | None = None,
    name: str = "ternary",
) -> VerdictReward:
    """TruthRL's ternary reward: ``correct`` / ``abstain`` / ``wrong``; abstaining is correct where unanswerable.

    ``malformed`` scores completions no format parses (``None``: the same as ``wrong``).
    """
    if not (wrong <= abstain <= correct and wrong < correct):
        raise OfftargetError(
            f"ternary reward needs wrong <= abstain <= correct and wrong < correct, "
            f"got correct={correct}, abstain={abstain}, wrong={wrong}"
        )
    m = wrong if malformed is None else malformed
    return VerdictReward(
        name, partial(_score_ternary, correct=correct, abstain=abstain, wrong=wrong, malformed=m), task
    )
