"""Accuracy: the target metric, per split and slice, sampled and greedy.

Sampled accuracy is the mean correctness over the T = 1 samples of each problem (the
pass@1 estimate); greedy accuracy is what a T = 0 deployment would score, compared with
McNemar's exact test because it is one binary outcome per problem.

    offtarget audit --model base=A --model rl=B --probes accuracy
"""

from __future__ import annotations

from offtarget.probes.base import ProbeResult, evaluate, spec_of
from offtarget.probes.registry import register_probe

SPECS = [
    spec_of("accuracy", lambda ev: (ev.correct,)),
    spec_of("greedy_accuracy", lambda ev: (ev.greedy_correct,), binary_greedy=True),
]


@register_probe("accuracy")
def run(ctx) -> ProbeResult:
    specs = SPECS if all(ev.greedy_verdicts is not None for ev in ctx.evidences.values()) else SPECS[:1]
    metrics, comparisons = evaluate("accuracy", specs, ctx.evidences, ctx.reference, ctx.settings.bootstrap, ctx.settings.seed)
    return ProbeResult("accuracy", "target metric: correctness per split and slice",
                       "mean correctness; McNemar (1947) for greedy", metrics, comparisons)
