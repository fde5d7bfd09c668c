"""One report's verdicts: Holm across every comparison, the headline, and the routing table.

A change is flagged only when its Holm-adjusted p is below alpha *and* its paired 95%
interval excludes zero on that side (:func:`offtarget.stats.flag`), so auditing a checkpoint
against itself flags nothing. The p-values are permutation p-values (exact at any group size,
:mod:`offtarget.stats.permutation`); a comparison whose design cannot give p below alpha at
all (e.g. a per-problem metric on 5 problems: 2/2^5 = 0.0625) is reported as too small to test
and left out of the Holm family. Every tested comparison gets its minimum detectable effect
at the family's Holm level (:func:`offtarget.stats.minimum_detectable_effect`).

    >>> finalize(probe_results, reference="base", alpha=0.05)
"""

from __future__ import annotations

from offtarget.metrics import vetoes_serving
from offtarget.probes.base import ComparisonRow, MetricSpec, ProbeResult
from offtarget.stats import flag, holm, minimum_detectable_effect, testable
from offtarget.stats.power import fewest_units
from offtarget.stats.refinement import resolve_all

TOO_SMALL = "too small to test"


def minimum_problems(alpha: float) -> int:
    """Fewest paired problems a comparison needs: a group is measured from ``MetricSpec.min_problems``
    problems on, and its most extreme outcome (2 / 2^n) must pass ``alpha`` (6 problems at 0.05)."""
    return max(MetricSpec.min_problems, fewest_units(alpha))


def nothing_measured(name: str, reference: str, n: int, alpha: float) -> str:
    """The sentence for a comparison where no test could reach ``alpha`` at all."""
    return (f"{name} vs {reference}: nothing could be measured: {n} shared problem{'s' if n != 1 else ''}, "
            f"minimum {minimum_problems(alpha)} (at alpha {alpha:g} even the most extreme outcome on {n} "
            f"problem{'s' if n != 1 else ''} gives p ≥ alpha); audit more problems.")


def mark_too_small(rows: list[ComparisonRow], alpha: float) -> None:
    """Drop from testing the comparisons whose smallest attainable p is not below alpha."""
    for c in rows:
        if c.p_value is not None and not testable(c.p_floor, alpha):
            c.reason = (f"{TOO_SMALL}: with {c.n} problems even the most extreme outcome gives "
                        f"p = {c.p_floor:.3g} ≥ alpha {alpha:g}")
            c.p_value = None


def refine_open(rows: list[ComparisonRow], alpha: float, workers: int | None = None) -> None:
    """More relabellings for the comparisons whose Holm decision in this family is still open
    (:mod:`offtarget.stats.refinement`, on ``workers`` threads); the others keep their first-stage p."""
    m = sum(c.p_value is not None for c in rows)
    todo = [c for c in rows if c.pending is not None and c.p_value is not None]
    for c, final in zip(todo, resolve_all([c.pending for c in todo], alpha, m, workers)):
        c.p_value, c.n_permutations = final.p_value, final.n_permutations
    for c in rows:
        c.pending = None


def apply_holm(results: list[ProbeResult], alpha: float, workers: int | None = None) -> None:
    """Adjust p-values across every probe, metric, group and checkpoint of the report; set each
    tested comparison's minimum detectable effect at the family's strictest Holm level."""
    rows: list[ComparisonRow] = [c for r in results for c in r.comparisons if c.higher_is_better is not None]
    mark_too_small(rows, alpha)
    refine_open(rows, alpha, workers)
    adjusted = holm([c.p_value for c in rows])
    m = sum(c.p_value is not None for c in rows)
    for c, a in zip(rows, adjusted):
        c.p_adjusted = a
        c.flag = flag(c.low, c.high, a, alpha, bool(c.higher_is_better))
        c.mde = minimum_detectable_effect(c.low, c.high, alpha, m) if c.p_value is not None else None


def headline(results: list[ProbeResult], checkpoints: list[str], reference: str,
             alpha: float = 0.05, shared_problems: int | None = None) -> list[dict]:
    """Per checkpoint: flagged target gains next to flagged off-target losses (or, when not one
    comparison could be tested, how many problems were shared and how many a test needs)."""
    out = []
    for name in checkpoints:
        if name == reference:
            continue
        rows = [c for r in results for c in r.comparisons if c.checkpoint == name]
        gains = [c for c in rows if c.flag == "gain"]
        losses = [c for c in rows if c.flag == "regression"]
        unmeasured = None if gains or losses else _unmeasured(rows, alpha, shared_problems)
        out.append({
            "checkpoint": name,
            "reference": reference,
            "target_gains": [_brief(c) for c in gains if c.target],
            "target_losses": [_brief(c) for c in losses if c.target],
            "offtarget_gains": [_brief(c) for c in gains if not c.target],
            "offtarget_losses": [_brief(c) for c in losses if not c.target],
            "tests": len(rows),
            "minimum_problems": minimum_problems(alpha),
            "unmeasured_problems": unmeasured,
            "summary": (nothing_measured(name, reference, unmeasured, alpha) if unmeasured is not None
                        else _sentence(name, reference, gains, losses)),
        })
    return out


