"""Drawings of the ``plots`` keys the probes emit, one registered function per key.

pass@k curves, reliability diagrams, token-entropy histograms, output-format shares, in
distribution vs shifted accuracy, per-layer weight change and KL per group; each takes the
probe's JSON-able data and the checkpoint colours and returns a matplotlib figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from offtarget.report.plot_style import (
    CATEGORY_COLORS,
    MAX_PANELS,
    REFERENCE_COLOR,
    as_float,
    finish,
    first_items,
    hide_unused,
    panels,
)
from offtarget.report.plots import plot


@plot("passk_curves", "pass@k", "unbiased pass@k with 95% bootstrap bands; where the reference's curve "
      "crosses above a tuned one, RL narrowed coverage")
def _passk(data: dict, colors: dict[str, str]) -> Figure:
    groups = first_items(data)
    fig, axes = panels(len(groups))
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
    hide_unused(axes, len(groups))
    return finish(fig, axes, axes[0])


def _reliability(data: dict, colors: dict[str, str]) -> Figure:
    groups = first_items(data)
    fig, axes = panels(len(groups), w=2.8, h=2.8)
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
    hide_unused(axes, len(groups))
    return finish(fig, axes, axes[0])


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
    groups = first_items(data)
    fig, axes = panels(len(groups))
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
    hide_unused(axes, len(groups))
    return finish(fig, axes, axes[0])


@plot("format_shares", "output formats", "share of samples in each format; one bar per checkpoint")
def _formats(data: dict, colors: dict[str, str]) -> Figure:
    groups = first_items(data)
    totals: dict[str, float] = {}
    for per_ckpt in data.values():
        for shares in per_ckpt.values():
            for f, v in shares.items():
                totals[f] = totals.get(f, 0.0) + (v or 0.0)
    formats = sorted(totals, key=lambda f: -totals[f])
    fcolor = {f: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, f in enumerate(formats)}
    n_ckpt = max(len(v) for v in data.values())
    fig, axes = panels(len(groups), ncols=4, w=max(1.6, 0.55 * n_ckpt + 0.9), h=2.4)
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
    hide_unused(axes, len(groups))
    return finish(fig, axes, axes[0])


def _interval_bars(points):
    """Bars with 95% error bars from ``(position, key, {value, low, high} or None)`` points: the
    positions, values, ``[below, above]`` error lengths and keys of the points that have a value
    (a missing bound draws no error on its side)."""
    xs, vals, err, keys = [], [], [[], []], []
    for x, key, e in points:
        e = e or {}
        v = e.get("value")
        if v is None:
            continue
        xs.append(x)
        vals.append(v)
        keys.append(key)
        err[0].append(max(0.0, v - as_float(e["low"])) if e.get("low") is not None else 0.0)
        err[1].append(max(0.0, as_float(e["high"]) - v) if e.get("high") is not None else 0.0)
    return xs, vals, err, keys


@plot("id_ood", "in distribution vs shifted", "accuracy per split with 95% intervals; "
      "a gain in distribution that vanishes OOD is template matching, not a procedure")
def _id_ood(data: dict, colors: dict[str, str]) -> Figure:
    names = list(data)
    splits = list(dict.fromkeys(s for v in data.values() for s in v))
    fig, ax = plt.subplots(figsize=(max(3.0, 1.1 * len(names) * len(splits) * 0.6 + 1.5), 2.6))
    width = 0.8 / max(1, len(splits))
    hatches = ("", "//", "..", "xx")
    for j, split in enumerate(splits):
        xs, vals, err, kept = _interval_bars((i - 0.4 + width * (j + 0.5), n, data[n].get(split))
                                             for i, n in enumerate(names))
        cols = [colors.get(n, REFERENCE_COLOR) for n in kept]
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
    ckpts = first_items(data)
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
    return finish(fig, list(axes.flat), axes[0][0])


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
        ys, vals, err, _ = _interval_bars((i - 0.4 + height * (j + 0.5), g, data[g].get(n))
                                          for i, g in enumerate(groups))
        ax.barh(ys, vals, height=height * 0.95, color=colors[n], xerr=err, capsize=2, label=n,
                error_kw={"lw": 0.8, "ecolor": "#333333"})
    ax.set_yticks(range(len(groups)), groups)
    ax.invert_yaxis()
    ax.set_xlabel("KL per token (nats)")
    ax.legend()
    fig.tight_layout()
    return fig
