"""``offtarget train sft``: TRL's SFTTrainer on prompt-completion JSONL, completion-only loss.

    offtarget train sft --model models/lab/base --data sft.jsonl --out runs/s1 --steps 300

The same lifecycle as GRPO (:mod:`offtarget.train.session`): ``config.yaml``, resumable
checkpoints every ``save_steps``, an atomic ``final/``, ``summary.json``; the side-effect
monitor is available (``--monitor-every N`` with ``--task``) but off by default, since SFT data
need not come from a verifiable task. No subclass: SFT needs no extension of TRL.

CPU settings follow ``offtarget.lab.build``: ``use_cpu=True, bf16=False``; completion-only loss
(whole-sequence loss learned far slower on the lab's 0.86 M-parameter model).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from offtarget.train.config import SFTRunConfig


def run_sft(cfg: SFTRunConfig, log: Callable[[str], None] | None = None) -> dict:
    """Run SFT as ``cfg`` says; returns the summary also written to ``summary.json``."""
    from accelerate import PartialState

    from offtarget.train.data import sft_rows
    from offtarget.train.session import resolve_device, start

    cfg.validate()
    device = resolve_device(cfg.device)
    # cpu=True before anything else touches the distributed state: under `accelerate launch` or
    # torchrun on a CPU machine this makes it MULTI_CPU (gloo) instead of silently single-process.
    state = PartialState(cpu=device == "cpu")
    rows = sft_rows(cfg.data)
    run = start(cfg, state)
    return train_on_rows(cfg, rows, run, state, device, log)


def train_on_rows(cfg: SFTRunConfig, rows: list[dict], run: Any, state: Any, device: str,
                  log: Callable[[str], None] | None = None, ckpt: Any = None, extra: dict | None = None) -> dict:
    """SFTTrainer on ``rows`` in the prepared run directory ``run``: resume point, training, ``final/``.

    Shared by ``train sft`` and the pipelines that build their data first (``train ssd``); ``ckpt``
    is the already loaded start model, if the caller has one.
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from offtarget.models.loading import load_checkpoint
    from offtarget.train.lora import lora_config
    from offtarget.train.monitor import GuardMonitor
    from offtarget.train.session import Timer, common_args, finish, quiet_trainer, resume_point, trl_config

    say = log or (lambda msg: print(f"[offtarget] {msg}", file=sys.stderr, flush=True))
    if ckpt is None:
        ckpt = load_checkpoint(cfg.model, device=str(state.device) if device == "cuda" else "cpu")
    args = trl_config(
        SFTConfig, cfg,
        **common_args(cfg, run, device),
        per_device_train_batch_size=cfg.batch_size,
        completion_only_loss=cfg.completion_only_loss,
        max_length=cfg.max_length,
    )
    trainer = SFTTrainer(model=ckpt.model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=ckpt.tokenizer,
                         peft_config=lora_config(cfg, ckpt.model) if cfg.lora else None)
    quiet_trainer(trainer, cfg.verbose)
    monitor = None
    if cfg.monitor_every:
        from offtarget.tasks import get_task

        monitor = GuardMonitor(cfg, get_task(cfg.task), run, chat_template=cfg.chat_template).bind(trainer)
        trainer.add_callback(monitor)
    resume_from = resume_point(run, cfg, state)
    if state.is_main_process:
        say(f"SFT: {len(rows)} rows, {cfg.steps} steps × {cfg.batch_size} on {device}"
            + (f"; resuming from {resume_from}" if resume_from else ""))
    timer = Timer()
    trainer.train(resume_from_checkpoint=resume_from)
    summary = finish(trainer, run, cfg, monitor, timer(), extra={"train_rows": len(rows), **(extra or {})})
    if state.is_main_process:
        say(f"done: {summary['steps']} steps in {summary['train_seconds']}s; final model in {run.final}")
    return summary


__all__ = ["run_sft", "train_on_rows"]
