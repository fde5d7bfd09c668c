"""Inline SVG plots for the HTML report, one drawing function per ``plots`` key a probe emits.

A probe puts JSON-able data under ``ProbeResult.plots[KEY]``; this module turns each known
KEY into a small SVG (matplotlib's SVG backend, text kept as ``<text>`` with no embedded
fonts, XML header, DOCTYPE, namespaces and metadata stripped) that the report inlines, so
the HTML file works offline. Colours follow the checkpoint order of the report (the
reference is grey), the same in every plot and in the header's swatches.

To add a plot: write ``def draw(data, colors) -> Figure`` and decorate it with
``@plot("my_key", "Title", "one-line caption")``; the probe section then shows it whenever
``plots["my_key"]`` is present and non-empty. A key with no drawing function is listed, not
drawn. Preflight sections use the generic kinds ``bar``, ``hist`` and ``line`` (see
:func:`draw_generic`) or any registered key.

    >>> svg = draw("passk_curves", {"test": {"base": [{"k": 1, "value": .5, "low": .4, "high": .6}]}},
    ...            {"base": "#777777"})
    >>> svg.startswith("<svg")
    True
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from offtarget.registry import Registry

RC = {
    "svg.fonttype": "none",  # text stays text: no glyph paths, small files, browser fonts
    "text.parse_math": False,  # a '$' in a checkpoint or format name is not mathtext
    "font.family": "sans-serif",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 7,
    "legend.frameon": False,
}
REFERENCE_COLOR = "#7f7f7f"
TUNED_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
CATEGORY_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
                   "#9c755f", "#bab0ac")
MAX_PANELS = 12
"""Small multiples beyond this many groups are left out (the tables still hold every number)."""


@dataclass(frozen=True)
class PlotSpec:
    key: str
    title: str
    caption: str
    draw: Callable[[Any, dict[str, str]], Figure]


PLOTS: Registry[PlotSpec] = Registry("plot", "offtarget.plots")
"""Drawing functions by plot key (:class:`offtarget.registry.Registry`: a key is registered once;
third-party probes add theirs through the ``offtarget.plots`` entry-point group)."""


def plot(key: str, title: str, caption: str = ""):
    """Register a drawing function for ``plots[key]``."""

    def deco(fn):
        PLOTS.add(key, PlotSpec(key, title, caption, fn))
        return fn

    return deco


def checkpoint_colors(names: list[str], reference: str | None) -> dict[str, str]:
    """Reference grey, the others from a fixed palette in report order."""
    out, i = {}, 0
    for n in names:
        if n == reference:
            out[n] = REFERENCE_COLOR
        else:
            out[n] = TUNED_COLORS[i % len(TUNED_COLORS)]
            i += 1
    return out


def draw(key: str, data: Any, colors: dict[str, str], salt: str = "") -> str | None:
    """The SVG for ``plots[key]``, or None when there is no drawing function or nothing to draw."""
    spec = PLOTS.find(key)
    if spec is None or not data:
        return None
    with matplotlib.rc_context({**RC, "svg.hashsalt": f"{key}-{salt}"}):
        fig = spec.draw(data, _complete(colors, data))
        return to_svg(fig)


def to_svg(fig: Figure) -> str:
    """Serialise and close ``fig``; return a compact ``<svg>`` element for inlining in HTML5."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight",
                metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    # HTML5 puts inline <svg> in the SVG namespace itself; the xlink prefix becomes SVG 2 href.
    s = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", s, count=2)
    s = s.replace("xlink:href=", "href=")
    s = re.sub(r' id="[A-Za-z.]+_\d+"', "", s)  # structural ids repeat across plots; nothing refers to them
    s = re.sub(r' d="([^"]*)"', lambda m: ' d="' + " ".join(m.group(1).split()) + '"', s)
    s = re.sub(r"\n\s+", "\n", s)
    return s.strip()


# ----------------------------------------------------------------------------- helpers

def _complete(colors: dict[str, str], data: Any) -> dict[str, str]:
    """Colours for any checkpoint name the data mentions that the header did not list."""
    out = dict(colors)
    names: list[str] = []
    if isinstance(data, dict):
        for v in data.values():
            if isinstance(v, dict):
                names += [k for k in v if k not in out]
        names += [k for k in data if k not in out and isinstance(data[k], (list, dict))]
    extra = [n for n in dict.fromkeys(names)]
    for i, n in enumerate(extra):
        out.setdefault(n, TUNED_COLORS[(len(out) + i) % len(TUNED_COLORS)])
    return out


