"""Abstention: does the model decline the items it should, and only those?

AbstentionBench (Kirichenko et al. 2025, arXiv 2506.09038) scores abstention as a detection
problem with *should-abstain* as the label: every sample is a prediction (abstained or not) on
a problem that should or should not be declined. Over the pooled samples of a group:

- ``abstention_precision`` = abstained on unanswerable / all abstentions (higher is better);
- ``abstention_recall`` = abstained on unanswerable / all samples of unanswerable problems
  (higher is better; the routing table's deciding metric for unanswerable slices);
- ``abstention_f1`` = 2·TP / (2·TP + FP + FN) (higher is better);
- ``over_answer_rate`` = share of samples of unanswerable problems that state a parsed answer
  (a hallucinated answer; malformed output is neither an answer nor an abstention, so this is
  not exactly 1 − recall). Lower is better;
- ``over_refusal_rate`` = share of samples of answerable problems that abstain. Lower is better;
- ``accuracy_given_attempted`` = correct / non-abstained samples on answerable problems, the
  SimpleQA "correct given attempted" (Wei et al. 2024, arXiv 2411.04368); malformed output is
  an attempt that failed. Higher is better;
- ``abstention_rate`` = share of all samples that abstain (descriptive).

Precision and F1 need both classes: they are reported only on groups holding answerable and
unanswerable problems (the splits), while recall and over-answer are reported on every group
with unanswerable problems (e.g. ``test/unanswerable``) and over-refusal and accuracy given
attempted on every group with answerable ones.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes abstention
"""

from __future__ import annotations

import numpy as np

from offtarget.metrics.abstention import f1, precision
from offtarget.probes.base import ProbeResult, evaluate, groups, spec_of
from offtarget.probes.registry import register_probe

BOTH_CLASSES = ("abstention_precision", "abstention_f1")
__all__ = ["f1", "precision", "run"]


def _should(ev) -> np.ndarray:
    s = np.array([p.should_abstain for p in ev.problems], dtype=float)
    return np.repeat(s[:, None], ev.n_samples, axis=1)


def _answered(ev) -> np.ndarray:
    if "answered" not in ev.arrays:
        ev.arrays["answered"] = np.array(
            [[v.answer is not None and not v.abstained for v in row] for row in ev.verdicts], dtype=float
        )
    return ev.arrays["answered"]


SPECS = [
    spec_of("abstention_precision", lambda ev: (ev.abstained, _should(ev)), rows="all"),
    spec_of("abstention_recall", lambda ev: (ev.abstained,), rows="unanswerable"),
    spec_of("abstention_f1", lambda ev: (ev.abstained, _should(ev)), rows="all"),
    spec_of("over_answer_rate", lambda ev: (_answered(ev),), rows="unanswerable"),
    spec_of("over_refusal_rate", lambda ev: (ev.abstained,), rows="answerable"),
    spec_of("accuracy_given_attempted", lambda ev: (ev.correct, 1.0 - ev.abstained), rows="answerable"),
    spec_of("abstention_rate", lambda ev: (ev.abstained,), rows="all"),
]


@register_probe("abstention")
def run(ctx) -> ProbeResult:
    problems = ctx.evidences[ctx.reference].problems
    metrics, comparisons = evaluate("abstention", SPECS, ctx.evidences, ctx.reference,
                                    ctx.settings.bootstrap, ctx.settings.seed)
    should = np.array([p.should_abstain for p in problems])
    one_class = {g for g, idx in groups(problems).items() if should[idx].all() or not should[idx].any()}
    metrics = [m for m in metrics if not (m.metric in BOTH_CLASSES and m.group in one_class)]
    comparisons = [c for c in comparisons if not (c.metric in BOTH_CLASSES and c.group in one_class)]
    notes = ["precision and F1 are reported only on groups with both answerable and unanswerable problems"]
    if not should.any():
        notes.append("no unanswerable problems: precision, recall, F1 and over-answer rate are undefined")
    for name, ev in ctx.evidences.items():
        if not ev.abstained.any():
            notes.append(f"{name} never abstains: its abstention precision is undefined")
    return ProbeResult(
        "abstention", "abstain on unanswerable items, answer the rest",
        "AbstentionBench, Kirichenko et al. 2025 (arXiv 2506.09038); SimpleQA, Wei et al. 2024 (arXiv 2411.04368)",
        metrics, comparisons, notes=notes,
    )
