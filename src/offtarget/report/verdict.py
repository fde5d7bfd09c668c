"""The verdict a reviewer reads first: per tuned checkpoint, one sentence and at most five lines.

Line one is the target change (the in-distribution comparison on the metric training optimised).
The others are the worst off-target regressions, one per concern (calibration, abstention,
diversity, format, shortcuts, OOD), ranked by :data:`RANK_RULE`: the change divided by the
half-width of its 95% interval, i.e. how many half-widths the interval's centre lies from zero
on the bad side. A large shift measured precisely outranks a large shift measured loosely, and
the rule needs nothing but the interval every comparison already carries. The same order is used
by report.html, report.md and the terminal summary.

    >>> for v in verdicts(load_results("runs/demo")):
    ...     print(v["sentence"]); [print(" ", line["text"]) for line in v["lines"]]
"""

from __future__ import annotations

from offtarget.report.prescriptions import findings

RANK_RULE = ("ranked by |change| ÷ half-width of its 95% interval (how many half-widths the change lies "
             "from zero), worst regression per concern")
"""Stated in every report next to the ranked lines."""

CONCERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("calibration", ("calibration", "confidence_dropped")),
    ("abstention", ("abstention", "over_refusal")),
    ("diversity", ("diversity", "coverage", "consistency")),
    ("format", ("format_collapse", "malformed", "truncation")),
    ("shortcuts", ("shortcuts",)),
    ("OOD", ("ood_transfer", "drift")),
)
"""Concern → prescription keys (:data:`offtarget.report.prescriptions.RULES`); anything else is "other"."""

MAX_LINES = 5


def concern_of(key: str) -> str:
    for name, keys in CONCERNS:
        if key in keys:
            return name
    return "other"


def severity(diff: float | None, low: float | None, high: float | None) -> float:
    """|diff| / half-width of the interval; infinite for a zero-width interval, 0 when unknown."""
    if diff is None or low is None or high is None:
        return 0.0
    half = (high - low) / 2
    return float("inf") if half <= 0 else abs(diff) / half


def verdicts(results: dict) -> list[dict]:
    """Per tuned checkpoint: ``checkpoint``, ``reference``, ``sentence``, ``target`` (a line or None),
    ``lines`` (ranked concern lines, at most ``MAX_LINES - 1``), ``hidden`` (regressions not shown),
    ``routes`` (groups routed to it). A line: ``concern``, ``metric``, ``group``, ``diff``, ``low``,
    ``high``, ``severity``, ``more`` (other flags of that concern), ``text``."""
    ref = results.get("reference")
    names = [c["name"] for c in results.get("checkpoints") or [] if c["name"] != ref]
    found = [f for f in findings(results) if not f["target"]]
    routing = results.get("routing") or []
    out = []
    alpha = float((results.get("config") or {}).get("alpha") or 0.05)
    for name in names:
        target = _target_line(results, name, alpha)
        mine = sorted((f for f in found if f["checkpoint"] == name),
                      key=lambda f: -severity(f["diff"], f["low"], f["high"]))
        worst: dict[str, dict] = {}
        counts: dict[str, int] = {}
        for f in mine:
            c = concern_of(f["key"])
            counts[c] = counts.get(c, 0) + 1
            worst.setdefault(c, f)
        lines = []
        for c, f in list(worst.items())[:MAX_LINES - 1]:
            s = severity(f["diff"], f["low"], f["high"])
            more = counts[c] - 1
            lines.append({"concern": c, "metric": f["metric"], "group": f["group"], "diff": f["diff"],
                          "low": f["low"], "high": f["high"], "severity": s, "more": more,
                          "ratio": "∞" if s == float("inf") else f"{s:.1f}",
                          "reference_value": f["reference_value"], "value": f["value"],
                          "text": f"{c}: {f['metric']} on {f['group']} {_signed(f['diff'])} "
                                  f"[{_signed(f['low'])}, {_signed(f['high'])}]"
                                  + (f" (+{more} more {c} flag{'s' if more > 1 else ''})" if more else "")})
        shown = sum(1 + x["more"] for x in lines)
        routes = [r["group"] for r in routing if r.get("route_to") == name and "/" not in (r.get("group") or "")]
        out.append({"checkpoint": name, "reference": ref, "target": target, "lines": lines,
                    "hidden": len(mine) - shown, "n_regressions": len(mine), "routes": routes,
                    "sentence": _sentence(name, ref, target, lines, len(mine), routes,
                                          _headline_of(results, name))})
    return out


