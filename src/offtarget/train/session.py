"""The lifecycle every ``offtarget train`` run shares: start, resume point, trainer arguments, finish.

1. :func:`start` checks and prepares the run directory (refusing to clobber a run unless
   ``--overwrite``), writes ``config.yaml`` atomically, and resolves the device.
2. :func:`resume_point` finds the newest TRL checkpoint under ``checkpoints/`` for ``--resume``
   and drops the rows of ``monitor.jsonl`` / ``samples.jsonl`` written after it (that stretch of
   training is re-run). A run killed before its first checkpoint restarts from step 0.
3. :func:`common_args` are the ``TrainingArguments`` fields SFT and GRPO share (CPU: ``use_cpu=True,
   bf16=False``; checkpoints every ``save_steps`` for resume).
4. :func:`finish` writes ``final/`` atomically (``save_pretrained`` + tokenizer, via
   ``Trainer.save_model`` so FSDP / ZeRO-3 weights are gathered) — or copies ``best/`` there when
   a guard asked to restore — and ``summary.json``.

Resuming a killed run::

    offtarget train grpo --model models/lab/sft --out runs/g1 --save-steps 50   # killed at step 120
    offtarget train grpo --out runs/g1 --resume                                  # continues from step 100

(``--resume`` reads ``runs/g1/config.yaml``; flags given with it override it, e.g. ``--steps``.)

    >>> resolve_device("cpu")
    'cpu'
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import torch

from offtarget import __version__
from offtarget.errors import AlreadyDone, OfftargetError
from offtarget.train.config import config_to_yaml
from offtarget.train.rundir import RunDir, write_json_atomic, write_text_atomic


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise OfftargetError("--device cuda: no CUDA device is visible; use --device cpu or auto")
    return device


def quiet(verbose: bool) -> None:
    """Unless ``verbose``: no weight-loading bars, no transformers info/warning chatter, no TRL-internal
    deprecation noise (``OFFTARGET_VERBOSE=1`` in the environment is the same as ``--verbose``)."""
    import os
    import warnings

    if verbose or os.environ.get("OFFTARGET_VERBOSE", "") not in ("", "0"):
        return
    from transformers.utils import logging as hf_logging

    # TRL 1.16 calls transformers' deprecated gradient_checkpointing_* aliases on every generation.
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.*deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
    hf_logging.disable_progress_bar()  # "Loading weights: 100%|..." on every from_pretrained
    hf_logging.set_verbosity_error()


def quiet_trainer(trainer: Any, verbose: bool) -> None:
    """Unless ``verbose``: keep the trainer's progress bar but drop the log dict it prints at every
    ``logging_steps`` (the metrics still reach ``report_to``, ``log_history`` and ``summary.json``)."""
    import os

    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    if verbose or os.environ.get("OFFTARGET_VERBOSE", "") not in ("", "0"):
        return

    class BarOnly(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            return None

    if trainer.pop_callback(PrinterCallback) is not None:
        return  # no bar (--no-progress): nothing else to print
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(BarOnly)


def start(cfg: Any, state: Any) -> RunDir:
    """Prepare the run directory and write ``config.yaml`` (main process); every process waits."""
    quiet(cfg.verbose)
    run = RunDir(cfg.out, start_model=cfg.model)
    refuse_if_finished(run, cfg)
    run.prepare(resume=cfg.resume, overwrite=cfg.overwrite, is_main=state.is_main_process)
    state.wait_for_everyone()
    if state.is_main_process:
        write_text_atomic(run.config, config_to_yaml(cfg))
    state.wait_for_everyone()
    return run


def refuse_if_finished(run: RunDir, cfg: Any) -> None:
    """``--resume`` of a run whose ``summary.json`` says it reached ``--steps`` (or was stopped by its
    monitor) changes nothing: training on would pass ``--steps`` and overwrite ``final/``."""
    if not cfg.resume or not run.summary.exists():
        return
    try:
        summary = json.loads(run.summary.read_text())
        done, planned = int(summary["steps"]), int(summary.get("max_steps", summary["steps"]))
    except (OSError, ValueError, KeyError, TypeError):
        return
    if done >= cfg.steps or (summary.get("stopped_early") and cfg.steps <= planned):
        raise AlreadyDone(f"{run.root}: this run already finished at step {done} of {planned} "
                          f"(final model in {run.final}); nothing to resume. Pass a larger --steps to train on.")


def resume_point(run: RunDir, cfg: Any, state: Any) -> str | None:
    """The checkpoint to resume from (``--resume``), after trimming the JSONL logs to it."""
    if not cfg.resume:
        return None
    ckpt = run.last_checkpoint()
    step = int(ckpt.rsplit("-", 1)[1]) if ckpt else 0
    if state.is_main_process:
        if ckpt is None:
            print(f"[offtarget] --resume: no checkpoint in {run.checkpoints}; starting from step 0", file=sys.stderr)
        # monitor rows at the checkpoint's step are consistent with it (the pass runs before the save);
        # samples generated at that step feed the step being redone.
        run.truncate_jsonl(run.monitor, step if ckpt else -1)
        run.truncate_jsonl(run.samples, step - 1)
        if ckpt is None:
            for stale in (run.best,):
                if stale.exists():
                    import shutil

                    shutil.rmtree(stale)
    state.wait_for_everyone()
    return ckpt


def common_args(cfg: Any, run: RunDir, device: str) -> dict[str, Any]:
    """``TrainingArguments`` fields shared by SFT and GRPO."""
    on_cpu = device == "cpu"
    return {
        "output_dir": str(run.checkpoints),
        "max_steps": cfg.steps,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": cfg.lr_scheduler,
        "warmup_steps": cfg.warmup_steps,
        "logging_steps": cfg.logging_steps,
        "save_strategy": "steps" if cfg.save_steps else "no",
        "save_steps": cfg.save_steps or 500,
        "save_total_limit": cfg.save_total_limit,
        "report_to": list(cfg.report_to),
        "seed": cfg.seed,
        "use_cpu": on_cpu,
        "bf16": (not on_cpu) and torch.cuda.is_bf16_supported(),
        "dataloader_num_workers": 0,
        "disable_tqdm": not cfg.progress,
    }


def trl_config(config_cls: type, cfg: Any, **fields_: Any) -> Any:
    """``config_cls(**fields_)`` with the user's ``trl_args`` on top; an unknown key is a one-line error."""
    import dataclasses

    from offtarget.errors import OfftargetError

    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(cfg.trl_args) - known)
    if unknown:
        raise OfftargetError(f"--trl-args {unknown}: not fields of TRL's {config_cls.__name__}; see its documentation")
    return config_cls(**{**fields_, **cfg.trl_args})


