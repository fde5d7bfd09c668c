"""``offtarget train sft | grpo | accelerate-config``: CLI flags generated from the run configs.

Every field of :class:`~offtarget.train.config.SFTRunConfig` / ``GRPORunConfig`` becomes a flag
(``learning_rate`` → ``--learning-rate``, booleans as ``--x/--no-x``, lists by repeating the flag)
whose help text is the field's docstring, so flags, YAML keys and documentation cannot drift
apart. Precedence: flags given > ``--config FILE.yaml`` > the run's own ``config.yaml`` (with
``--resume``) > defaults.

    offtarget train grpo --model models/lab/sft --out runs/g1
    offtarget train grpo --out runs/g1 --resume
    offtarget train sft --model models/lab/base --data sft.jsonl --out runs/s1
    accelerate launch --config_file "$(offtarget train accelerate-config ddp)" -m offtarget.cli train grpo ...
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer

from offtarget.train.config import (
    GRPORunConfig,
    SFTRunConfig,
    base_type,
    default_of,
    field_docs,
    field_types,
    load_config,
)

app = typer.Typer(no_args_is_help=True, help="Guarded SFT and GRPO on Hugging Face TRL.")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _option_type(tp: Any) -> Any:
    base = base_type(tp)
    if typing.get_origin(base) is list:
        return list[str] | None
    return base | None


def config_command(cls: type, run: Callable[[Any], Any], name: str, help_text: str) -> None:
    """Register ``name`` on :data:`app` with one option per field of ``cls`` (all defaulting to None)."""
    docs = field_docs(cls)
    types = field_types(cls)
    params = [
        inspect.Parameter(
            "config", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
            default=typer.Option(None, "--config", help="YAML file with the same keys as these flags."),
        )
    ]
    annotations: dict[str, Any] = {"config": Path | None, "return": None}
    for f in fields(cls):
        base = base_type(types[f.name])
        default = default_of(f)
        shown = "none" if default is None else (", ".join(default) if isinstance(default, list) else default)
        help_ = f"{docs.get(f.name, '')} [default: {shown}]"
        decl = f"{_flag(f.name)}/--no-{f.name.replace('_', '-')}" if base is bool else _flag(f.name)
        ann = _option_type(types[f.name])
        params.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=ann,
            default=typer.Option(None, decl, help=help_, show_default=False),
        ))
        annotations[f.name] = ann

    def command(**kwargs: Any) -> None:
        path = kwargs.pop("config")
        given = {k: v for k, v in kwargs.items() if v is not None}
        out = given.get("out")
        if path is None and given.get("resume") and out and (Path(out) / "config.yaml").exists():
            path = Path(out) / "config.yaml"  # resume: the run's own config, flags on top
            given.setdefault("overwrite", False)
        run(load_config(cls, path, given))

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__doc__ = help_text
    command.__name__ = name.replace("-", "_")
    app.command(name, help=help_text)(command)


def _run_grpo(cfg: GRPORunConfig) -> None:
    from offtarget.train.grpo_run import run_grpo

    run_grpo(cfg)


def _run_sft(cfg: SFTRunConfig) -> None:
    from offtarget.train.sft import run_sft

    run_sft(cfg)


config_command(
    GRPORunConfig, _run_grpo, "grpo",
    "GRPO on TRL with a difficulty window, dynamic sampling, optional GRPO-RoC and curriculum, and the "
    "side-effect monitor. Writes OUT/final (audit it with `offtarget audit --model rl=OUT/final`).",
)
config_command(
    SFTRunConfig, _run_sft, "sft",
    "SFT on TRL (completion-only loss) from a prompt/completion JSONL file. Writes OUT/final.",
)


@app.command("accelerate-config")
def accelerate_config(name: str = typer.Argument("ddp", help="ddp | fsdp | zero3 | multi_cpu")) -> None:
    """Print the path of a packaged accelerate config file (for `accelerate launch --config_file`)."""
    from offtarget.train import accelerate_config_path

    typer.echo(str(accelerate_config_path(name)))


__all__ = ["app", "config_command"]

