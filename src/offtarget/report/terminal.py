"""The terminal summary printed at the end of an audit: headline, key metrics, routing.

    offtarget report runs/demo --format terminal
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

KEY_METRICS = ("accuracy", "greedy_accuracy", "pass@16", "ece_verbalized", "abstention_f1", "mean_token_entropy",
               "dominant_format_share", "kl_per_token")


def _fmt(v, low=None, high=None) -> str:
    if v is None:
        return "n/a"
    s = f"{v:.3f}"
    if low is not None and high is not None:
        s += f" [{low:.3f}, {high:.3f}]"
    return s


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
        console.print(f"[bold]{h['summary']}[/bold]")
        for loss in h["offtarget_losses"][:8]:
            console.print(f"  [red]▼ {loss['metric']} on {loss['group']}: {loss['reference_value']:.3f} → "
                          f"{loss['value']:.3f} ({loss['diff']:+.3f} [{loss['low']:+.3f}, {loss['high']:+.3f}])[/red]")
        for gain in h["target_gains"][:4]:
            console.print(f"  [green]▲ {gain['metric']} on {gain['group']}: {gain['diff']:+.3f} "
                          f"[{gain['low']:+.3f}, {gain['high']:+.3f}][/green]")
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
