"""The terminal summary printed at the end of an audit: key metrics, headline, findings, routing.

Findings are one line per (checkpoint, prescription) with the metrics that triggered it; the
evidence and sources are in report.md / report.html.

    offtarget report runs/demo
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from offtarget.report.prescriptions import by_prescription, findings

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


def print_summary(results: dict, console: Console | None = None, out_dir: str | None = None) -> None:
    console = console or Console()
    ref = results["reference"]
    names = [c["name"] for c in results["checkpoints"]]
    metrics = [m for p in results["probes"] for m in p["metrics"]]
    flags = {(c["metric"], c["group"], c["checkpoint"]): c["flag"] for p in results["probes"] for c in p["comparisons"]}
    table = Table(title=f"offtarget {results.get('kind', 'audit')} — reference: {ref}", show_lines=False)
    table.add_column("metric")
    table.add_column("group")
    for n in names:
        table.add_column(n, justify="right")
    shown = [m for m in KEY_METRICS if any(x["metric"] == m for x in metrics)]
    groups = [g for g in dict.fromkeys(x["group"] for x in metrics) if "/" not in g or g.endswith("unanswerable")]
    for metric in shown:
        for g in groups:
            cells = []
            for n in names:
                row = next((x for x in metrics if x["metric"] == metric and x["group"] == g and x["checkpoint"] == n), None)
                if row is None:
                    cells.append("")
                    continue
                f = flags.get((metric, g, n), "none")
                mark = {"gain": " [green]▲[/green]", "regression": " [red]▼[/red]"}.get(f, "")
                cells.append(_fmt(row["value"], row["low"], row["high"]) + mark)
            if any(cells):
                table.add_row(metric, g, *cells)
    console.print(table)
    for h in results.get("headline", []):
        console.print(f"[bold]{escape(h['summary'])}[/bold]")
        for loss in h["offtarget_losses"][:8]:
            console.print(f"  [red]▼ {escape(loss['metric'])} on {escape(loss['group'])}: "
                          f"{_fmt(loss['reference_value'])} → {_fmt(loss['value'])} ({_signed(loss['diff'])} "
                          f"\\[{_signed(loss['low'])}, {_signed(loss['high'])}])[/red]")
        for gain in h["target_gains"][:4]:
            console.print(f"  [green]▲ {escape(gain['metric'])} on {escape(gain['group'])}: {_signed(gain['diff'])} "
                          f"\\[{_signed(gain['low'])}, {_signed(gain['high'])}][/green]")
    print_findings(results, console)
    check = results.get("self_check")
    if check and check.get("summary"):
        console.print(f"[dim]{escape(check['summary'])}[/dim]", highlight=False)
    routing = results.get("routing", [])
    if routing:
        rt = Table(title="routing")
        rt.add_column("group")
        rt.add_column("send to")
        rt.add_column("why")
        for r in routing:
            rt.add_row(r["group"], r["route_to"], r["why"])
        console.print(rt)
    if out_dir:
        console.print(f"results: {out_dir}/results.json")


def print_findings(results: dict, console: Console, limit: int = 8) -> None:
    """One line per (checkpoint, prescription): what regressed, where, and what to change."""
    groups = by_prescription(findings(results))
    if not groups:
        if results.get("headline"):
            console.print("findings: no flagged regressions")
        return
    n = sum(len(g["evidence"]) for g in groups)
    console.print(f"[bold]findings[/bold] ({n} flagged regression(s)):")
    for g in groups[:limit]:
        where = ", ".join(dict.fromkeys(f"{e['metric']} on {e['group']}" for e in g["evidence"][:3]))
        more = f" (+{len(g['evidence']) - 3} more)" if len(g["evidence"]) > 3 else ""
        console.print(f"  [red]▼ {escape(g['checkpoint'])}: {escape(g['problem'])}[/red] — {escape(where)}{more}",
                      highlight=False)
        console.print(f"    → {escape(g['command'] or g['prescription'])}", highlight=False)
    if len(groups) > limit:
        console.print(f"  … {len(groups) - limit} more")
    console.print("  [dim]evidence, prescriptions and sources: report.md / report.html[/dim]")
