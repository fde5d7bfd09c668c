"""The lab's claims at a glance: one row per claim, its effect as a dot with the 95% interval as a bar,
coloured by verdict (green reproduced, red not reproduced, amber inconclusive). Inline SVG like
every other plot (:func:`offtarget.report.plots.to_svg`), so claims.html and report.html stay offline.

    >>> svg = draw_claims([{"claim": "pass@k narrows", "effect": -0.1, "low": -0.2, "high": 0.0,
    ...                     "verdict": "reproduced"}])
"""

from __future__ import annotations

import matplotlib

from offtarget.report.plots import RC, to_svg

VERDICT_COLORS = {"good": "#1a7f37", "bad": "#cf222e", "neutral": "#bf8700"}


def level_of(c: dict) -> str:
    from offtarget.report.html import LEVELS, verdict_class

    return c.get("level") if c.get("level") in LEVELS else verdict_class(c.get("verdict"))


def draw_claims(claims: list[dict]) -> str | None:
    """The SVG, or None when no claim carries an effect."""
    rows = [c for c in claims or [] if isinstance(c, dict) and isinstance(c.get("effect"), (int, float))]
    if not rows:
        return None
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({**RC, "svg.hashsalt": "claims"}):
        fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(rows) + 0.9))
        for i, c in enumerate(rows):
            colour = VERDICT_COLORS[level_of(c)]
            low, high = c.get("low"), c.get("high")
            if isinstance(low, (int, float)) and isinstance(high, (int, float)):
                ax.plot([low, high], [i, i], color=colour, lw=2.2, solid_capstyle="butt")
            ax.plot([c["effect"]], [i], "o", color=colour, ms=5)
        ax.axvline(0, color="#888888", lw=0.8, ls="--")
        labels = [str(c.get("recipe") or c.get("claim") or f"claim {i + 1}")[:40] for i, c in enumerate(rows)]
        ax.set_yticks(range(len(rows)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("effect (tuned − reference) with 95% interval")
        from matplotlib.lines import Line2D

        ax.legend(handles=[Line2D([], [], color=v, marker="o", lw=2, label=k) for k, v in
                           (("reproduced", VERDICT_COLORS["good"]), ("not reproduced", VERDICT_COLORS["bad"]),
                            ("inconclusive", VERDICT_COLORS["neutral"]))],
                  loc="upper center", bbox_to_anchor=(0.5, -0.25 - 0.6 / max(len(rows), 1)), ncol=3)
        fig.tight_layout()
        return to_svg(fig)
