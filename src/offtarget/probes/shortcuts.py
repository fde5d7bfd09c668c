"""Shortcuts: degenerate behaviour that a reward can teach instead of the skill.

On nearly impossible prompts, group-relative RLVR treats rare lucky successes as high-advantage
trajectories and reinforces degenerate shortcuts — answer repetition, skipped computation —
that then contaminate skills the model had (the finding "Do overly hard RLVR samples actually
harm model capabilities?", reported in syntheses of RL-after-SFT failure modes; on reasoning that does not carry
the answer, Lanham et al. 2023, arXiv 2307.13702). Each metric is over the pooled samples (or
the problems) of a group:

- ``repeated_wrong_answer_rate`` — share of answerable problems whose most frequent *wrong*
  parsed answer covers at least half of the problem's samples (and at least 2 of them): the
  model has locked onto one wrong answer. Lower is better. Needs ≥ 2 samples per problem.
- ``computation_skipped_rate`` — among samples in a format with intermediate steps (verdicts
  with ``steps_ok`` not ``None``; the arithmetic ``s`` format), the share that state an answer
  whose steps are missing or inconsistent with the problem (``steps_ok`` False): the answer did
  not come from the shown computation. Answerable problems; lower is better. Undefined for
  tasks that report no step check.
- ``mean_completion_tokens`` — mean completion length in generated tokens (end-of-sequence
  included). Descriptive.
- ``short_completion_rate`` — share of samples on answerable problems no longer than half the
  reference checkpoint's median completion length there (at least 1 token): length collapse
  measured against the reference's own typical length. Lower is better.
- ``truncation_rate`` — share of samples stopped by ``max_new_tokens`` (finish reason
  ``length``): rambling or loops. Lower is better.

An answer repeated *inside* one completion is not counted here: under a strict grammar it is
malformed output (``malformed_share`` of the formats probe), and counting digit runs would
confuse step columns with answers.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes shortcuts
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from offtarget.probes.base import MetricSpec, ProbeResult, evaluate, spec_of
from offtarget.probes.registry import register_probe


def repeated_wrong(verdicts_row) -> float:
    """1 if the modal wrong answer covers ≥ half the samples (and ≥ 2), else 0."""
    wrong = Counter(v.answer for v in verdicts_row if v.answer is not None and not v.correct and not v.abstained)
    top = max(wrong.values(), default=0)
    return float(top >= 2 and 2 * top >= len(verdicts_row))


def _steps(ev) -> tuple[np.ndarray, np.ndarray]:
    """(skipped, step-format) per sample: steps_ok False with an answer / steps_ok not None."""
    checked = np.array([[v.steps_ok is not None for v in row] for row in ev.verdicts], dtype=float)
    skipped = np.array([[v.steps_ok is False and v.answer is not None for v in row] for row in ev.verdicts],
                       dtype=float)
    return skipped, checked


def short_threshold(ev) -> float:
    """Half the median completion length on answerable problems (at least 1 token)."""
    answerable = np.array([not p.should_abstain for p in ev.problems])
    lengths = ev.lengths[answerable] if answerable.any() else ev.lengths
    return max(1.0, 0.5 * float(np.median(lengths))) if lengths.size else 1.0


def specs(threshold: float) -> list[MetricSpec]:
    return [
        spec_of("repeated_wrong_answer_rate", lambda ev: (np.array([repeated_wrong(r) for r in ev.verdicts]),)),
        spec_of("computation_skipped_rate", _steps),
        spec_of("mean_completion_tokens", lambda ev: (ev.lengths,), rows="all", token_level=True),
        spec_of("short_completion_rate", lambda ev: ((ev.lengths <= threshold).astype(float),),
                description=f"completions of at most {threshold:g} tokens", token_level=True),
        spec_of("truncation_rate", lambda ev: (ev.truncated,), rows="all"),
    ]


@register_probe("shortcuts")
def run(ctx) -> ProbeResult:
    ref = ctx.evidences[ctx.reference]
    threshold = short_threshold(ref)
    all_specs = specs(threshold)
    notes = [f"short completion: at most {threshold:g} tokens (half the reference's median on answerable problems)"]
    if min(ev.n_samples for ev in ctx.evidences.values()) < 2:
        all_specs = [s for s in all_specs if s.name != "repeated_wrong_answer_rate"]
        notes.append("one sample per problem: repeated_wrong_answer_rate skipped")
    if not any(v.steps_ok is not None for ev in ctx.evidences.values() for row in ev.verdicts for v in row):
        all_specs = [s for s in all_specs if s.name != "computation_skipped_rate"]
        notes.append("no sample in a format with checked steps: computation_skipped_rate skipped")
    metrics, comparisons = evaluate("shortcuts", all_specs, ctx.evidences, ctx.reference,
                                    ctx.settings.bootstrap, ctx.settings.seed)
    return ProbeResult(
        "shortcuts", "degenerate behaviour: repeated answers, skipped computation, short or truncated output",
        "'Do overly hard RLVR samples actually harm model capabilities?'; Lanham et al. 2023 (arXiv 2307.13702)",
        metrics, comparisons, extras={"short_threshold_tokens": threshold}, notes=notes,
    )
