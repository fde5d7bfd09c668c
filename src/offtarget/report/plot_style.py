"""How every report plot looks: matplotlib settings, colours, grids and SVG serialisation.

Colours follow the checkpoint order of the report (the reference is grey), the same in every
plot and in the header's swatches. SVGs keep text as ``<text>`` with no embedded fonts and lose
the XML header, DOCTYPE, namespaces and metadata, so the HTML report inlines them and works
offline.

    >>> checkpoint_colors(["base", "rl"], "base")
    {'base': '#7f7f7f', 'rl': '#1f77b4'}
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

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


def complete_colors(colors: dict[str, str], data: Any) -> dict[str, str]:
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


def panels(n: int, ncols: int = 3, w: float = 3.2, h: float = 2.5, rows: int = 1):
    """A figure with ``n`` axes (per row of ``rows``) in a grid of at most ``ncols`` columns."""
    n = max(1, min(n, MAX_PANELS))
    cols = min(n, ncols)
    grid_rows = math.ceil(n / cols) * rows
    fig, axes = plt.subplots(grid_rows, cols, figsize=(w * cols, h * grid_rows), squeeze=False)
    flat = list(axes.flat)
    return fig, flat


def hide_unused(axes, used: int) -> None:
    for ax in axes[used:]:
        ax.set_visible(False)


def as_float(x) -> float:
    return float("nan") if x is None else float(x)


def first_items(d: dict, limit: int = MAX_PANELS):
    return list(d.items())[:limit]


def finish(fig: Figure, axes, handles_from=None) -> Figure:
    if handles_from is not None:
        handles, labels = handles_from.get_legend_handles_labels()
        if handles:
            fig.tight_layout()
            fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6),
                       bbox_to_anchor=(0.5, 1.0), frameon=False)
            return fig
    fig.tight_layout()
    return fig
