"""Render every report format from a results dict: Markdown and HTML beside results.json.

    >>> render_all(load_results("runs/x"), "runs/x")
"""

from __future__ import annotations

from pathlib import Path

from offtarget.report.results import SCHEMA_VERSION, atomic_write_text


def render_all(results: dict, out_dir: str | Path) -> list[str]:
    """Write report.md and report.html into ``out_dir``; return their paths.

    ``results`` is what ``results.json`` holds (the audit passes it before ``write_results``
    stamps the schema version, so stamp it here too: both paths render the same bytes).
    """
    from offtarget.report.html import render_html
    from offtarget.report.markdown import render_markdown

    results = {"schema_version": SCHEMA_VERSION, **results}
    out = Path(out_dir)
    paths = []
    md = out / "report.md"
    atomic_write_text(md, render_markdown(results))
    paths.append(str(md))
    html = out / "report.html"
    atomic_write_text(html, render_html(results))
    paths.append(str(html))
    return paths

