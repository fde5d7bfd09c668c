"""The terminal summary printed at the end of an audit: key metrics, headline, findings, routing.

Findings are one line per (checkpoint, prescription) with the metrics that triggered it; the
evidence and sources are in report.md / report.html.

    offtarget report runs/demo
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from offtarget.report.prescriptions import by_prescription, findings
from offtarget.report.verdict import RANK_RULE, verdicts

if TYPE_CHECKING:
    from offtarget.audit.results import AuditResults, Route

KEY_METRICS = ("accuracy", "greedy_accuracy", "pass@16", "ece_verbalized", "abstention_f1", "mean_token_entropy",
               "dominant_format_share", "kl_per_token")


def _fmt(v, low=None, high=None) -> str:
    if v is None:
        return "n/a"
    s = f"{v:.3f}"
    if low is not None and high is not None:
        s += f" [{low:.3f}, {high:.3f}]"
    return s


def _signed(v) -> str:
    return "n/a" if v is None else f"{v:+.3f}"


def print_summary(results: AuditResults, console: Console | None = None, out_dir: str | None = None) -> None:
    console = console or Console()
    ref = results.reference
    names = [c.name for c in results.checkpoints]
    metrics = [m for p in results.probes for m in p.metrics]
    flags = {(c.metric, c.group, c.checkpoint): c.flag for c in results.comparisons()}
    print_verdict(results, console)
    print_routing(results.routing, console)
    table = Table(title=f"key metrics — reference: {ref} (value [95% CI]; ▲/▼ flagged)", show_lines=False)
    table.add_column("metric", overflow="fold")
    table.add_column("group", overflow="fold")
    for n in names:
        table.add_column(n, justify="right", overflow="fold")
    shown = [m for m in KEY_METRICS if any(x.metric == m for x in metrics)]
    groups = [g for g in dict.fromkeys(x.group for x in metrics) if "/" not in g or g.endswith("unanswerable")]
    for metric in shown:
        for g in groups:
            cells = []
            for n in names:
                row = next((x for x in metrics if x.metric == metric and x.group == g and x.checkpoint == n), None)
                if row is None:
                    cells.append("")
                    continue
                f = flags.get((metric, g, n), "none")
                mark = {"gain": " [green]▲[/green]", "regression": " [red]▼[/red]"}.get(f, "")
                cells.append("\n".join(x for x in (_fmt(row.value) + mark, _interval(row.low, row.high)) if x))
            if any(cells):
                table.add_row(metric, g, *cells)
    if table.rows:
        console.print(table)
    print_findings(results, console)
    check = results.raw.get("self_check")
    if check and check.get("summary"):
        console.print(f"[dim]{escape(check['summary'])}[/dim]", highlight=False)
    if out_dir:
        console.print(f"results: {out_dir}/results.json")


def _interval(low, high) -> str:
    return "" if low is None or high is None else f"[dim]\\[{low:.3f}, {high:.3f}][/dim]"


def print_verdict(results: AuditResults, console: Console) -> None:
    """Per tuned checkpoint: the sentence, the target change, the worst regression per concern."""
    found = verdicts(results.raw)
    for v in found:
        console.print(f"[bold]{escape(v['sentence'])}[/bold]", highlight=False)
        if v["target"]:
            console.print(f"  [cyan]{escape(v['target']['text'])}[/cyan]", highlight=False)
        for line in v["lines"]:
            console.print(f"  [red]▼ {escape(line['text'])}[/red]", highlight=False)
        if v["hidden"]:
            console.print(f"  [dim]+{v['hidden']} more off-target regression(s): report.html#findings[/dim]",
                          highlight=False)
    if any(v["lines"] for v in found):
        console.print(f"[dim]off-target lines {escape(RANK_RULE)}[/dim]", highlight=False)


def print_routing(routing: list[Route], console: Console) -> None:
    """Which checkpoint each whole split should go to (slices are in the report)."""
    main = [r for r in routing if "/" not in (r.group or "")]
    if not main:
        return
    rt = Table(title="routing: which checkpoint for which slice")
    rt.add_column("group", overflow="fold")
    rt.add_column("send to", overflow="fold")
    rt.add_column("why", overflow="fold")
    for r in main:
        rt.add_row(escape(r.group), escape(r.route_to), escape(r.why))
    console.print(rt)
    if len(main) < len(routing):
        console.print(f"[dim]{len(routing) - len(main)} slice(s) routed in report.html#routing[/dim]")


def print_findings(results: AuditResults, console: Console, limit: int = 8) -> None:
    """One line per (checkpoint, prescription): what regressed, where, and what to change."""
    groups = by_prescription(findings(results.raw))
    if not groups:
        if results.headline:
            console.print("findings: no flagged regressions")
        return
    n = sum(len(g["evidence"]) for g in groups)
    console.print(f"[bold]findings[/bold] ({n} flagged regression(s)):")
    for g in groups[:limit]:
        where = ", ".join(dict.fromkeys(f"{e['metric']} on {e['group']}" for e in g["evidence"][:3]))
        more = f" (+{len(g['evidence']) - 3} more)" if len(g["evidence"]) > 3 else ""
        console.print(f"  [red]▼ {escape(g['checkpoint'])}: {escape(g['problem'])}[/red] — {escape(where)}{more}",
                      highlight=False)
        if g.get("used"):
            console.print(f"    [dim]{escape(g['used'])}: change it instead[/dim]", highlight=False)
            console.print(f"    → {escape(g['prescription'])}", highlight=False)
        if g["command"] or not g.get("used"):
            console.print(f"    → {escape(g['command'] or g['prescription'])}", highlight=False)
    if len(groups) > limit:
        console.print(f"  … {len(groups) - limit} more")
    console.print("  [dim]evidence, prescriptions and sources: report.md / report.html[/dim]")
