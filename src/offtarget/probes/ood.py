"""OOD transfer: did the gain in distribution carry over to shifted inputs?

Post-training can raise in-distribution accuracy while out-of-distribution accuracy stays put
or falls (SFT memorizes, RL generalizes — or not: Chu et al. 2025, arXiv 2501.17161). On
answerable problems, with accuracy = mean correctness over samples:

- ``ood_gap`` (metric, per checkpoint and OOD group) — accuracy on ``test`` minus accuracy on
  the OOD group. Descriptive: accuracy itself is flagged by the accuracy probe; the gap is the
  view across splits.
- **transfer ratio** (``extras["transfer"]``, per tuned checkpoint and OOD group) —
  ΔOOD / ΔID, the change in OOD accuracy over the change in ID accuracy against the reference.
  1 means the gain transferred in full, 0 not at all, < 0 that OOD got worse. Its interval is
  the percentile bootstrap over problems, ID and OOD problems resampled separately with the
  same draws for both checkpoints (paired). When ΔID's own 95% interval contains 0 there is
  no ID change to transfer and the ratio is ``None`` with that reason.

Plot ``id_ood``: ``{checkpoint: {"test": {value, low, high}, "ood": {...}}}``.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes ood
"""

from __future__ import annotations

import numpy as np

from offtarget.probes.base import ComparisonRow, MetricRow, ProbeResult, groups
from offtarget.probes.registry import register_probe
from offtarget.stats import bootstrap_mean
from offtarget.stats.bootstrap import draw_problems

ID_SPLIT, OOD_SPLIT = "test", "ood"
MIN_PROBLEMS = 5


def _interval(reps: np.ndarray) -> tuple[float | None, float | None]:
    ok = reps[np.isfinite(reps)]
    if ok.size < 0.95 * reps.size or not ok.size:
        return None, None
    lo, hi = np.quantile(ok, [0.025, 0.975])
    return float(lo), float(hi)


def transfer_ratio(ref_id, tuned_id, ref_ood, tuned_ood, n_resamples: int = 1000, seed: int = 0) -> dict:
    """ΔOOD/ΔID from per-problem accuracies (one value per problem) with a paired bootstrap.

    Returns ``{ratio, low, high, d_id: [value, low, high], d_ood: [...], reason}``.
    """
    d_id_p, d_ood_p = tuned_id - ref_id, tuned_ood - ref_ood
    di = draw_problems(len(d_id_p), n_resamples, seed)
    do = draw_problems(len(d_ood_p), n_resamples, seed + 1)
    rid, rood = d_id_p[di].mean(1), d_ood_p[do].mean(1)
    d_id, d_ood = float(d_id_p.mean()), float(d_ood_p.mean())
    out = {"d_id": [d_id, *_interval(rid)], "d_ood": [d_ood, *_interval(rood)],
           "ratio": None, "low": None, "high": None, "reason": None}
    lo, hi = out["d_id"][1:]
    if lo is None or lo <= 0.0 <= hi:
        out["reason"] = f"ΔID = {d_id:+.3f}, its 95% interval contains 0: no ID change to transfer"
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = np.where(rid != 0, rood / np.where(rid != 0, rid, 1), np.nan)
    out["ratio"] = d_ood / d_id
    out["low"], out["high"] = _interval(reps)
    if out["low"] is None:
        out["reason"] = "ratio undefined on too many resamples; interval withheld"
    return out


def _gap_stats(id_acc: np.ndarray, ood_acc: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap replicates of mean(ID) − mean(OOD), the two splits resampled separately."""
    di = draw_problems(len(id_acc), n_resamples, seed)
    do = draw_problems(len(ood_acc), n_resamples, seed + 1)
    return id_acc[di].mean(1) - ood_acc[do].mean(1)


@register_probe("ood")
def run(ctx) -> ProbeResult:
    problems = ctx.evidences[ctx.reference].problems
    answerable = np.array([not p.should_abstain for p in problems])
    grp = {g: idx[answerable[idx]] for g, idx in groups(problems).items()}
    ood_groups = [g for g in grp if g.split("/")[0] == OOD_SPLIT and len(grp[g]) >= MIN_PROBLEMS]
    result = ProbeResult("ood", "in-distribution vs shifted accuracy and the transfer ratio",
                         "Chu et al. 2025 (arXiv 2501.17161); transfer ratio ΔOOD/ΔID")
    if len(grp.get(ID_SPLIT, [])) < MIN_PROBLEMS or not ood_groups:
        result.notes.append(f"needs answerable problems in both '{ID_SPLIT}' and '{OOD_SPLIT}' splits; skipped")
        return result
    B, seed = ctx.settings.bootstrap, ctx.settings.seed
    acc = {name: ev.correct.mean(1) for name, ev in ctx.evidences.items()}
    id_idx = grp[ID_SPLIT]
    plot = {}
    for name in ctx.evidences:
        plot[name] = {}
        for split in (ID_SPLIT, OOD_SPLIT):
            e = bootstrap_mean(acc[name][grp[split]], n_resamples=B, seed=seed)
            plot[name][split] = {"value": e.value, "low": e.low, "high": e.high}
    transfer: dict[str, dict] = {}
    ref = ctx.reference
    for g in ood_groups:
        o_idx = grp[g]
        reps = {name: _gap_stats(acc[name][id_idx], acc[name][o_idx], B, seed) for name in ctx.evidences}
        value = {name: float(acc[name][id_idx].mean() - acc[name][o_idx].mean()) for name in ctx.evidences}
        for name in ctx.evidences:
            lo, hi = _interval(reps[name])
            result.metrics.append(MetricRow("ood", "ood_gap", name, g, value[name], lo, hi, len(o_idx), None, False))
            if name == ref:
                continue
            lo, hi = _interval(reps[name] - reps[ref])
            result.comparisons.append(ComparisonRow(
                "ood", "ood_gap", g, name, ref, value[ref], value[name], value[name] - value[ref], lo, hi,
                None, len(o_idx), "paired_bootstrap", None, False))
            t = transfer_ratio(acc[ref][id_idx], acc[name][id_idx], acc[ref][o_idx], acc[name][o_idx], B, seed)
            transfer.setdefault(name, {})[g] = t
            if g == OOD_SPLIT:
                result.notes.append(
                    f"{name} vs {ref} on {g}: transfer ratio "
                    + (f"{t['ratio']:.2f}" if t["ratio"] is not None else f"undefined ({t['reason']})"))
    result.plots = {"id_ood": plot}
    result.extras = {"transfer": transfer, "id_split": ID_SPLIT,
                     "definition": "ratio = (OOD acc tuned − ref) / (ID acc tuned − ref), answerable problems"}
    return result
