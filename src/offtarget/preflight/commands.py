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

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=False)


def _split(values: list[str]) -> tuple[str, ...]:
    """Repeated and comma-separated values, in order, without duplicates."""
    out: list[str] = []
    for v in values:
        out += [x.strip() for x in v.split(",") if x.strip() and x.strip() not in out]
    return tuple(out)


def preflight_command(
    model: str | None = typer.Option(None, "--model", "-m",
                                   help="the checkpoint RL would start from (e.g. the SFT model)"),
    reference: str | None = typer.Option(None, help="its reference (e.g. the base) for paired defect checks"),
    suite: str = typer.Option("arithmetic", help="built-in suite or a .jsonl task file"),
    reward: list[str] = typer.Option([], "--reward", "-r", help="reward to red-team: registered NAME or "
                                     "module:function / file.py:function; repeat (default: correctness, rlcr, "
                                     "brier, ternary, format, stepwise)"),
    sft_data: str | None = typer.Option(None, help="SFT data (JSONL prompt/completion) to verify row by row"),
    group_size: int = typer.Option(8, help="planned GRPO group size G"),
    samples: int = typer.Option(16, help="samples per prompt (k)"),
    problems: int = typer.Option(200, help="training prompts for the foothold; problems per split for defects"),
    window: str = typer.Option("0.1,0.9", help="difficulty window LOW,HIGH of pass rates for the trainer JSONL"),
    out: str | None = typer.Option(None, help="run directory, resumable [default: runs/preflight]"),
    split: str = typer.Option("train", help="split RL trains on (foothold and red-team problems)"),
    checks: str = typer.Option("foothold,redteam,defects", help="comma-separated subset to run"),
    redteam_problems: int = typer.Option(50, help="answerable problems per red-team pattern"),
    tolerance: float = typer.Option(0.05, help="red-team margin as a share of the correct−wrong reward gap"),
    probes: str = typer.Option("", help="extra audit probes on the defect samples, e.g. calibration,abstention"),
    temperature: float = typer.Option(1.0),
    top_p: float = typer.Option(1.0),
    max_new_tokens: int = typer.Option(32),
    no_chat_template: bool = typer.Option(False, "--no-chat-template", help="feed prompts raw"),
    seed: int = typer.Option(0),
    bootstrap: int = typer.Option(1000, help="bootstrap resamples per interval"),
    batch_sequences: int = typer.Option(256, help="sequences per generate call"),
    device: str = typer.Option("auto"),
    dtype: str = typer.Option("auto"),
    trust_remote_code: bool = typer.Option(False),
    config: Path | None = typer.Option(None, help="YAML file with the same keys (model and out flags win)"),
) -> None:
    """Before RL: is there a foothold, can the reward be hacked, what did SFT plant?"""
    from offtarget.preflight.config import PreflightConfig, parse_window
    from offtarget.preflight.runner import run_preflight
    from offtarget.report.render import render_all

    kw = {
        "model": model, "reference": reference, "suite": suite, "split": split, "rewards": _split(reward),
        "sft_data": sft_data, "group_size": group_size, "samples": samples, "problems": problems,
        "window": parse_window(window), "redteam_problems": redteam_problems, "tolerance": tolerance,
        "checks": _split([checks]), "probes": _split([probes]), "temperature": temperature, "top_p": top_p,
        "max_new_tokens": max_new_tokens, "chat_template": not no_chat_template, "seed": seed,
        "bootstrap": bootstrap, "batch_sequences": batch_sequences, "device": device, "dtype": dtype,
        "trust_remote_code": trust_remote_code, "out": out or "runs/preflight",
    }
    if config:  # the YAML holds the settings; --model and --out, when given, win
        cfg = PreflightConfig.from_yaml(config, model=model, out=out)
    else:
        cfg = PreflightConfig(**{**kw, "model": model or ""})
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
                style = "red" if r["verdict"] != "not found hackable" else "green"
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