def _panels(n: int, ncols: int = 3, w: float = 3.2, h: float = 2.5, rows: int = 1):
    """A figure with ``n`` axes (per row of ``rows``) in a grid of at most ``ncols`` columns."""
    n = max(1, min(n, MAX_PANELS))
    cols = min(n, ncols)
    grid_rows = math.ceil(n / cols) * rows
    fig, axes = plt.subplots(grid_rows, cols, figsize=(w * cols, h * grid_rows), squeeze=False)
    flat = list(axes.flat)
    return fig, flat


def _hide_unused(axes, used: int) -> None:
    for ax in axes[used:]:
        ax.set_visible(False)


def _num(x) -> float:
    return float("nan") if x is None else float(x)


def _items(d: dict, limit: int = MAX_PANELS):
    return list(d.items())[:limit]


def _finish(fig: Figure, axes, handles_from=None) -> Figure:
    if handles_from is not None:
        handles, labels = handles_from.get_legend_handles_labels()
        if handles:
            fig.tight_layout()
            fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6),
                       bbox_to_anchor=(0.5, 1.0), frameon=False)
            return fig
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- probe plots

@plot("passk_curves", "pass@k", "unbiased pass@k with 95% bootstrap bands; where the reference's curve "
      "crosses above a tuned one, RL narrowed coverage")
def _passk(data: dict, colors: dict[str, str]) -> Figure:
    groups = _items(data)
    fig, axes = _panels(len(groups))
    for ax, (group, curves) in zip(axes, groups):
        kmax = 1
        for name, pts in curves.items():
            pts = [p for p in pts if p.get("value") is not None]
            if not pts:
                continue
            k = [p["k"] for p in pts]
            kmax = max(kmax, max(k))
            ax.plot(k, [p["value"] for p in pts], color=colors[name], label=name, lw=1.4)
            if all(p.get("low") is not None and p.get("high") is not None for p in pts):
                ax.fill_between(k, [p["low"] for p in pts], [p["high"] for p in pts], color=colors[name],
                                alpha=0.18, lw=0)
        if kmax >= 16:
            ax.set_xscale("log", base=2)
        ax.set_title(group)
        ax.set_xlabel("k")
        ax.set_ylabel("pass@k")
    _hide_unused(axes, len(groups))
    return _finish(fig, axes, axes[0])


def _reliability(data: dict, colors: dict[str, str]) -> Figure:
    groups = _items(data)
    fig, axes = _panels(len(groups), w=2.8, h=2.8)
    for ax, (group, per_ckpt) in zip(axes, groups):
        ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=0.8, ls="--")
        for name, bins in per_ckpt.items():
            pts = [b for b in bins if b.get("count") and b.get("mean_confidence") is not None
                   and b.get("accuracy") is not None]
            if not pts:
                continue
            total = sum(b["count"] for b in pts)
            ax.plot([b["mean_confidence"] for b in pts], [b["accuracy"] for b in pts], color=colors[name],
                    lw=1.2, label=name)
            ax.scatter([b["mean_confidence"] for b in pts], [b["accuracy"] for b in pts],
                       s=[8 + 120 * b["count"] / total for b in pts], color=colors[name], alpha=0.7, lw=0)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(group)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
    _hide_unused(axes, len(groups))
    return _finish(fig, axes, axes[0])


@plot("reliability", "reliability diagram (stated confidence)",
      "accuracy per confidence bin; the diagonal is perfect calibration, marker area ∝ samples in the bin")
def _reliability_verbalized(data, colors):
    return _reliability(data, colors)


@plot("reliability_likelihood", "reliability diagram (likelihood confidence)",
      "accuracy per bin of the answer's sequence probability; the diagonal is perfect calibration")
def _reliability_likelihood(data, colors):
    return _reliability(data, colors)


@plot("entropy_hist", "token entropy", "share of samples per mean-token-entropy bin; "
      "mass piling up near zero is entropy collapse")
def _entropy(data: dict, colors: dict[str, str]) -> Figure:
    groups = _items(data)
    fig, axes = _panels(len(groups))
    for ax, (group, per_ckpt) in zip(axes, groups):
        for name, h in per_ckpt.items():
            counts, edges = h.get("counts") or [], h.get("edges") or []
            if len(edges) != len(counts) + 1 or not counts:
                continue
            total = sum(counts) or 1
            ax.stairs([c / total for c in counts], edges, color=colors[name], label=name, lw=1.4)
        ax.set_title(group)
        ax.set_xlabel("mean token entropy (nats)")
        ax.set_ylabel("share of samples")
    _hide_unused(axes, len(groups))
    return _finish(fig, axes, axes[0])


