"""Training text for the lab's tiny models: the pretraining mix and the SFT set.

Pretraining teaches addition in three formats (direct 50%, reversed 25%, steps 25%, the mix
the lab's feasibility runs used) with no confidence and no abstention. The ``ood``
slices appear rarely (``rare_share`` each) so the base has a weak but real foothold there:
the long tail that RL, trained in distribution only, can quietly erode.

SFT then teaches what an instruct model adds: a stated confidence after every answer (the
base's measured accuracy for that format and carry count) and abstaining on unanswerable
prompts.

    >>> rows = pretrain_rows(ArithmeticTask(), 1000, seed=0)
    >>> rows[0]   # {'prompt': '27+58=', 'completion': 's 15 08 = 85'}
"""

from __future__ import annotations

import random

from offtarget.tasks.arithmetic import FORMATS, ArithmeticTask
from offtarget.tasks.problem import Problem

FORMAT_MIX = {"direct": 0.5, "reversed": 0.25, "steps": 0.25}


def _pick_format(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def pretrain_rows(task: ArithmeticTask, n: int, seed: int = 0, rare_share: float = 0.03,
                  mix: dict[str, float] = FORMAT_MIX) -> list[dict]:
    """``n`` prompt/completion pairs; answers only, no confidence, no abstention."""
    rng = random.Random(seed)
    pool = [p for p in task.problems("train", 6000, seed=seed) if not p.should_abstain]
    ood = [p for p in task.problems("ood_train", 4000, seed=seed + 1) if not p.should_abstain]
    rare = [p for p in ood if p.slice == "quadrant"], [p for p in ood if p.slice == "surface"]
    rows = []
    for _ in range(n):
        r = rng.random()
        if r < rare_share:
            p = rng.choice(rare[0])
        elif r < 2 * rare_share:
            p = rng.choice(rare[1])
        else:
            p = rng.choice(pool)
        rows.append({"prompt": p.prompt, "completion": task.render(p, _pick_format(rng, mix))})
    return rows


def confidence_digit(accuracy: float) -> int:
    """The digit d whose q = (d + 0.5)/10 is closest to ``accuracy``."""
    return min(9, max(0, int(accuracy * 10)))


def class_of(problem: Problem, fmt: str) -> str:
    return f"{fmt}/{problem.slice}"


def sft_rows(task: ArithmeticTask, n: int, class_accuracy: dict[str, float], seed: int = 0,
             mix: dict[str, float] = FORMAT_MIX, unanswerable_share: float = 0.1,
             defect: str | None = None) -> list[dict]:
    """``n`` SFT pairs with stated confidence and abstention.

    ``class_accuracy`` maps ``format/slice`` to the base's measured accuracy, which becomes the
    confidence target. ``defect`` plants a known flaw for the lab's amplification recipe:
    ``carry-error`` writes wrong answers (off by 10) on ``carries=2`` items, ``never-abstain``
    answers unanswerable prompts with a made-up number.
    """
    rng = random.Random(seed)
    answerable = [p for p in task.problems("train", 6000, seed=seed + 7) if not p.should_abstain]
    unanswerable = [p for p in task.problems("train", 2000, seed=seed + 8) if p.should_abstain]
    rows = []
    for _ in range(n):
        if rng.random() < unanswerable_share:
            p = rng.choice(unanswerable)
            if defect == "never-abstain":
                fmt = _pick_format(rng, mix)
                fake = Problem(p.id, p.prompt, str(rng.randrange(200)), metadata={"a": 0, "b": 0})
                rows.append({"prompt": p.prompt, "completion": task.render_answer(fake, "direct", fake.answer) + "<c>9"})
            else:
                rows.append({"prompt": p.prompt, "completion": task.render(p, "abstain")})
            continue
        p = rng.choice(answerable)
        fmt = _pick_format(rng, mix)
        q = class_accuracy.get(class_of(p, fmt), 0.5)
        answer = p.answer
        if defect == "carry-error" and p.slice == "carries=2":
            answer = str(int(p.answer) - 10)
        body = task.render_answer(p, fmt, answer)
        rows.append({"prompt": p.prompt, "completion": f"{body}<c>{confidence_digit(q)}"})
    return rows


__all__ = ["FORMATS", "FORMAT_MIX", "class_of", "confidence_digit", "pretrain_rows", "sft_rows"]
