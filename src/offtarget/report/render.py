"""Render every report format from a results dict: Markdown and HTML beside results.json.

    >>> render_all(load_results("runs/x"), "runs/x")
"""

from __future__ import annotations

from pathlib import Path

from offtarget.report.results import atomic_write_text


def render_all(results: dict, out_dir: str | Path) -> list[str]:
    from offtarget.report.markdown import render_markdown

    out = Path(out_dir)
    paths = []
    md = out / "report.md"
    atomic_write_text(md, render_markdown(results))
    paths.append(str(md))
    try:
        from offtarget.report.html import render_html
    except ImportError:
        return paths
    html = out / "report.html"
    atomic_write_text(html, render_html(results))
    paths.append(str(html))
    return paths
