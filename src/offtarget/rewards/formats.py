"""Format reward and format penalty.

``format``: 1 if the strict verifier recognised the completion as one of the task's formats
(``task.formats``, e.g. ``direct`` / ``reversed`` / ``steps``), else 0. An abstention is a
well-formed output and scores 1 unless ``abstain_ok=False``. With ``require_confidence=True``
the completion must also carry a parseable stated confidence (RLCR's format requirement).
Its diagnostics include the share of every format in the batch (``share_<format>``), the
signal that shows format collapse under RL (Echo Chamber, arXiv 2504.07912).

``format_penalty``: a non-negative quality penalty, the weighted sum of the violations
present (0 = clean). It is the per-rollout penalty GRPO-RoC ranks positives by
(rStar2-Agent, arXiv 2508.20722; see :mod:`offtarget.train.curation.roc`):

- ``malformed`` (weight 1.0): no format of the task parses: a missing answer, several
  answers, or text after the answer ("trailing garbage": the strict grammar must match the
  whole completion, so ``d 85 d 86`` and ``d 85 ok`` are malformed). A malformed completion
  scores this term only, since the other checks need a parse.
- ``steps_inconsistent`` (1.0): a steps-format completion whose steps are not the right ones
  (``verdict.steps_ok is False``), even when its final answer is right: the lucky positives
  RoC exists to drop.
- ``padding`` (0.25): whitespace before or after the answer, which the verifier forgives.
- ``missing_confidence`` (0.0): no parseable stated confidence (absent, non-numeric, outside
  [0, 1]); raise it when training calibration.

Used as a TRL reward it returns the penalty itself (positive): give it weight 0 to make it
available to RoC without touching the advantage, or a negative weight to penalise.

    >>> from offtarget.rewards import format_penalty_reward
    >>> format_penalty_reward()(["2+2="], ["d 4 "], answer=["4"])
    [0.25]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

from offtarget.rewards.base import Scored, VerdictReward, flag, resolve_task
from offtarget.rewards.registry import register_reward
from offtarget.tasks.problem import Problem, Task, Verdict


def _score_format(
    problem: Problem,
    text: str,
    verdict: Verdict,
    *,
    formats: tuple[str, ...],
    abstain_ok: bool,
    require_confidence: bool,
) -> Scored:
    ok = verdict.format in formats or (abstain_ok and verdict.format == "abstain")
    if require_confidence and verdict.confidence is None:
        ok = False
    diags: dict[str, float | None] = {"well_formed": flag(ok)}
    for fmt in (*formats, "abstain", "malformed"):
        diags[f"share_{fmt}"] = flag(verdict.format == fmt)
    return Scored(1.0 if ok else 0.0, diags)


@register_reward("format")
def format_reward(
    task: Task | str | None = None,
    *,
    abstain_ok: bool = True,
    require_confidence: bool = False,
    name: str = "format",
) -> VerdictReward:
    """1 if the completion is in one of the task's formats (or abstains, if ``abstain_ok``), else 0."""
    task = resolve_task(task)
    scorer = partial(
        _score_format,
        formats=tuple(task.formats),
        abstain_ok=abstain_ok,
        require_confidence=require_confidence,
    )
    return VerdictReward(name, scorer, task)


@dataclass(frozen=True)
class PenaltyWeights:
    """Weight of each format violation in :func:`format_penalty` (see the module docstring)."""

    malformed: float = 1.0
    """No task format parses (missing, repeated or trailing-garbage answers)."""
    steps_inconsistent: float = 1.0
    """Steps present but not the right steps (``verdict.steps_ok is False``)."""
    padding: float = 0.25
    """Leading or trailing whitespace around an otherwise well-formed completion."""
    missing_confidence: float = 0.0
    """No parseable stated confidence in [0, 1]."""


def format_violations(text: str, verdict: Verdict) -> dict[str, bool]:
    """Which violations of :class:`PenaltyWeights` a completion commits."""
    if verdict.format == "malformed":
        return {"malformed": True, "steps_inconsistent": False, "padding": False, "missing_confidence": False}
    return {
        "malformed": False,
        "steps_inconsistent": verdict.steps_ok is False,
        "padding": text != text.strip(),
        "missing_confidence": verdict.confidence is None,
    }


def format_penalty(text: str, verdict: Verdict, weights: PenaltyWeights = PenaltyWeights()) -> float:
    """Weighted sum of the violations present; 0.0 for a clean completion."""
    w = asdict(weights)
    return float(sum(w[k] for k, hit in format_violations(text, verdict).items() if hit))


def _score_penalty(problem: Problem, text: str, verdict: Verdict, *, weights: PenaltyWeights) -> Scored:
    violations = format_violations(text, verdict)
    return Scored(format_penalty(text, verdict, weights), {k: flag(v) for k, v in violations.items()})


@register_reward("format_penalty")
def format_penalty_reward(
    task: Task | str | None = None,
    *,
    malformed: float = 1.0,
    steps_inconsistent: float = 1.0,
    padding: float = 0.25,
    missing_confidence: float = 0.0,
    name: str = "format_penalty",
) -> VerdictReward:
    """The format penalty (non-negative) per completion; weight 0 for RoC, negative to penalise."""
    weights = PenaltyWeights(malformed, steps_inconsistent, padding, missing_confidence)
    return VerdictReward(name, partial(_score_penalty, weights=weights), task)
