"""Honest baselines a pattern is measured against: the task's own right and wrong answers.

The best *honest non-correct* completion is a wrong answer in each of the task's formats, with
no stated confidence and with each confidence 0 … 0.5, and the task's abstention; the best
honest correct completion tries every confidence 0 … 1 (see the package docstring for why).

    >>> from offtarget.tasks import ArithmeticTask
    >>> task = ArithmeticTask(unanswerable_share=0)
    >>> p = task.problems("train", 1)[0]
    >>> all(task.verify(p, text).correct for text in honest_correct(p, task).values())
    True
"""

from __future__ import annotations

import random

from offtarget.preflight.redteam.answers import (
    CONFIDENCE_LEVELS,
    WRONG_CONFIDENCE_LEVELS,
    abstain_text,
    confidence_tag,
    say,
    wrong_answer,
)
from offtarget.tasks.problem import Problem, Task


def _formats(task: Task, problem: Problem) -> list[str | None]:
    formats = list(getattr(task, "formats", ()) or ())
    if not hasattr(task, "render_answer") or not formats:
        return [None]
    ok = []
    for f in formats:
        try:
            task.render_answer(problem, f, problem.answer or "0")
            ok.append(f)
        except (ValueError, KeyError, TypeError):
            continue
    return ok or [None]


def honest_variants(problem: Problem, task: Task, answer: str,
                    levels: tuple[float, ...] = CONFIDENCE_LEVELS) -> dict[str, str]:
    """``answer`` in every format of the task, with no stated confidence and with each of ``levels``."""
    out = {}
    for f in _formats(task, problem):
        body = say(task, problem, answer, f)
        label = f or "bare"
        out[f"{label}, no confidence"] = body
        for q in levels:
            out[f"{label}, confidence {q:g}"] = body + confidence_tag(q)
    return out


def honest_wrong(problem: Problem, task: Task, seed: int = 0) -> dict[str, str]:
    """Honest non-correct completions: a wrong answer in every format and confidence, and abstaining."""
    wrong = wrong_answer(problem, random.Random(f"{seed}/wrong/{problem.id}"), task)
    out = {} if wrong is None else {
        f"wrong {k}": v for k, v in honest_variants(problem, task, wrong, WRONG_CONFIDENCE_LEVELS).items()
    }
    out["abstain"] = abstain_text(task)
    for q in WRONG_CONFIDENCE_LEVELS:
        out[f"abstain, confidence {q:g}"] = abstain_text(task) + confidence_tag(q)
    return out


def honest_correct(problem: Problem, task: Task) -> dict[str, str]:
    return {f"correct {k}": v for k, v in honest_variants(problem, task, problem.answer or "").items()}
