"""pass@k for every k ≤ n, and the k at which the reference overtakes the tuned model.

Unbiased estimator 1 − C(n−c, k)/C(n, k) (Chen et al. 2021, arXiv 2107.03374). RL with
verifiable rewards raises pass@1 but can lower pass@k at large k below the base model
(Yue et al. 2025, arXiv 2504.13837): it narrows coverage rather than adding it. Reported
per split; the crossover k is where that narrowing becomes visible.

    offtarget audit --model base=A --model rl=B --probes passk --samples 64
"""

from __future__ import annotations

import numpy as np

from offtarget.probes.base import MetricSpec, ProbeResult, applicable, evaluate, groups, spec_of
from offtarget.probes.registry import register_probe
from offtarget.stats import bootstrap_mean, crossover_k, pass_at_k


def _ks(n: int) -> list[int]:
    """Reported k: powers of two up to n, and n itself."""
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) if k <= n]
    return ks if n in ks else ks + [n]


def _spec(k: int) -> MetricSpec:
    def extract(ev, k=k):
        c = ev.correct.sum(1)
        return (pass_at_k(ev.n_samples, c, k),)

    return spec_of(f"pass@{k}", extract, description=f"unbiased pass@{k}", target=(k == 1))


@register_probe("passk")
def run(ctx) -> ProbeResult:
    n = min(ev.n_samples for ev in ctx.evidences.values())
    ks = _ks(n)
    specs = [_spec(k) for k in ks if k > 1]
    metrics, comparisons = evaluate("passk", specs, ctx.evidences, ctx.reference, ctx.settings.bootstrap, ctx.settings.seed)
    problems = ctx.evidences[ctx.reference].problems
    answerable = applicable(problems, "answerable")
    curves: dict[str, dict[str, dict]] = {}
    crossovers: dict[str, dict[str, int | None]] = {}
    for group, idx in groups(problems).items():
        if "/" in group:
            continue
        idx = idx[answerable[idx]]
        if not len(idx):
            continue
        curves[group] = {}
        for name, ev in ctx.evidences.items():
            c = ev.correct[idx].sum(1)
            pts = []
            for k in range(1, n + 1):
                e = bootstrap_mean(pass_at_k(n, c, k), n_resamples=200, seed=ctx.settings.seed)
                pts.append({"k": k, "value": e.value, "low": e.low, "high": e.high})
            curves[group][name] = pts
        ref_curve = np.array([p["value"] for p in curves[group][ctx.reference]])
        crossovers[group] = {
            name: crossover_k(ref_curve, np.array([p["value"] for p in curves[group][name]]))
            for name in ctx.others
        }
    notes = [
        f"{group}: the reference overtakes {name} at k = {k}"
        for group, d in crossovers.items() for name, k in d.items() if k is not None and k > 1
    ]
    return ProbeResult(
        "passk", "coverage: unbiased pass@k for every k ≤ n",
        "Chen et al. 2021 (arXiv 2107.03374); Yue et al. 2025 (arXiv 2504.13837)",
        metrics, comparisons, plots={"passk_curves": curves}, extras={"crossover_k": crossovers, "n": n},
        notes=notes,
    )
