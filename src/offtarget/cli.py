"""The one entry point: ``offtarget audit | report | lab | train | preflight``.

    offtarget audit --model base=PATH --model rl=PATH --suite arithmetic --samples 16 --out runs/x
    offtarget report runs/x
    offtarget lab build
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from offtarget.audit.config import AuditConfig
from offtarget.config import config_command
from offtarget.errors import OfftargetError
from offtarget.models.commands import app as models_app
from offtarget.preflight.commands import HELP as PREFLIGHT_HELP
from offtarget.preflight.commands import run_preflight_command
from offtarget.preflight.config import PreflightConfig
from offtarget.train.commands import app as train_app

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="See what post-training did to a model off target.")
lab_app = typer.Typer(no_args_is_help=True, help="Tiny real transformers on CPU that reproduce the seed claims.")
app.add_typer(lab_app, name="lab")
# sub-commands: each package owns its typer app (imports stay light: torch loads inside commands)
app.add_typer(train_app, name="train")
app.add_typer(models_app, name="models")
config_command(app, PreflightConfig, run_preflight_command, "preflight", PREFLIGHT_HELP)
console = Console(stderr=False)

DEFAULT_LAB_DIR = "models/lab"
"""Where the reference lab checkpoints live (committed; `offtarget lab build --force` rebuilds them)."""


@app.callback()
def _setup(threads: int = typer.Option(0, help="torch CPU threads (0: the cores this process may use)")) -> None:
    import torch

    # OMP_NUM_THREADS, when set, says how many cores this process may use (two torch processes each
    # taking every core run many times slower than one at a time)
    n = (threads or int(os.environ.get("OFFTARGET_THREADS") or 0) or int(os.environ.get("OMP_NUM_THREADS") or 0)
         or len(os.sched_getaffinity(0)))
    torch.set_num_threads(max(1, n))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets

    datasets.disable_progress_bars()
    quiet_third_party()


def quiet_third_party() -> None:
    """No weight-loading bars or info chatter from transformers / huggingface_hub by default: offtarget
    prints its own progress. ``OFFTARGET_VERBOSE=1`` keeps theirs."""
    if os.environ.get("OFFTARGET_VERBOSE"):
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass


def _run_audit(cfg) -> None:
    from offtarget.audit.results import run_config
    from offtarget.report.terminal import print_summary

    results = run_config(cfg, console)
    print_summary(results, console, cfg.out)
    for p in results.reports:
        console.print(f"report: {p}")
    if results.gate_fails(cfg.fail_on):
        console.print(f"[red]--fail-on {cfg.fail_on}: flagged changes found[/red]")
        raise typer.Exit(1)


config_command(app, AuditConfig, _run_audit, "audit",
               "Compare checkpoints on target and off-target probes with paired statistics.", validate=False)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a run directory holding results.json")) -> None:
    """Re-render the reports from stored results without touching a model."""
    from offtarget.audit.results import AuditResults
    from offtarget.report.render import render_all
    from offtarget.report.terminal import print_summary

    results = AuditResults.load(run_dir)
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
            seed: int = 0, defect: str | None = typer.Option(None, help="plant a defect: carry-error | never-abstain"),
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


@lab_app.command("real")
def lab_real(out: Path = typer.Option(Path("runs/lab-real"), help="run directory: audits, claims-real.md/json"),
             adapters: Path = typer.Option(Path("models/real-lora"), help="folder of <variant>/ LoRA adapters"),
             problems: int = typer.Option(60, help="problems per split of the main audit (25 % unanswerable)"),
             samples: int = typer.Option(4, help="samples per problem"),
             kl_problems: int = typer.Option(16, help="test problems scored by the exact KL probe (0: no KL)"),
             calibration_problems: int = typer.Option(24, help="test problems of the calibration audits"),
             framing_problems: int = typer.Option(20, help="test problems re-asked under every frame (0: no framing)"),
             faithfulness_problems: int = typer.Option(12, help="test problems of the faithfulness audit (0: none)"),
             bootstrap: int = typer.Option(1000, help="bootstrap resamples of each interval"),
             seed: int = 0,
             docs: Path | None = typer.Option(None, help="also write claims-real.md/json here (e.g. docs)")) -> None:
    """The claims on SmolLM2-135M-Instruct: audit it against the committed LoRA GRPO adapters."""
    from offtarget.lab.real import RealLabConfig, run_real

    if problems < 1 or samples < 1 or calibration_problems < 1 or min(kl_problems, framing_problems,
                                                                      faithfulness_problems) < 0:
        raise OfftargetError("--problems, --samples and --calibration-problems must be at least 1, "
                             "--kl-problems, --framing-problems and --faithfulness-problems at least 0")
    claims, not_posed = run_real(RealLabConfig(out=str(out), adapters=str(adapters), problems=problems,
                                               samples=samples, kl_problems=kl_problems,
                                               calibration_problems=calibration_problems,
                                               framing_problems=framing_problems,
                                               faithfulness_problems=faithfulness_problems,
                                               bootstrap=bootstrap, seed=seed,
                                               docs=str(docs) if docs else None), console)
    for c in claims:
        console.print(f"{c.recipe}: {c.comparison}: {c.effect_name} "
                      f"{'n/a' if c.effect is None else f'{c.effect:+.3f}'} → {c.verdict}")
    console.print(f"{len(claims)} claims posed, {len(not_posed)} not posed; see {out}/claims-real.md")


@lab_app.command("chat")
def lab_chat(out: Path = typer.Option(Path(DEFAULT_LAB_DIR) / "chat"), seed: int = 0,
             max_steps: int = typer.Option(1200, help="optimizer steps (the last third, at most 400, decay the learning rate)"),
             lr: float = typer.Option(1e-3, help="peak learning rate"),
             eval_problems: int = typer.Option(100, help="test problems of the greedy evaluation in offtarget_lab.json")) -> None:
    """Train the chat lab model: BPE tokenizer, ChatML template, <think> reasoning, \\boxed{} answers."""
    from offtarget.lab.chat_model import ChatModelConfig, build_chat_model

    if max_steps < 1 or eval_problems < 1:
        raise OfftargetError("--max-steps and --eval-problems must be at least 1")
    decay = min(400, max(1, max_steps // 3))
    cfg = ChatModelConfig(max_steps=max_steps, seed=seed, lr=lr, eval_problems=eval_problems, decay_steps=decay,
                          warmup_steps=min(50, max(1, max_steps // 10)))
    command = (f"offtarget lab chat --out {out} --seed {seed} --max-steps {max_steps} --lr {lr:g} "
               f"--eval-problems {eval_problems}")
    meta = build_chat_model(out, cfg, command=command)
    ev = meta["greedy_eval"]
    console.print(f"chat model saved to {out} after {meta['steps']} steps ({meta['train_seconds']}s): "
                  f"greedy accuracy {ev['accuracy']:.2f}, boxed or abstained {ev['parsed']:.2f}")


def _lab_recipes(given: dict, extras: dict, path: Path | None) -> Path | None:
    """``lab run NAME ...``, ``--quick`` or ``--all`` choose the recipes (and the default run directory)."""
    from offtarget.lab.recipes import QUICK, RECIPES

    names = tuple(extras.get("names") or ())
    if extras.get("all_"):
        given["recipes"] = tuple(RECIPES)
    elif names:
        given["recipes"] = names
    elif extras.get("quick"):
        given["recipes"] = QUICK
    unknown = [r for r in given.get("recipes", ()) if r not in RECIPES]
    if unknown:
        raise OfftargetError(f"unknown recipe(s) {unknown}: choose from {', '.join(RECIPES)}")
    if path is None and "recipes" in given:
        default_out = {tuple(RECIPES): "lab_runs/all", QUICK: "lab_runs/quick"}.get(given["recipes"], "lab_runs/custom")
        given.setdefault("out", default_out)
    return path


def _lab_run(cfg) -> None:
    from rich.table import Table

    from offtarget.lab.runner import run_lab

    claims = run_lab(cfg, console)
    table = Table(title="lab claims (full wording in claims.md)")
    for col, kw in (("#", {}), ("recipe / comparison", {"overflow": "fold"}), ("effect [95% CI]", {"overflow": "fold"}),
                    ("verdict", {"overflow": "fold"})):
        table.add_column(col, **kw)
    colour = {"reproduced": "green", "not reproduced": "red", "inconclusive": "yellow"}
    for i, c in enumerate(claims, 1):
        f = (lambda x: "n/a" if x is None else f"{x:+.3f}")
        table.add_row(str(i), f"{c.recipe}\n[dim]{c.comparison}[/dim]", f"{c.effect_name}\n{f(c.effect)} [{f(c.low)}, {f(c.high)}]",
                      f"[{colour[c.verdict]}]{c.verdict}[/{colour[c.verdict]}]")
    console.print(table)
    console.print(f"claims: {cfg.out}/claims.md  report: {cfg.out}/audits/main/report.html")


def _register_lab_run() -> None:
    from offtarget.lab.runner import LabRunConfig

    config_command(
        lab_app, LabRunConfig, _lab_run, "run",
        "Reproduce the claims on tiny models and write the claims table (resumable).",
        extras={
            "names": (list[str] | None, typer.Argument(None, help="recipe names (default: the --quick set)")),
            "quick": (bool, typer.Option(False, "--quick", help="four claims from two GRPO runs (~10 min on 2 cores)")),
            "all_": (bool, typer.Option(False, "--all", help="every recipe (~1 hour on 2 cores)")),
        },
        prepare=_lab_recipes,
    )


_register_lab_run()


def main() -> None:
    try:
        app()
    except OfftargetError as exc:
        code = getattr(exc, "exit_code", 2)
        label = "[red]error:[/red] " if code else ""
        Console(stderr=True, soft_wrap=True).print(f"{label}{escape(_one_line(str(exc)))}", highlight=False)
        sys.exit(code)
    except OSError as exc:  # a full disk, a read-only mount, a path that is a file: the user's machine, not a bug
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(_one_line(_os_message(exc)))}",
                                                   highlight=False)
        sys.exit(2)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _os_message(exc: OSError) -> str:
    import errno

    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    fix = {errno.ENOSPC: "free some space or choose another --out",
           errno.EROFS: "choose a writable --out",
           errno.EACCES: "choose a writable --out", errno.ENOTDIR: "a path component is a file; choose another --out",
           errno.EEXIST: "choose another --out"}.get(exc.errno, "check the path and the disk")
    return f"{where}{exc.strerror or exc} ({fix})"


if __name__ == "__main__":
    main()
