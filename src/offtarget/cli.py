"""The one entry point: ``offtarget audit | report | lab | train | preflight``.

    offtarget audit --model base=PATH --model rl=PATH --suite arithmetic --samples 16 --out runs/x
    offtarget report runs/x
    offtarget lab build
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from offtarget.errors import OfftargetError
from offtarget.preflight.commands import preflight_command
from offtarget.train.commands import app as train_app

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="See what post-training did to a model off target.")
lab_app = typer.Typer(no_args_is_help=True, help="Tiny real transformers on CPU that reproduce the seed claims.")
app.add_typer(lab_app, name="lab")
# sub-commands: each package owns its typer app (imports stay light: torch loads inside commands)
app.add_typer(train_app, name="train")
app.command("preflight")(preflight_command)
console = Console(stderr=False)

DEFAULT_LAB_DIR = "models/lab"
"""Where the reference lab checkpoints live (committed; `offtarget lab build --force` rebuilds them)."""


@app.callback()
def _setup(threads: int = typer.Option(0, help="torch CPU threads (0: the cores this process may use)")) -> None:
    import torch

    n = threads or int(os.environ.get("OFFTARGET_THREADS", 0)) or len(os.sched_getaffinity(0))
    torch.set_num_threads(max(1, n))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets

    datasets.disable_progress_bars()


def _parse_models(models: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in models:
        if "=" not in m:
            raise OfftargetError(f"--model {m!r}: write NAME=PATH, e.g. --model base=models/lab/base")
        name, path = m.split("=", 1)
        if not name or name in out:
            raise OfftargetError(f"--model {m!r}: names must be non-empty and unique")
        out[name] = path
    return out


@app.command()
def audit(
    model: list[str] = typer.Option([], "--model", "-m", help="NAME=PATH, repeat; the first is the reference"),
    suite: str = typer.Option("arithmetic", help="built-in suite or a .jsonl task file"),
    out: str = typer.Option("runs/audit", help="run directory (resumable)"),
    samples: int = typer.Option(16, help="samples per problem (pass@k for every k <= samples)"),
    problems: int = typer.Option(200, help="problems per split"),
    splits: str = typer.Option("test,ood", help="comma-separated splits"),
    probes: str = typer.Option("all", help="comma-separated probe names, or all"),
    reference: Optional[str] = typer.Option(None, help="reference checkpoint name (default: the first)"),
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
    config: Optional[Path] = typer.Option(None, help="YAML file with the same keys as these flags"),
    fail_on: str = typer.Option("none", help="exit 1 on: regression (off-target or target loss) | any (any flag) | none"),
) -> None:
    """Compare checkpoints on target and off-target probes with paired statistics."""
    from offtarget.audit.config import AuditConfig
    from offtarget.audit.runner import run_audit
    from offtarget.report.render import render_all
    from offtarget.report.terminal import print_summary

    kw = dict(
        models=_parse_models(model) or None, suite=suite, out=out, samples=samples, problems=problems,
        splits=tuple(s for s in splits.split(",") if s), probes=tuple(p for p in probes.split(",") if p),
        reference=reference, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
        chat_template=not no_chat_template, seed=seed, bootstrap=bootstrap, batch_sequences=batch_sequences,
        device=device, dtype=dtype, trust_remote_code=trust_remote_code,
    )
    if config:
        cfg = AuditConfig.from_yaml(config, **{k: v for k, v in kw.items() if k == "models" and v})
    else:
        cfg = AuditConfig(**{k: v for k, v in kw.items() if v is not None})
    results = run_audit(cfg, console)
    paths = render_all(results, cfg.out)
    print_summary(results, console, cfg.out)
    for p in paths:
        console.print(f"report: {p}")
    _gate(results, fail_on)


def _gate(results: dict, fail_on: str) -> None:
    if fail_on not in ("none", "regression", "any"):
        raise OfftargetError(f"--fail-on {fail_on!r}: choose none, regression or any")
    flags = [c["flag"] for p in results["probes"] for c in p["comparisons"]]
    if (fail_on == "regression" and "regression" in flags) or (fail_on == "any" and any(f != "none" for f in flags)):
        console.print(f"[red]--fail-on {fail_on}: flagged changes found[/red]")
        raise typer.Exit(1)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a run directory holding results.json")) -> None:
    """Re-render the reports from stored results without touching a model."""
    from offtarget.report.render import render_all
    from offtarget.report.results import load_results
    from offtarget.report.terminal import print_summary

    results = load_results(run_dir)
    paths = render_all(results, run_dir)
    print_summary(results, console, str(run_dir))
    for p in paths:
        console.print(f"report: {p}")


@lab_app.command("pretrain")
def lab_pretrain(out: Path = typer.Option(Path(DEFAULT_LAB_DIR) / "base"), seed: int = 0,
                 max_steps: int = typer.Option(2000, help="upper bound; stops once accuracy triggers the decay"),
                 target_accuracy: float = typer.Option(0.5, help="greedy test accuracy that ends the constant-LR phase")) -> None:
    """Train the base model: addition in three formats, from scratch, on CPU."""
    from offtarget.lab.build import BuildConfig, pretrain

    meta = pretrain(out, BuildConfig(max_steps=max_steps, seed=seed, target_accuracy=target_accuracy))
    console.print(f"base saved to {out} after {meta['steps']} steps ({meta['train_seconds']}s)")


@lab_app.command("sft")
def lab_sft(base: Path = typer.Option(Path(DEFAULT_LAB_DIR) / "base"), out: Path = typer.Option(Path(DEFAULT_LAB_DIR) / "sft"),
            seed: int = 0, defect: Optional[str] = typer.Option(None, help="plant a defect: carry-error | never-abstain"),
            max_steps: int = 150) -> None:
    """SFT the base: stated confidence and abstention (optionally with a planted defect)."""
    from offtarget.lab.build import sft, sft_config

    if not (base / "config.json").exists():
        raise OfftargetError(f"--base {base}: no checkpoint there; run `offtarget lab pretrain --out {base}` first")
    meta = sft(base, out, sft_config(seed, max_steps), defect=defect)
    console.print(f"sft saved to {out} after {meta['steps']} steps ({meta['train_seconds']}s)")


@lab_app.command("build")
def lab_build(out_dir: Path = typer.Option(Path(DEFAULT_LAB_DIR)), force: bool = False, seed: int = 0) -> None:
    """Build (or reuse) the reference base and SFT checkpoints."""
    from offtarget.lab.build import BuildConfig, pretrain, sft

    base, sft_dir = out_dir / "base", out_dir / "sft"
    if force or not (base / "config.json").exists():
        console.print("pretraining the base model …")
        pretrain(base, BuildConfig(seed=seed))
    else:
        console.print(f"reusing {base}")
    if force or not (sft_dir / "config.json").exists():
        console.print("SFT …")
        sft(base, sft_dir)
    else:
        console.print(f"reusing {sft_dir}")


@lab_app.command("run")
def lab_run(
    recipes: list[str] = typer.Argument(None, help="recipe names (default: --quick set)"),
    quick: bool = typer.Option(False, "--quick", help="four claims from two GRPO runs (~10 min on 2 cores)"),
    all_: bool = typer.Option(False, "--all", help="every recipe (~1 hour on 2 cores)"),
    out: Optional[Path] = typer.Option(None, help="lab run directory (default lab_runs/quick or lab_runs/all)"),
    steps: int = typer.Option(300, help="GRPO steps per variant"),
    problems: int = typer.Option(200, help="audit problems per split"),
    samples: int = typer.Option(32, help="audit samples per problem (pass@k up to k = samples)"),
    bootstrap: int = typer.Option(1000),
    sft_steps: int = typer.Option(150, help="steps of the lab's SFT variants"),
    train_problems: int = typer.Option(2000, help="prompts per GRPO variant"),
    seed: int = 0,
) -> None:
    """Reproduce the seed claims on tiny models and write the claims table (resumable)."""
    from rich.table import Table

    from offtarget.lab.recipes import QUICK, RECIPES
    from offtarget.lab.runner import LabRunConfig, run_lab

    chosen = tuple(RECIPES) if all_ else (tuple(recipes) if recipes else QUICK)
    default_out = "lab_runs/all" if all_ else ("lab_runs/quick" if not recipes else "lab_runs/custom")
    cfg = LabRunConfig(recipes=chosen, out=str(out or default_out), steps=steps, problems=problems,
                       samples=samples, bootstrap=bootstrap, seed=seed, sft_steps=sft_steps,
                       train_problems=train_problems)
    claims = run_lab(cfg, console)
    table = Table(title="lab claims (full wording in claims.md)")
    for col in ("#", "recipe", "comparison", "effect", "95% interval", "verdict"):
        table.add_column(col)
    colour = {"reproduced": "green", "not reproduced": "red", "inconclusive": "yellow"}
    for i, c in enumerate(claims, 1):
        f = (lambda x: "n/a" if x is None else f"{x:+.3f}")
        table.add_row(str(i), c.recipe, c.comparison, f"{c.effect_name} {f(c.effect)}", f"[{f(c.low)}, {f(c.high)}]",
                      f"[{colour[c.verdict]}]{c.verdict}[/{colour[c.verdict]}]")
    console.print(table)
    console.print(f"claims: {cfg.out}/claims.md  report: {cfg.out}/audits/main/report.html")


def main() -> None:
    try:
        app()
    except OfftargetError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
