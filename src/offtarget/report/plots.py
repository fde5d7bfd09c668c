"""Inline SVG plots for the HTML report, one drawing function per ``plots`` key a probe emits.

A probe puts JSON-able data under ``ProbeResult.plots[KEY]``; this module turns each known
KEY into a small inline SVG (:mod:`offtarget.report.plot_style`), so the HTML file works
offline. The probes' drawings are :mod:`offtarget.report.probe_plots`; preflight's generic
kinds are :mod:`offtarget.report.generic_plots`.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from offtarget.registry import Registry
from offtarget.report.generic_plots import GENERIC
from offtarget.report.plot_style import RC, checkpoint_colors, complete_colors, to_svg


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


def draw(key: str, data: Any, colors: dict[str, str], salt: str = "") -> str | None:
    """The SVG for ``plots[key]``, or None when there is no drawing function or nothing to draw."""
    spec = PLOTS.find(key)
    if spec is None or not data:
        return None
    with matplotlib.rc_context({**RC, "svg.hashsalt": f"{key}-{salt}"}):
        fig = spec.draw(data, complete_colors(colors, data))
        return to_svg(fig)


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
    fn = GENERIC.get(kind)
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


# the drawings register themselves with @plot; imported last because they import plot from here
from offtarget.report import probe_plots  # noqa: F401

__all__ = ["PLOTS", "RC", "PlotSpec", "checkpoint_colors", "draw", "draw_generic", "plot", "to_svg"]