@plot("format_shares", "output formats", "share of samples in each format; one bar per checkpoint")
def _formats(data: dict, colors: dict[str, str]) -> Figure:
    groups = _items(data)
    totals: dict[str, float] = {}
    for per_ckpt in data.values():
        for shares in per_ckpt.values():
            for f, v in shares.items():
                totals[f] = totals.get(f, 0.0) + (v or 0.0)
    formats = sorted(totals, key=lambda f: -totals[f])
    fcolor = {f: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, f in enumerate(formats)}
    n_ckpt = max(len(v) for v in data.values())
    fig, axes = _panels(len(groups), ncols=4, w=max(1.6, 0.55 * n_ckpt + 0.9), h=2.4)
    for ax, (group, per_ckpt) in zip(axes, groups):
        names = list(per_ckpt)
        bottom = [0.0] * len(names)
        for f in formats:
            vals = [per_ckpt[n].get(f) or 0.0 for n in names]
            ax.bar(names, vals, bottom=bottom, color=fcolor[f], label=f, width=0.7)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_ylim(0, 1)
        ax.set_title(group)
        ax.set_ylabel("share")
        ax.tick_params(axis="x", rotation=30)
    _hide_unused(axes, len(groups))
    return _finish(fig, axes, axes[0])


@plot("id_ood", "in distribution vs shifted", "accuracy per split with 95% intervals; "
      "a gain in distribution that vanishes OOD is template matching, not a procedure")
def _id_ood(data: dict, colors: dict[str, str]) -> Figure:
    names = list(data)
    splits = list(dict.fromkeys(s for v in data.values() for s in v))
    fig, ax = plt.subplots(figsize=(max(3.0, 1.1 * len(names) * len(splits) * 0.6 + 1.5), 2.6))
    width = 0.8 / max(1, len(splits))
    hatches = ("", "//", "..", "xx")
    for j, split in enumerate(splits):
        xs, vals, err, cols = [], [], [[], []], []
        for i, n in enumerate(names):
            e = data[n].get(split) or {}
            v = e.get("value")
            if v is None:
                continue
            xs.append(i - 0.4 + width * (j + 0.5))
            vals.append(v)
            err[0].append(max(0.0, v - _num(e.get("low", v))) if e.get("low") is not None else 0.0)
            err[1].append(max(0.0, _num(e.get("high", v)) - v) if e.get("high") is not None else 0.0)
            cols.append(colors.get(n, REFERENCE_COLOR))
        ax.bar(xs, vals, width=width * 0.95, color=cols, yerr=err, capsize=2, edgecolor="white",
               hatch=hatches[j % len(hatches)], ecolor="#333333", error_kw={"lw": 0.8})
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    keys = [Patch(facecolor="white", edgecolor="#555555", hatch=hatches[j % len(hatches)], label=split)
            for j, split in enumerate(splits)]
    ax.legend(handles=keys, ncol=len(splits), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def _tensor_kind(name: str) -> str:
    parts = [p for p in str(name).split(".") if p not in ("weight", "bias", "model", "layers") and not p.isdigit()]
    return parts[-1] if parts else str(name)


@plot("layer_change", "what the update touched", "per layer: relative Frobenius change of each weight "
      "(top) and the share of bf16 entries left exactly unchanged (bottom); tensors outside layers omitted")
def _layers(data: dict, colors: dict[str, str]) -> Figure:
    ckpts = _items(data)
    n = len(ckpts)
    fig, axes = plt.subplots(2, n, figsize=(3.4 * n, 4.4), squeeze=False, sharex="col")
    kinds = sorted({_tensor_kind(r.get("tensor", "")) for _, rows in ckpts for r in rows})
    kcolor = {k: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, k in enumerate(kinds)}
    for j, (name, rows) in enumerate(ckpts):
        rows = [r for r in rows if r.get("layer") is not None]
        for row_i, field, label in ((0, "relative_change", "relative change"), (1, "sparsity_bf16", "unchanged share (bf16)")):
            ax = axes[row_i][j]
            for k in kinds:
                pts = sorted((r["layer"], r[field]) for r in rows
                             if _tensor_kind(r.get("tensor", "")) == k and r.get(field) is not None)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1, color=kcolor[k], label=k)
            ax.set_ylabel(label)
            if row_i == 0:
                ax.set_title(f"{name}")
            else:
                ax.set_xlabel("layer")
                ax.set_ylim(0, 1)
    return _finish(fig, list(axes.flat), axes[0][0])


