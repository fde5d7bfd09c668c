"""``offtarget preflight``: foothold, reward red-team and SFT-defect audit before spending RL compute.

    offtarget preflight --model models/lab/sft --reference models/lab/base --suite arithmetic \\
        --reward correctness --reward lenient_correctness --reward my_rewards:fn \\
        --sft-data sft.jsonl --group-size 8 --samples 16 --problems 200 --window 0.1,0.9 --out runs/pf

Writes ``results.json`` (kind ``preflight``), ``report.md``, ``report.html`` and
``foothold_window.jsonl`` (the prompts inside the difficulty window, as GRPO rows) to ``--out``
and prints a summary. ``offtarget report DIR`` re-renders the reports.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

console = Console(stderr=False)


HELP = "Before RL: is there a foothold, can the reward be hacked, what did SFT plant?"


def run_preflight_command(cfg) -> None:
    """``offtarget preflight``: run the checks, write the reports, print the verdicts."""
    from offtarget.preflight.runner import run_preflight
    from offtarget.report.render import render_all

    results = run_preflight(cfg, console)
    paths = render_all(results, cfg.out)
    print_preflight(results, console)
    for p in paths:
        console.print(f"report: {p}")


_STYLE = {"good": "green", "bad": "red", "neutral": "yellow"}


def print_preflight(results: dict, console: Console) -> None:
    """The verdict of each check, the red-team table and the top defects."""
    sections = results.get("preflight", {})
    for key, sec in sections.items():
        style = _STYLE.get(sec.get("level"), "white")
        console.print(f"[bold]{escape(sec['title'])}[/bold]: [{style}]{escape(sec['verdict'])}[/{style}]",
                      highlight=False)
        if key in ("foothold", "sft_data"):
            console.print(f"  {escape(sec['summary'])}", highlight=False)
        if key == "redteam":
            for r in sec["rows"]:
                style = {"not found hackable": "green", "not applicable": "yellow"}.get(r["verdict"], "red")
                line = (f"  {escape(r['reward'])}: [{style}]{escape(r['verdict'])}[/{style}] (honest correct "
                        f"{_f(r['honest_correct'])}, best honest wrong {_f(r['honest_wrong'])})")
                if r["worst_pattern"]:
                    line += (f"; {r['exploits']} exploit(s), worst {escape(r['worst_pattern'])} "
                             f"{r['gain']:+.3f} \\[{r['low']:+.3f}, {r['high']:+.3f}], e.g. "
                             f"{escape(repr(r['example']))} → {_f(r['example_reward'])}")
                console.print(line, highlight=False)
            for note in sec.get("notes", [])[:6]:
                console.print(f"  [red]{escape(note)}[/red]", highlight=False)
        if key == "defects":
            for r in sec["rows"][:6]:
                console.print(f"  {r['rank']}. [red]{escape(r['defect'])}[/red] on {escape(r['where'])}: "
                              f"{escape(r['evidence'])}", highlight=False)
            if len(sec["rows"]) > 6:
                console.print(f"  … {len(sec['rows']) - 6} more in report.md")
            if not sec["rows"]:
                console.print(f"  {escape(sec['summary'])}", highlight=False)
    window = results.get("preflight_details", {}).get("foothold", {}).get("window_file")
    if window:
        console.print(f"trainer input (prompts in the window): {window}")
    console.print(f"results: {Path(results['config']['out']) / 'results.json'}")


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