def _brief(c: ComparisonRow) -> dict:
    return {"probe": c.probe, "metric": c.metric, "group": c.group, "diff": c.diff, "low": c.low,
            "high": c.high, "p_adjusted": c.p_adjusted, "reference_value": c.reference_value, "value": c.value}


def _unmeasured(rows: list[ComparisonRow], alpha: float, shared_problems: int | None) -> int | None:
    """The shared problem count when no comparison could be tested because there were too few, else None."""
    family = [c for c in rows if c.higher_is_better is not None]
    if any(c.p_value is not None for c in family):
        return None
    if shared_problems is not None:  # how many every checkpoint was compared on, when the caller knows
        return shared_problems if shared_problems < minimum_problems(alpha) else None
    too_small = [c.n for c in family if (c.reason or "").startswith(TOO_SMALL)]
    return max(too_small) if too_small else None


def _sentence(name: str, reference: str, gains: list[ComparisonRow], losses: list[ComparisonRow]) -> str:
    tg = sum(c.target for c in gains)
    ol = sum(not c.target for c in losses)
    tl = sum(c.target for c in losses)
    og = sum(not c.target for c in gains)
    if not gains and not losses:
        return f"{name} vs {reference}: no significant difference on any metric."
    parts = [f"{tg} target gain(s)", f"{tl} target loss(es)", f"{og} off-target gain(s)", f"{ol} off-target loss(es)"]
    verdict = ""
    if tg and ol:
        verdict = " It improved on target and regressed off target: check the losses before shipping."
    elif ol and not tg:
        verdict = " It regressed off target without a target gain."
    return f"{name} vs {reference}: " + ", ".join(parts) + "." + verdict


ROUTING_METRIC = {"answerable": "accuracy", "unanswerable": "abstention_recall"}
def _vetoes(c: ComparisonRow) -> bool:
    """A regression that blocks routing a group's traffic: one on a metric whose catalogue role is
    ``target`` or ``serving_veto`` (:mod:`offtarget.metrics`), what the user of that traffic would
    see (wrong, unhedged, unusable or miscalibrated answers). Entropy or diversity loss is reported
    but does not by itself make a checkpoint worse to serve."""
    return c.flag == "regression" and vetoes_serving(c.metric)


def routing(results: list[ProbeResult], checkpoints: list[str], reference: str) -> list[dict]:
    """For each group, which checkpoint to send its traffic to, and why.

    Rule: route to the checkpoint with the largest significant gain over the reference on
    the group's deciding metric (accuracy; abstention recall for unanswerable slices) that
    has no significant regression on a serving metric of that group (:func:`_vetoes`);
    otherwise keep the reference, which is the safe default when the evidence is not there.
    """
    comps = [c for r in results for c in r.comparisons]
    metric_rows = [m for r in results for m in r.metrics]
    group_names = list(dict.fromkeys(m.group for m in metric_rows))
    out = []
    for g in group_names:
        metric = ROUTING_METRIC["unanswerable"] if g.endswith("/unanswerable") else ROUTING_METRIC["answerable"]
        candidates = [c for c in comps if c.group == g and c.metric == metric]
        if not candidates:
            continue
        best, why = reference, None
        for c in sorted(candidates, key=lambda c: -(c.diff or 0)):
            regressions = [x for x in comps if x.group == g and x.checkpoint == c.checkpoint and _vetoes(x)]
            if c.flag == "gain" and not regressions:
                best = c.checkpoint
                why = f"{metric} {_fmt(c.diff)} [{_fmt(c.low)}, {_fmt(c.high)}] over {reference}, no serving regression here"
                break
        if why is None:
            top = max(candidates, key=lambda c: c.diff or 0)
            regress = [x for x in comps if x.group == g and _vetoes(x)]
            why = (f"no checkpoint beats {reference} significantly on {metric} without a serving regression here "
                   f"(best: {top.checkpoint} {_fmt(top.diff)} [{_fmt(top.low)}, {_fmt(top.high)}])")
            if regress:
                why += "; regressions: " + ", ".join(sorted({f"{x.checkpoint} {x.metric}" for x in regress})[:4])
        out.append({"group": g, "route_to": best, "metric": metric, "why": why})
    return out


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def finalize(results: list[ProbeResult], checkpoints: list[str], reference: str, alpha: float,
             shared_problems: int | None = None) -> dict:
    """Holm across the report, then the headline (``shared_problems``: how many problems every
    checkpoint was compared on) and the routing table."""
    apply_holm(results, alpha)
    return {"headline": headline(results, checkpoints, reference, alpha, shared_problems), "routing": routing(results, checkpoints, reference)}
