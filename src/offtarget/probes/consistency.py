"""Consistency: is one draw representative of what the model answers?

A T = 0 deployment sees one answer per prompt, an evaluation at T = 1 another; "temperature
zero is one draw" from a distribution whose mode can differ from the greedy path. Each sample's
*response* is its parsed answer, or ``abstain``; malformed output has none. Per problem, then
averaged over the problems of a group (all rows, unanswerable included):

- ``greedy_majority_agreement`` — 1 when the greedy response is a modal response of the
  sampled ones (ties: any of the tied modes counts), 0 otherwise (a malformed greedy output
  disagrees); problems whose samples are all malformed have no mode and are left out. Higher
  is better: the deployed answer is the one the model most often gives. Needs greedy decoding.
- ``modal_answer_share`` — count of the modal response / samples (malformed included in the
  denominator): the chance that one draw gives the model's usual answer, i.e. how reliable
  one draw is (cf. self-consistency, Wang et al. 2023, arXiv 2203.11171). Higher is better.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes consistency
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from offtarget.probes.base import ProbeResult, evaluate, spec_of
from offtarget.probes.diversity import nanmean_rows  # noqa: F401 - also orders diversity before consistency
from offtarget.probes.registry import register_probe

ABSTAIN = "<abstain>"


def response(verdict) -> str | None:
    """What a sample answered: the parsed answer, ``<abstain>``, or ``None`` (malformed)."""
    if verdict.abstained:
        return ABSTAIN
    return verdict.answer


def modes(verdicts_row) -> tuple[set, int]:
    counts = Counter(r for r in map(response, verdicts_row) if r is not None)
    top = max(counts.values(), default=0)
    return {r for r, c in counts.items() if c == top}, top


def agreement(ev) -> np.ndarray:
    out = np.full(len(ev.problems), np.nan)
    for i, (row, g) in enumerate(zip(ev.verdicts, ev.greedy_verdicts)):
        modal, top = modes(row)
        if top:
            out[i] = float(response(g) in modal)
    return out


def modal_share(ev) -> np.ndarray:
    return np.array([modes(row)[1] / len(row) for row in ev.verdicts])


SPECS = [
    spec_of("greedy_majority_agreement", lambda ev: (agreement(ev),), rows="all"),
    spec_of("modal_answer_share", lambda ev: (modal_share(ev),), rows="all"),
]


@register_probe("consistency")
def run(ctx) -> ProbeResult:
    specs, notes = SPECS, []
    if any(ev.greedy_verdicts is None for ev in ctx.evidences.values()):
        specs = SPECS[1:]
        notes.append("no greedy decode (--greedy off): greedy_majority_agreement skipped")
    metrics, comparisons = evaluate("consistency", specs, ctx.evidences, ctx.reference,
                                    ctx.settings.bootstrap, ctx.settings.seed)
    return ProbeResult(
        "consistency", "one draw vs the model's usual answer",
        "self-consistency, Wang et al. 2023 (arXiv 2203.11171)", metrics, comparisons, notes=notes,
    )