def finish(trainer: Any, run: RunDir, cfg: Any, monitor: Any, seconds: float, extra: dict | None = None) -> dict:
    """Write ``final/`` (or restore ``best/`` into it) and ``summary.json``; return the summary."""
    main = trainer.accelerator.is_main_process
    restore = bool(monitor is not None and monitor.restore)
    restored_from = None
    meta = {
        "kind": "offtarget_train",
        "version": 1,
        "offtarget_version": __version__,
        "start_model": cfg.model,
        "steps": int(trainer.state.global_step),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if restore and monitor.best is not None and run.best.exists():
        restored_from = monitor.best["step"]
        if main:
            run.copy_model(run.best, run.final, {**meta, "restored_from_step": restored_from})
        trainer.accelerator.wait_for_everyone()
    else:  # (a restore without best/ was reported by the monitor)
        run.save_model(trainer, run.final, meta)
    summary = {
        "kind": "offtarget_train_summary",
        "version": 1,
        "offtarget_version": __version__,
        "command": " ".join(sys.argv),
        "platform": platform.platform(),
        "processes": trainer.accelerator.num_processes,
        "steps": int(trainer.state.global_step),
        "max_steps": cfg.steps,
        "train_seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / max(1, trainer.state.global_step), 4),
        "stopped_early": int(trainer.state.global_step) < cfg.steps,
        "restored_from_step": restored_from,
        "final": str(run.final),
        "config": asdict(cfg),
        **(extra or {}),
    }
    if monitor is not None:
        m = monitor.summary()
        # overhead: the periodic passes relative to the training time without any monitor work
        bare = seconds - m["seconds"] - m["baseline_seconds"]
        summary["monitor"] = {**m, "overhead_fraction": round(m["seconds"] / max(1e-9, bare), 4)}
    if main:
        write_json_atomic(run.summary, summary)
    return summary


class Timer:
    """Wall-clock seconds since construction."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


__all__ = ["Timer", "common_args", "finish", "quiet", "quiet_trainer", "resolve_device", "resume_point", "start"]