def _target_line(results: dict, name: str, alpha: float = 0.05) -> dict | None:
    """The in-distribution comparison on the first target metric (``test`` first, whole splits only)."""
    rows = [c for p in results.get("probes") or [] if not p.get("error") for c in p.get("comparisons") or []
            if c.get("checkpoint") == name and c.get("target") and "/" not in c.get("group", "")]
    if not rows:
        return None
    rows.sort(key=lambda c: (c["group"] != "test", c["metric"] != "accuracy"))
    c = rows[0]
    flag = c.get("flag") or "none"
    word = {"gain": "improved", "regression": "got worse"}.get(flag, "not significant after Holm correction")
    minimum = _minimum_problems(results, name)
    if flag == "none" and c.get("p_value") is None and c.get("p_floor") is not None and c["p_floor"] >= alpha:
        flag = "too small"  # even the most extreme outcome could not pass alpha (audit.compare.mark_too_small)
        word = f"nothing could be measured: {c.get('n')} shared problems, minimum {minimum or 'more'}"
    return {"metric": c["metric"], "group": c["group"], "diff": c.get("diff"), "low": c.get("low"),
            "high": c.get("high"), "flag": flag, "reference_value": c.get("reference_value"),
            "value": c.get("value"), "n": c.get("n"), "minimum": minimum or "more",
            "text": f"target: {c['metric']} on {c['group']} {_num(c.get('reference_value'))} → "
                    f"{_num(c.get('value'))}, {_signed(c.get('diff'))} [{_signed(c.get('low'))}, "
                    f"{_signed(c.get('high'))}] ({word})"}


def _headline_of(results: dict, name: str) -> dict:
    return next((h for h in results.get("headline") or [] if h.get("checkpoint") == name), {})


def _minimum_problems(results: dict, name: str) -> int | None:
    """The fewest problems a test needs at the report's alpha, as the headline records it."""
    return _headline_of(results, name).get("minimum_problems")


def _sentence(name: str, ref: str | None, target: dict | None, lines: list[dict], n: int, routes: list[str],
              head_row: dict | None = None) -> str:
    unmeasured = (head_row or {}).get("unmeasured_problems")
    if unmeasured is not None:
        return (f"{name} vs {ref}: nothing could be measured: {unmeasured} shared problems, minimum "
                f"{head_row.get('minimum_problems')}; audit more problems (keep {ref} meanwhile).")
    if target is None:
        head = f"{name}: no target comparison against {ref}"
    else:
        head = {"gain": f"{name} improves {target['metric']} on {target['group']} over {ref}",
                "regression": f"{name} is worse than {ref} on {target['metric']} ({target['group']})",
                "too small": f"{name} vs {ref}: nothing could be measured on {target['metric']} ({target['group']}): "
                             f"{target['n']} shared problems, minimum {target['minimum']}"}.get(
            target["flag"], f"{name} shows no significant {target['metric']} change on {target['group']} (Holm)")
    if lines:
        concerns = ", ".join(x["concern"] for x in lines)
        head += f", at a cost in {concerns} ({n} flagged off-target regression{'s' if n != 1 else ''})"
    else:
        head += ", with no flagged off-target regression"
    head += f"; ship it for {', '.join(routes)}." if routes else f"; route no split to it (keep {ref})."
    return head


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _signed(x) -> str:
    return "n/a" if x is None else f"{x:+.3f}"
