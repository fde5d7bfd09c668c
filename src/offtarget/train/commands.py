"""``offtarget train sft | grpo | ssd | filter-refinements | accelerate-config``: CLI flags generated from the run configs.

Every field of :class:`~offtarget.train.config.SFTRunConfig` / ``GRPORunConfig`` becomes a flag
(``learning_rate`` → ``--learning-rate``, booleans as ``--x/--no-x``, lists by repeating the flag)
whose help text is the field's docstring, so flags, YAML keys and documentation cannot drift
apart. Precedence: flags given > ``--config FILE.yaml`` > the run's own ``config.yaml`` (with
``--resume``) > defaults.

    offtarget train grpo --model models/lab/sft --out runs/g1
    offtarget train grpo --out runs/g1 --resume
    offtarget train sft --model models/lab/base --data sft.jsonl --out runs/s1
    offtarget train ssd --model models/lab/sft --out runs/ssd1 --keep correct
    offtarget train filter-refinements --student models/lab/sft --data refined.jsonl --out runs/rf1
    accelerate launch --config_file "$(offtarget train accelerate-config ddp)" -m offtarget.cli train grpo ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from offtarget.config import config_command
from offtarget.train.config import GRPORunConfig, SFTRunConfig
from offtarget.train.refinement_filter import RefinementFilterConfig
from offtarget.train.ssd import SSDRunConfig

app = typer.Typer(no_args_is_help=True, help="Guarded SFT and GRPO on Hugging Face TRL.")


def _resume_config(given: dict[str, Any], _extras: dict[str, Any], path: Path | None) -> Path | None:
    """``--resume`` without ``--config``: the run's own ``config.yaml``, flags on top."""
    out = given.get("out")
    if path is None and given.get("resume") and out and (Path(out) / "config.yaml").exists():
        given.setdefault("overwrite", False)
        return Path(out) / "config.yaml"
    return path


def _run_grpo(cfg: GRPORunConfig) -> None:
    from offtarget.train.grpo_run import run_grpo

    run_grpo(cfg)


def _run_sft(cfg: SFTRunConfig) -> None:
    from offtarget.train.sft import run_sft

    run_sft(cfg)


def _run_ssd(cfg: SSDRunConfig) -> None:
    from offtarget.train.ssd import run_ssd

    run_ssd(cfg)


def _run_filter(cfg: RefinementFilterConfig) -> None:
    from offtarget.train.refinement_filter import run_filter

    run_filter(cfg)


config_command(
    app, GRPORunConfig, _run_grpo, "grpo",
    "GRPO on TRL with a difficulty window, dynamic sampling, optional GRPO-RoC and curriculum, and the "
    "side-effect monitor. Writes OUT/final (audit it with `offtarget audit --model rl=OUT/final`).",
    prepare=_resume_config,
)
config_command(
    app, SFTRunConfig, _run_sft, "sft",
    "SFT on TRL (completion-only loss) from a prompt/completion JSONL file. Writes OUT/final.",
    prepare=_resume_config,
)
config_command(
    app, SSDRunConfig, _run_ssd, "ssd",
    "Simple self-distillation: sample from the model, keep what --keep accepts (the task's verifier by default), "
    "write OUT/ssd_data.jsonl and OUT/ssd_stats.json, then SFT on it as `train sft` does. Writes OUT/final.",
    prepare=_resume_config,
)
config_command(
    app, RefinementFilterConfig, _run_filter, "filter-refinements",
    "Keep a teacher's refined examples only when the student's mean token log-prob of them lies in a band "
    "(default: above the 10% quantile of its own samples). Writes OUT/kept.jsonl, OUT/dropped.jsonl, "
    "OUT/filter_stats.json.",
)


@app.command("accelerate-config")
def accelerate_config(name: str = typer.Argument("ddp", help="ddp | fsdp | zero3 | multi_cpu")) -> None:
    """Print the path of a packaged accelerate config file (for `accelerate launch --config_file`)."""
    from offtarget.train import accelerate_config_path

    typer.echo(str(accelerate_config_path(name)))


__all__ = ["app"]