@plot("kl_by_group", "drift from the reference", "forward KL(π_ref ‖ π) per token on reference samples, "
      "with 95% intervals")
def _kl(data: dict, colors: dict[str, str]) -> Figure:
    groups = list(data)[: MAX_PANELS * 2]
    names = list(dict.fromkeys(n for g in groups for n in data[g]))
    # the reference's KL to itself is 0 by definition: a bar of nothing, left out
    names = [n for n in names if any((data[g].get(n) or {}).get("value") for g in groups)]
    fig, ax = plt.subplots(figsize=(4.8, 0.9 + 0.32 * len(groups) * max(1, len(names))))
    height = 0.8 / max(1, len(names))
    for j, n in enumerate(names):
        ys, vals, err = [], [], [[], []]
        for i, g in enumerate(groups):
            e = data[g].get(n) or {}
            v = e.get("value")
            if v is None:
                continue
            ys.append(i - 0.4 + height * (j + 0.5))
            vals.append(v)
            err[0].append(max(0.0, v - e["low"]) if e.get("low") is not None else 0.0)
            err[1].append(max(0.0, e["high"] - v) if e.get("high") is not None else 0.0)
        ax.barh(ys, vals, height=height * 0.95, color=colors[n], xerr=err, capsize=2, label=n,
                error_kw={"lw": 0.8, "ecolor": "#333333"})
    ax.set_yticks(range(len(groups)), groups)
    ax.invert_yaxis()
    ax.set_xlabel("KL per token (nats)")
    ax.legend()
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- generic (preflight)

def draw_generic(spec: dict, colors: dict[str, str] | None = None, salt: str = "") -> str | None:
    """An SVG for a section's ``plot``: a registered key, or a generic ``bar`` / ``hist`` / ``line``.

    - ``{"kind": "<registered key>", "data": ...}`` — any probe plot above.
    - ``{"kind": "bar", "labels": [...], "values": [...], "low": [...], "high": [...]}`` (low/high optional)
    - ``{"kind": "hist", "edges": [...], "counts": [...]}`` or ``{"kind": "hist", "series": {name: {edges, counts}}}``
    - ``{"kind": "line", "series": {name: [{"x", "y", "low"?, "high"?}]}}``

    Optional in all: ``title``, ``xlabel``, ``ylabel``. Returns None for an unknown kind or no data.
    """
    colors = colors or {}
    if not isinstance(spec, dict):
        return None
    kind = spec.get("kind")
    if kind in PLOTS:
        return draw(kind, spec.get("data"), colors, salt)
    fn = _GENERIC.get(kind)
    if fn is None:
        return None
    with matplotlib.rc_context({**RC, "svg.hashsalt": f"generic-{salt}"}):
        fig, ax = plt.subplots(figsize=(4.6, 2.6))
        if not fn(ax, spec, colors):
            plt.close(fig)
            return None
        ax.set_title(spec.get("title", ""))
        ax.set_xlabel(spec.get("xlabel", ""))
        ax.set_ylabel(spec.get("ylabel", ""))
        fig.tight_layout()
        return to_svg(fig)


def _g_bar(ax, spec, colors) -> bool:
    labels, values = list(spec.get("labels") or []), list(spec.get("values") or [])
    if not values or len(labels) != len(values):
        return False
    vals = [_num(v) for v in values]
    err = None
    if spec.get("low") and spec.get("high"):
        err = [[max(0.0, v - _num(lo)) for v, lo in zip(vals, spec["low"])],
               [max(0.0, _num(hi) - v) for v, hi in zip(vals, spec["high"])]]
    cols = [colors.get(str(lbl), CATEGORY_COLORS[0]) for lbl in labels]
    ax.bar([str(x) for x in labels], vals, color=cols, yerr=err, capsize=2, error_kw={"lw": 0.8})
    ax.tick_params(axis="x", rotation=30 if len(labels) > 4 else 0)
    return True


def _g_hist(ax, spec, colors) -> bool:
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


def _g_line(ax, spec, colors) -> bool:
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


_GENERIC = {"bar": _g_bar, "hist": _g_hist, "line": _g_line}
