"""Render every report format from an audit's results: Markdown and HTML beside results.json.

    >>> render_all(AuditResults.load("runs/x"), "runs/x")
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from offtarget.report.results import SCHEMA_VERSION, atomic_write_text

if TYPE_CHECKING:
    from offtarget.audit.results import AuditResults


def render_all(results: AuditResults | dict, out_dir: str | Path) -> list[str]:
    """Write report.md and report.html into ``out_dir``; return their paths.

    ``results`` are typed (:class:`~offtarget.audit.results.AuditResults`) or what ``results.json``
    holds, typed here once. The audit passes them before ``write_results`` stamps the schema
    version, so stamp it here too: both paths render the same bytes.
    """
    from offtarget.audit.results import AuditResults
    from offtarget.report.html import render_html
    from offtarget.report.markdown import render_markdown

    typed = results if isinstance(results, AuditResults) else AuditResults.from_dict(results)
    typed = replace(typed, raw={"schema_version": SCHEMA_VERSION, **typed.raw})
    out = Path(out_dir)
    paths = []
    md = out / "report.md"
    atomic_write_text(md, render_markdown(typed))
    paths.append(str(md))
    html = out / "report.html"
    atomic_write_text(html, render_html(typed.to_dict()))  # its view model reads every section by key
    paths.append(str(html))
    return paths
