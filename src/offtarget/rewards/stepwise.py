"""Step-wise similarity to an expert solution (SRL, Deng et al., arXiv 2510.25992).

SRL rewards each step of a rollout by its sequence similarity to the expert's step,
``2M / T`` as computed by :class:`difflib.SequenceMatcher` (M matched elements, T the total
length of both sequences), and −1 when the output does not follow the format. The signal is
dense: a rollout with the right carries and a wrong final digit still earns most of it, so
groups where every answer is wrong still carry a gradient.

Here the "actions" are the step tokens of the arithmetic steps format: one ``<carry><digit>``
token per column, least significant first, followed by ``=<answer>``. For ``27+58=``::

    reference   15 08 =85
    s 15 08 = 85   -> tokens [15, 08, =85]  -> 2·3/6 = 1.0
    s 15 18 = 95   -> tokens [15, 18, =95]  -> 2·1/6 ≈ 0.333
    d 85           -> tokens [=85]          -> 2·1/4 = 0.5   (right answer, no steps)
    ?              -> tokens []             -> 0.0
    x              -> malformed             -> −1.0 (``malformed``)

``mode="recall"`` scores ``M / len(reference)`` instead: the share of reference tokens
reproduced in order. It does not penalise extra steps, so prefer the default ``"ratio"``
unless extra steps are harmless. Problems without a reference solution (unanswerable items,
or rows without operands in ``metadata``) get ``None``: the reward does not apply there, and
TRL ignores it for those rows (they are whole groups, so no group baseline is biased).

Other tasks plug in two functions: ``reference_steps(problem) -> list[str] | None`` and
``completion_steps(problem, text, verdict) -> list[str] | None`` (``None`` = malformed).

    >>> from offtarget.rewards import stepwise_reward
    >>> stepwise_reward()(["27+58="], ["s 15 18 = 95"], answer=["85"], metadata=['{"a": 27, "b": 58}'])
    [0.333333333333]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from functools import partial

from offtarget.errors import OfftargetError
from offtarget.rewards.base import Scored, VerdictReward
from offtarget.rewards.registry import register_reward
from offtarget.tasks.arithmetic import carries
from offtarget.tasks.problem import Problem, Task, Verdict

_STEPS = re.compile(r"s (?P<cols>(?:\d\d ?)+)=")


def step_similarity(reference: Sequence[str], steps: Sequence[str], mode: str = "ratio") -> float:
    """Similarity of ``steps`` to ``reference``: ``2M/T`` (``ratio``) or ``M/len(reference)`` (``recall``).

    M is the number of tokens in :class:`difflib.SequenceMatcher`'s matching blocks (tokens
    reproduced in order). Two empty sequences are identical (1.0).
    """
    if mode not in ("ratio", "recall"):
        raise ValueError(f"unknown mode {mode!r}; choose 'ratio' or 'recall'")
    if not reference and not steps:
        return 1.0
    matcher = SequenceMatcher(None, list(reference), list(steps), autojunk=False)
    if mode == "ratio":
        return matcher.ratio()
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / len(reference) if reference else 0.0


def arithmetic_reference_steps(problem: Problem, include_answer: bool = True) -> list[str] | None:
    """The expert solution of an arithmetic problem as step tokens, or ``None`` without operands."""
    if problem.should_abstain or problem.answer is None or "a" not in problem.metadata:
        return None
    a, b = int(problem.metadata["a"]), int(problem.metadata["b"])
    tokens = [f"{c}{d}" for c, d in carries(a, b)]
    return tokens + [f"={problem.answer}"] if include_answer else tokens


def arithmetic_completion_steps(
    problem: Problem, text: str, verdict: Verdict, include_answer: bool = True
) -> list[str] | None:
    """Step tokens of an arithmetic completion: columns (steps format) then ``=<answer>``.

    ``None`` if malformed; ``[]`` for an abstention; ``[=<answer>]`` for direct/reversed answers.
    Columns are split on whitespace, as the strict verifier does (``s 1508 = 85`` is one token).
    """
    if verdict.format == "malformed":
        return None
    if verdict.abstained or verdict.answer is None:
        return []
    tokens: list[str] = []
    if verdict.format == "steps":
        m = _STEPS.match(text.strip())
        if m is not None:
            tokens = m.group("cols").split()
    return tokens + [f"={verdict.answer}"] if include_answer else tokens


def _score_stepwise(
    problem: Problem,
    text: str,
    verdict: Verdict,
    *,
    reference_steps: Callable[[Problem], list[str] | None],
    completion_steps: Callable[[Problem, str, Verdict], list[str] | None],
    mode: str,
    malformed: float,
) -> Scored:
    reference = reference_steps(problem)
    if reference is None:
        return Scored(None, {"similarity": None, "malformed": None})
    steps = completion_steps(problem, text, verdict)
    if steps is None:
        return Scored(malformed, {"similarity": None, "malformed": 1.0})
    similarity = round(step_similarity(reference, steps, mode), 12)
    return Scored(similarity, {"similarity": similarity, "malformed": 0.0})


@register_reward("stepwise")
def stepwise_reward(
    task: Task | str | None = None,
    *,
    mode: str = "ratio",
    malformed: float = -1.0,
    include_answer: bool = True,
    reference_steps: Callable[[Problem], list[str] | None] | None = None,
    completion_steps: Callable[[Problem, str, Verdict], list[str] | None] | None = None,
    name: str = "stepwise",
) -> VerdictReward:
    """SRL-style step similarity to the reference solution; ``malformed`` (−1) when nothing parses.

    ``include_answer`` appends the final answer as the last step token (arithmetic defaults only).
    """
    if mode not in ("ratio", "recall"):
        raise OfftargetError(f"stepwise reward: unknown mode {mode!r}; choose 'ratio' or 'recall'")
    scorer = partial(
        _score_stepwise,
        reference_steps=reference_steps or partial(arithmetic_reference_steps, include_answer=include_answer),
        completion_steps=completion_steps
        or partial(arithmetic_completion_steps, include_answer=include_answer),
        mode=mode,
        malformed=malformed,
    )
    return VerdictReward(name, scorer, task)
