"""The run directory of ``offtarget train``: what is in it, and how it is written without half-written files.

    runs/g1/
      config.yaml            resolved config (written first; `--resume` reads it back)
      train_problems.jsonl   the training problems, in training order (after window and curriculum)
      difficulty.json        offline difficulty window: pass rates, kept/dropped counts and ids by reason
      monitor_reference.json start-model samples the monitor's KL is measured on
      monitor.jsonl          one row per monitor pass (metrics, guards, decision)
      samples.jsonl          one row per generated completion (prompt, completion, rewards, advantage, group)
      ssd_data.jsonl         train ssd: the kept samples (its SFT data); ssd_stats.json: what was kept
      generations.sqlite     train ssd: the start model's samples (the audit's store)
      checkpoints/           TRL checkpoints every save_steps (resume_from_checkpoint)
      best/                  best monitored checkpoint so far (save_pretrained)
      final/                 the trained model (save_pretrained + tokenizer): `offtarget audit --model rl=runs/g1/final`
      summary.json           steps, seconds, stop reason, monitor overhead

Atomicity: model directories are written to ``<name>.tmp`` and renamed into place; JSON/YAML
files are written to a temporary file and renamed. JSONL files are appended line by line and
flushed; a crash can leave at most one partial last line, which :func:`read_jsonl` skips and
:meth:`RunDir.truncate_jsonl` removes on resume (rows past the resumed step are dropped too,
since that stretch of training is re-run).

    >>> run = RunDir("runs/g1")
    >>> str(run.final), str(run.samples)
    ('runs/g1/final', 'runs/g1/samples.jsonl')
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf → None, numpy and torch scalars → Python numbers, tuples → lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(_clean(data), indent=2) + "\n")


def append_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Append rows (one JSON object per line) and flush; returns how many were written."""
    lines = [json.dumps(_clean(r)) for r in rows]
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")
        fh.flush()
    return len(lines)


def read_jsonl(path: Path) -> list[dict]:
    """Every complete row of a JSONL file; a torn last line (a crash mid-write) is skipped."""
    if not Path(path).exists():
        return []
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def replace_dir(tmp: Path, dest: Path) -> None:
    """Move a finished ``tmp`` directory to ``dest``, replacing an older ``dest``.

    The old directory is renamed aside first, so at every moment either the old or the new
    complete directory exists under a known name (``dest`` or ``dest.old``).
    """
    old = dest.with_name(dest.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old.exists():
        shutil.rmtree(old)


class RunDir:
    """Paths and safe writes of one training run directory (see the module docstring)."""

    def __init__(self, root: str | Path, start_model: str | None = None) -> None:
        self.root = Path(root)
        self.start_model = start_model
        """The start checkpoint: a LoRA adapter saved here names it (portably) as its base."""

    # paths ------------------------------------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def monitor(self) -> Path:
        return self.root / "monitor.jsonl"

    @property
    def samples(self) -> Path:
        return self.root / "samples.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def best(self) -> Path:
        return self.root / "best"

    @property
    def final(self) -> Path:
        return self.root / "final"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def problems(self) -> Path:
        return self.root / "train_problems.jsonl"

    @property
    def difficulty(self) -> Path:
        return self.root / "difficulty.json"

    @property
    def reference(self) -> Path:
        return self.root / "monitor_reference.json"

    # lifecycle --------------------------------------------------------------------------------
    def prepare(self, *, resume: bool, overwrite: bool, is_main: bool = True) -> None:
        """Check the directory can be used; wipe it with ``overwrite``; refuse to clobber a run."""
        occupied = self.root.exists() and any(self.root.iterdir())
        if occupied and not resume and not overwrite:
            raise OfftargetError(
                f"--out {self.root}: the run directory exists and is not empty; "
                "pass --resume to continue that run or --overwrite to start over"
            )
        if resume and not self.config.exists():
            raise OfftargetError(f"--resume: {self.config} not found; is {self.root} an offtarget training run?")
        if overwrite and occupied and is_main:
            shutil.rmtree(self.root)
        if is_main:
            self.root.mkdir(parents=True, exist_ok=True)

    def last_checkpoint(self) -> str | None:
        """The newest *complete* checkpoint under checkpoints/, or None.

        transformers writes ``trainer_state.json`` last (after weights, optimizer and RNG state)
        and its own ``get_last_checkpoint`` does not check for it, so a run killed mid-save would
        resume from a torn directory; here such a directory is skipped.
        """
        if not self.checkpoints.is_dir():
            return None
        found = []
        for d in self.checkpoints.iterdir():
            name = d.name
            if d.is_dir() and name.startswith("checkpoint-") and name.split("-", 1)[1].isdigit():
                try:
                    json.loads((d / "trainer_state.json").read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                found.append((int(name.split("-", 1)[1]), d))
        return str(max(found)[1]) if found else None

    def truncate_jsonl(self, path: Path, max_step: int) -> None:
        """Keep the rows with ``step <= max_step`` (rewritten atomically); drops a torn last line."""
        if not path.exists():
            return
        rows = [r for r in read_jsonl(path) if int(r.get("step", 0)) <= max_step]
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))

    def save_model(self, trainer: Any, dest: Path, meta: dict | None = None,
                   meta_name: str = "offtarget_train.json") -> None:
        """``trainer.save_model`` into ``dest.tmp`` on every process, then rename on the main one.

        ``Trainer.save_model`` gathers FSDP / ZeRO-3 weights and calls ``save_pretrained`` (plus the
        tokenizer) on the main process; every process must call it.
        """
        tmp = dest.with_name(dest.name + ".tmp")
        main = trainer.accelerator.is_main_process
        if main and tmp.exists():
            shutil.rmtree(tmp)
        trainer.accelerator.wait_for_everyone()
        trainer.save_model(str(tmp))
        trainer.accelerator.wait_for_everyone()
        if main:
            (tmp / "training_args.bin").unlink(missing_ok=True)
            if meta is not None:
                write_json_atomic(tmp / meta_name, meta)
            start = (meta or {}).get("start_model") or self.start_model
            if start and (tmp / "adapter_config.json").exists():
                from offtarget.models.adapters import record_base

                record_base(tmp, start)  # a portable base name, not this machine's absolute path
            replace_dir(tmp, dest)
        trainer.accelerator.wait_for_everyone()

    def copy_model(self, src: Path, dest: Path, meta: dict | None = None) -> None:
        """Copy a saved model directory (e.g. best/ → final/) atomically; main process only."""
        tmp = dest.with_name(dest.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        shutil.copytree(src, tmp)
        if meta is not None:
            write_json_atomic(tmp / "offtarget_train.json", meta)
        replace_dir(tmp, dest)


__all__ = [
    "RunDir",
    "append_jsonl",
    "read_jsonl",
    "replace_dir",
    "write_json_atomic",
    "write_text_atomic",
]
