"""Build the lab's base and SFT checkpoints on CPU with TRL's ``SFTTrainer``.

Learning addition is a sharp phase transition (measured on the lab's feasibility runs), so a
fixed step budget either stops short or overshoots into a model RL cannot improve. Instead
the learning rate stays constant until greedy accuracy on held-out problems reaches a
target, then decays linearly to zero over ``decay_steps`` and training stops.

    offtarget lab pretrain --out runs/lab/base
    offtarget lab sft --base runs/lab/base --out runs/lab/sft
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from datasets import Dataset
from transformers import TrainerCallback

from offtarget.lab.corpus import FORMAT_MIX, class_of, pretrain_rows, sft_rows
from offtarget.models.hf_engine import HFEngine
from offtarget.models.loading import Checkpoint
from offtarget.models.sampling import SamplingParams
from offtarget.tasks.arithmetic import ArithmeticTask


@dataclass
class BuildConfig:
    """One lab training stage (pretrain or SFT)."""

    max_steps: int = 2000
    """Upper bound; the accuracy trigger normally ends training earlier."""
    batch_size: int = 64
    lr: float = 3e-3
    """Peak learning rate (AdamW, betas 0.9/0.98, no weight decay), as measured to work here."""
    warmup_steps: int = 50
    target_accuracy: float = 0.5
    """Greedy in-distribution accuracy that triggers the decay phase. 0.5 leaves a base (and an
    SFT model) with sampled accuracy near 0.7: room for RL to improve, as the recipes need."""
    decay_steps: int = 100
    eval_every: int = 50
    eval_problems: int = 100
    seed: int = 0


class _AccuracyTrigger(TrainerCallback):
    """Evaluates greedy accuracy every ``eval_every`` steps; starts the decay once it reaches the target."""

    def __init__(self, cfg: BuildConfig, tokenizer, schedule: _TriggeredSchedule, log: list) -> None:
        self.cfg, self.tok, self.schedule, self.log = cfg, tokenizer, schedule, log
        task = ArithmeticTask()
        self.task = task
        self.problems = [p for p in task.problems("test", cfg.eval_problems, seed=99) if not p.should_abstain]

    def on_step_end(self, args, state, control, model=None, **kw):
        step = state.global_step
        if self.schedule.trigger is not None:
            if step >= self.schedule.trigger + self.cfg.decay_steps:
                control.should_training_stop = True
            return control
        if step % self.cfg.eval_every == 0:
            acc = greedy_accuracy(model, self.tok, self.task, self.problems)
            self.log.append({"step": step, "greedy_accuracy": acc})
            if acc >= self.cfg.target_accuracy or step >= self.cfg.max_steps - self.cfg.decay_steps:
                self.schedule.trigger = step
        return control


class _TriggeredSchedule:
    """LR multiplier: warmup, constant, then linear decay from the trigger step."""

    def __init__(self, warmup: int, decay: int) -> None:
        self.warmup, self.decay, self.trigger = warmup, decay, None

    def __call__(self, step: int) -> float:
        if self.trigger is not None:
            return max(0.0, 1 - (step - self.trigger) / self.decay)
        return min(1.0, (step + 1) / self.warmup)


@torch.inference_mode()
def greedy_accuracy(model, tokenizer, task: ArithmeticTask, problems) -> float:
    was_training = model.training
    model.eval()
    engine = HFEngine(Checkpoint("live", "", model, tokenizer, "live"))
    out = engine.generate([p.prompt for p in problems], SamplingParams(n=1, temperature=0, max_new_tokens=24), 0, 1)
    if was_training:
        model.train()
    return sum(task.verify(p, s[0].text).correct for p, s in zip(problems, out)) / max(1, len(problems))


def cpu_sft_args(output_dir: Path, max_steps: int, batch_size: int, seed: int, **settings):
    """TRL's ``SFTConfig`` as the lab trains on CPU: float32, loss on the completion only, gradients
    clipped at 1, no checkpoints and no reporting; ``settings`` adds or overrides fields."""
    from trl import SFTConfig

    return SFTConfig(**{
        "output_dir": str(output_dir), "max_steps": max_steps, "per_device_train_batch_size": batch_size,
        "max_grad_norm": 1.0, "save_strategy": "no", "report_to": [], "use_cpu": True, "bf16": False, "seed": seed,
        "completion_only_loss": True, "dataloader_num_workers": 0, **settings})


def _train(model, tokenizer, rows: list[dict], cfg: BuildConfig, out_dir: Path, meta: dict) -> dict:
    from trl import SFTTrainer

    schedule = _TriggeredSchedule(cfg.warmup_steps, cfg.decay_steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    log: list = []
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    args = cpu_sft_args(tmp / "trainer", cfg.max_steps, cfg.batch_size, cfg.seed, logging_steps=cfg.eval_every,
                        disable_tqdm=False)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        optimizers=(optimizer, scheduler),
        callbacks=[_AccuracyTrigger(cfg, tokenizer, schedule, log)],
    )
    from offtarget.train.session import quiet_trainer

    quiet_trainer(trainer, verbose=False)  # the bar, not a log dict per eval (OFFTARGET_VERBOSE=1 prints them)
    t0 = time.time()
    trainer.train()
    model.eval()
    meta = {**meta, "config": asdict(cfg), "eval_log": log, "trigger_step": schedule.trigger,
            "steps": trainer.state.global_step, "train_seconds": round(time.time() - t0, 1)}
    save_atomically(model, tokenizer, out_dir, meta)
    return meta


def save_atomically(model, tokenizer, out_dir: Path, meta: dict, write_more=None) -> None:
    """Write into ``<out>.tmp`` and rename, so a killed build never leaves a half-written model;
    ``write_more(tmp)`` adds files that travel with the checkpoint."""
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(tmp / "trainer", ignore_errors=True)
    if write_more is not None:
        write_more(tmp)
    (tmp / "offtarget_lab.json").write_text(json.dumps(meta, indent=2))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)


def pretrain(out_dir: str | Path, cfg: BuildConfig | None = None, model_cfg=None) -> dict:
    """A base model that adds in three formats, with a weak foothold on the rare OOD slices."""
    from offtarget.models.tiny import TinyModelConfig, new_tiny_model

    cfg = cfg or BuildConfig()
    model, tok = new_tiny_model(model_cfg or TinyModelConfig(), seed=cfg.seed)
    rows = pretrain_rows(ArithmeticTask(), cfg.max_steps * cfg.batch_size, seed=cfg.seed)
    return _train(model, tok, rows, cfg, Path(out_dir), {"stage": "pretrain", "format_mix": FORMAT_MIX})


@torch.inference_mode()
def measure_class_accuracy(model, tokenizer, task: ArithmeticTask, n_problems: int = 300, samples: int = 4,
                           seed: int = 0) -> dict[str, float]:
    """Accuracy of each ``format/slice`` class at T = 1, the base's honest confidence target."""
    problems = [p for p in task.problems("train", n_problems, seed=seed + 3) if not p.should_abstain]
    engine = HFEngine(Checkpoint("live", "", model, tokenizer, "live"))
    params = SamplingParams(n=samples, temperature=1.0, max_new_tokens=24)
    hits: dict[str, list[int]] = {}
    prefix = {"direct": "d", "reversed": "r", "steps": "s"}
    for fmt, pre in prefix.items():
        out = engine.generate([p.prompt + pre for p in problems], params, seed=seed, n=samples)
        for p, samples_ in zip(problems, out):
            for s in samples_:
                hits.setdefault(class_of(p, fmt), []).append(task.verify(p, pre + s.text).correct)
    return {k: sum(v) / len(v) for k, v in hits.items()}


def sft_config(seed: int = 0, max_steps: int = 150) -> BuildConfig:
    """SFT is short on purpose: it teaches the confidence field and abstention, not more addition."""
    return BuildConfig(lr=1e-3, target_accuracy=1.01, max_steps=max_steps, decay_steps=100, warmup_steps=20, seed=seed)


def sft(base_dir: str | Path, out_dir: str | Path, cfg: BuildConfig | None = None, defect: str | None = None) -> dict:
    """SFT from the base: stated confidence and abstention (optionally with a planted defect)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = cfg or sft_config()
    tok = AutoTokenizer.from_pretrained(base_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    task = ArithmeticTask()
    class_acc = measure_class_accuracy(model, tok, task, seed=cfg.seed)
    rows = sft_rows(task, cfg.max_steps * cfg.batch_size, class_acc, seed=cfg.seed, defect=defect)
    model.train()
    return _train(model, tok, rows, cfg, Path(out_dir),
                  {"stage": "sft", "base": str(base_dir), "class_accuracy": class_acc, "defect": defect})
