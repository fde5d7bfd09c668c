"""Generic section plots (``bar``, ``hist``, ``line``) that preflight sections ask for by kind.

Each function draws one ``plot`` spec of a section on a given axes and says whether it drew
anything; :func:`offtarget.report.plots.draw_generic` sets up the figure around it.
"""

from __future__ import annotations

from offtarget.report.plot_style import CATEGORY_COLORS, as_float


def bar(ax, spec, colors) -> bool:
    labels, values = list(spec.get("labels") or []), list(spec.get("values") or [])
    if not values or len(labels) != len(values):
        return False
    vals = [as_float(v) for v in values]
    err = None
    if spec.get("low") and spec.get("high"):
        err = [[max(0.0, v - as_float(lo)) for v, lo in zip(vals, spec["low"])],
               [max(0.0, as_float(hi) - v) for v, hi in zip(vals, spec["high"])]]
    cols = [colors.get(str(lbl), CATEGORY_COLORS[0]) for lbl in labels]
    ax.bar([str(x) for x in labels], vals, color=cols, yerr=err, capsize=2, error_kw={"lw": 0.8})
    ax.tick_params(axis="x", rotation=30 if len(labels) > 4 else 0)
    return True


def hist(ax, spec, colors) -> bool:
    series = spec.get("series") or ({"": {"edges": spec.get("edges"), "counts": spec.get("counts")}}
                                    if spec.get("counts") else {})
    drawn = False
    for i, (name, h) in enumerate(series.items()):
        edges, counts = h.get("edges") or [], h.get("counts") or []
        if len(edges) != len(counts) + 1 or not counts:
            continue
        c = colors.get(name, CATEGORY_COLORS[i % len(CATEGORY_COLORS)])
        ax.stairs(counts, edges, color=c, fill=len(series) == 1, alpha=0.8 if len(series) == 1 else 1,
                  label=name or None)
        drawn = True
    if drawn and len(series) > 1:
        ax.legend()
    return drawn


def line(ax, spec, colors) -> bool:
    drawn = False
    for i, (name, pts) in enumerate((spec.get("series") or {}).items()):
        pts = [p for p in pts if p.get("y") is not None]
        if not pts:
            continue
        c = colors.get(name, CATEGORY_COLORS[i % len(CATEGORY_COLORS)])
        x = [p["x"] for p in pts]
        ax.plot(x, [p["y"] for p in pts], color=c, label=name, lw=1.4)
        if all(p.get("low") is not None and p.get("high") is not None for p in pts):
            ax.fill_between(x, [p["low"] for p in pts], [p["high"] for p in pts], color=c, alpha=0.18, lw=0)
        drawn = True
    if drawn:
        ax.legend()
    return drawn


GENERIC = {"bar": bar, "hist": hist, "line": line}
