"""The side-effect monitor: a small audit every N steps during training, and guards that can stop a run.

``GuardMonitor`` is a ``transformers.TrainerCallback``. Before the first step (the *baseline*)
and every ``monitor_every`` optimizer steps it samples held-out problems of the task
(``monitor_problems`` from the ``test`` split and as many from ``ood``, ``monitor_samples`` each,
T = 1, offtarget's own sampler) and measures:

==========================  ===================================================================
``id_accuracy``             mean correctness, answerable in-distribution (test) samples
``ood_accuracy``            the same on the ``ood`` split (off-target transfer)
``entropy``                 mean token entropy (nats) of the in-distribution samples
``ece``                     ECE of stated confidence, 10 equal-width bins (RLCR convention),
                            answered in-distribution samples, a missing confidence counting as 0
``dominant_format_share``   share of the most common format among well-formed answers (Echo
                            Chamber, arXiv 2504.07912); ``dominant_format`` names it
``abstention_rate``         share of samples that abstain on unanswerable items (both splits)
``over_abstention``         share of samples that abstain on answerable in-distribution items
``kl``                      forward KL D(π_start ‖ π) per token on start-model samples of the
                            in-distribution prompts (drawn once, ``monitor_reference.json``),
                            teacher-forced (RL's Razor, arXiv 2509.04259): exact over the
                            vocabulary with TRL's reference model when it is loaded (beta > 0,
                            no ZeRO-3/FSDP; :func:`offtarget.models.scoring.forward_kl`), else the
                            sampled estimate, mean over tokens of log π_start(y_t) − log π(y_t)
==========================  ===================================================================

Guards (``MonitorOptions``; empty = off): ``entropy_min``, ``ece_max``, ``dominant_format_max``,
``kl_max``, ``ood_accuracy_drop_max`` (below the baseline pass), ``abstention_min``. A guard
*trips* after ``guard_patience`` consecutive failing passes; then ``guard_action`` decides:
``warn`` logs it, ``stop`` ends training, ``restore`` ends training and the run's final model
becomes ``best/``: the pass with the highest in-distribution accuracy among passes that
passed every guard (saved with ``save_pretrained`` whenever a pass beats it; the baseline
counts, so a run that degrades at once restores the start model).

Distributed: the problems are split across processes, the per-sample results gathered, and
every process computes the metrics from the same gathered list; the decision is then
broadcast from the main process, so all processes stop at the same step (a differing stop
decision hangs the next collective).

Logging: each pass is a row of ``monitor.jsonl``. Its metrics also go into the trainer's
``_metrics["train"]`` as ``monitor/<name>``, which TRL averages into the next ``log()``, so they
reach ``report_to`` (TensorBoard, W&B) and ``trainer.state.log_history``. (Adding them in
``on_log`` is too late: transformers calls user callbacks after the reporting callbacks, and
``log_history`` already holds a copy of the logs.)

    >>> m = compute_metrics([
    ...     {"split": "test", "answerable": True, "correct": True, "abstained": False, "format": "direct",
    ...      "confidence": 0.85, "entropy": 0.2},
    ...     {"split": "test", "answerable": True, "correct": False, "abstained": False, "format": "direct",
    ...      "confidence": None, "entropy": 0.4},
    ... ], kl=(0.0, 0), formats=("direct", "reversed", "steps"))
    >>> m.id_accuracy, round(m.entropy, 2), round(m.ece, 3), m.dominant_format_share
    (0.5, 0.3, 0.075, 1.0)
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import TrainerCallback

from offtarget.models.loading import Checkpoint
from offtarget.models.sampling import HFBackend, SamplingParams
from offtarget.models.scoring import completion_logprobs, forward_kl
from offtarget.stats import expected_calibration_error
from offtarget.tasks.problem import Problem, Task
from offtarget.train.config import MonitorOptions
from offtarget.train.rundir import RunDir, append_jsonl, read_jsonl, write_json_atomic

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Metrics (pure)


@dataclass(frozen=True)
class MonitorMetrics:
    """One monitor pass; ``None`` where a metric has nothing to average."""

    id_accuracy: float | None
    ood_accuracy: float | None
    entropy: float | None
    ece: float | None
    dominant_format: str | None
    dominant_format_share: float | None
    abstention_rate: float | None
    over_abstention: float | None
    malformed_rate: float | None
    kl: float | None
    n_samples: int

    def numeric(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items() if isinstance(v, (int, float)) and v is not None}


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def compute_metrics(samples: Sequence[dict], kl: tuple[float, int], formats: Sequence[str]) -> MonitorMetrics:
    """Monitor metrics from per-sample records and the KL sums ``(Σ log π_ref − log π, tokens)``.

    A record has ``split``, ``answerable``, ``correct``, ``abstained``, ``format``,
    ``confidence`` (None if absent) and ``entropy`` (the sample's mean token entropy).
    """
    idd = [s for s in samples if s["split"] != "ood"]
    id_ans = [s for s in idd if s["answerable"]]
    ood_ans = [s for s in samples if s["split"] == "ood" and s["answerable"]]
    unans = [s for s in samples if not s["answerable"]]
    answered = [s for s in id_ans if not s["abstained"]]
    ece = None
    if answered:
        conf = [0.0 if s["confidence"] is None else float(s["confidence"]) for s in answered]
        ece = float(expected_calibration_error(conf, [float(bool(s["correct"])) for s in answered]))
    shaped = Counter(s["format"] for s in id_ans if s["format"] in formats)
    dominant, share = (None, None)
    if shaped:
        dominant, top = shaped.most_common(1)[0]
        share = top / sum(shaped.values())
    kl_sum, kl_tokens = kl
    return MonitorMetrics(
        id_accuracy=_mean([float(bool(s["correct"])) for s in id_ans]),
        ood_accuracy=_mean([float(bool(s["correct"])) for s in ood_ans]),
        entropy=_mean([float(s["entropy"]) for s in idd]),
        ece=ece,
        dominant_format=dominant,
        dominant_format_share=share,
        abstention_rate=_mean([float(bool(s["abstained"])) for s in unans]),
        over_abstention=_mean([float(bool(s["abstained"])) for s in id_ans]),
        malformed_rate=_mean([float(s["format"] == "malformed") for s in id_ans]),
        kl=kl_sum / kl_tokens if kl_tokens else None,
        n_samples=len(samples),
    )


# ---------------------------------------------------------------------------------------------
# Guards (pure)

GUARDS: dict[str, tuple[str, str]] = {
    "entropy_min": ("entropy", "min"),
    "ece_max": ("ece", "max"),
    "dominant_format_max": ("dominant_format_share", "max"),
    "kl_max": ("kl", "max"),
    "ood_accuracy_drop_max": ("ood_accuracy_drop", "max"),
    "abstention_min": ("abstention_rate", "min"),
}
"""Guard option → (the value it watches, whether the threshold is a floor or a ceiling)."""


@dataclass(frozen=True)
class GuardResult:
    name: str
    value: float | None
    threshold: float
    ok: bool
    """False when the value crossed the threshold; a value that could not be measured passes."""


def check_guards(metrics: MonitorMetrics, opts: MonitorOptions, baseline: MonitorMetrics | None) -> list[GuardResult]:
    """Every configured guard's verdict on one pass (``ood_accuracy_drop`` = baseline − current)."""
    values = asdict(metrics)
    if baseline is not None and metrics.ood_accuracy is not None and baseline.ood_accuracy is not None:
        values["ood_accuracy_drop"] = baseline.ood_accuracy - metrics.ood_accuracy
    else:
        values["ood_accuracy_drop"] = None
    out = []
    for name, (key, kind) in GUARDS.items():
        threshold = getattr(opts, name)
        if threshold is None:
            continue
        value = values.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            ok = True
        else:
            ok = value >= threshold if kind == "min" else value <= threshold
        out.append(GuardResult(name, value, float(threshold), ok))
    return out


# ---------------------------------------------------------------------------------------------
# The callback


class GuardMonitor(TrainerCallback):
    """Runs the monitor audit, logs it, applies the guards; see the module docstring."""

    def __init__(self, opts: MonitorOptions, task: Task, run: RunDir, *, chat_template: bool = True,
                 echo: bool = True) -> None:
        self.opts, self.task, self.run = opts, task, run
        self.chat_template, self.echo = chat_template, echo
        n = opts.monitor_problems
        self.problems: list[Problem] = task.problems("test", n, seed=opts.monitor_seed) + task.problems(
            "ood", n, seed=opts.monitor_seed
        )
        self.trainer: Any = None
        self.baseline: MonitorMetrics | None = None
        self.best: dict | None = None
        """``{"step", "id_accuracy"}`` of the checkpoint in best/."""
        self.streak = 0
        self.stop_reason: str | None = None
        self.restore = False
        """True when a guard tripped with action ``restore``: final/ should be best/."""
        self.reference: list[dict] | None = None
        self.seconds = 0.0
        """Seconds spent in monitor passes after the baseline (the training overhead)."""
        self.baseline_seconds = 0.0
        self.passes = 0
        self.last_step = -1
        self.kl_method: str | None = None

    def bind(self, trainer: Any) -> GuardMonitor:
        """Give the callback its trainer (for the accelerator, the wrapped model and ``_metrics``)."""
        self.trainer = trainer
        return self

    # -- events ---------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        if self.trainer is None:
            raise RuntimeError("GuardMonitor.bind(trainer) must be called before training")
        step = int(state.global_step)
        if step > 0:
            self._restore_state(step)
        if self.reference is None:
            t0 = time.perf_counter()
            self.reference = self._load_or_make_reference(fresh=step == 0)
            self.baseline_seconds += time.perf_counter() - t0
        if self.baseline is None and step == 0:
            self._pass(state, control, baseline=True)
        return control

    def on_step_end(self, args, state, control, **kwargs):
        every = self.opts.monitor_every
        if every and state.global_step % every == 0 and state.global_step != self.last_step:
            self._pass(state, control)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.opts.monitor_every and self.stop_reason is None and state.global_step != self.last_step:
            self._pass(state, control)  # the final model's numbers (a trip here can still restore)
        return control

    # -- one pass -------------------------------------------------------------------------------
    def _pass(self, state, control, baseline: bool = False) -> dict:
        from accelerate.utils import broadcast_object_list

        t0 = time.perf_counter()
        step = int(state.global_step)
        metrics = compute_metrics(*self._evaluate(), formats=tuple(self.task.formats))
        if baseline or self.baseline is None:
            self.baseline = metrics
        guards = check_guards(metrics, self.opts, self.baseline)
        failed = [g for g in guards if not g.ok]
        streak = self.streak + 1 if failed else 0
        tripped = streak >= self.opts.guard_patience and bool(failed)
        decision = self.opts.guard_action if tripped else "continue"
        better = self.best is None or (metrics.id_accuracy or 0.0) > self.best["id_accuracy"]
        is_best = not failed and metrics.id_accuracy is not None and better and self.opts.save_best
        # The same decision on every process, whatever floating-point differences might exist.
        decided = [decision, is_best, streak]
        broadcast_object_list(decided, from_process=0)
        decision, is_best, self.streak = decided
        if is_best:
            self.best = {"step": step, "id_accuracy": metrics.id_accuracy}
            self.run.save_model(self.trainer, self.run.best, self.best, meta_name="offtarget_best.json")
        if decision in ("stop", "restore"):
            control.should_training_stop = True
            self.stop_reason = ", ".join(g.name for g in failed)
            self.restore = decision == "restore"
        seconds = time.perf_counter() - t0
        if baseline:
            self.baseline_seconds += seconds
        else:
            self.seconds += seconds
            self.passes += 1
            m = getattr(self.trainer, "_metrics", None)
            if isinstance(m, dict) and "train" in m:
                for k, v in metrics.numeric().items():
                    m["train"][f"monitor/{k}"].append(v)
                m["train"]["monitor/seconds"].append(seconds)
        self.last_step = step
        row = {
            "step": step,
            "baseline": baseline,
            "seconds": round(seconds, 3),
            **asdict(metrics),
            "guards": [asdict(g) for g in guards],
            "failed": [g.name for g in failed],
            "kl_method": self.kl_method,
            "decision": decision,
            "saved_best": bool(is_best),
            "best_step": None if self.best is None else self.best["step"],
        }
        if self.trainer.accelerator.is_main_process:
            append_jsonl(self.run.monitor, [row])
            if tripped:
                detail = "; ".join(f"{g.name}: {g.value:.4g} vs {g.threshold:g}" for g in failed if g.value is not None)
                msg = f"[offtarget monitor] step {step}: guard tripped ({detail}) → {decision}"
                if self.echo:
                    print(msg, file=sys.stderr, flush=True)
                else:
                    logger.warning(msg)
        return row

    def _evaluate(self) -> tuple[list[dict], tuple[float, int]]:
        """Sample this process's share of the problems, score the KL reference; gather both."""
        from accelerate.utils import gather_object
        from trl.models.utils import unwrap_model_for_generation

        trainer = self.trainer
        acc = trainer.accelerator
        rank, world = acc.process_index, acc.num_processes
        mine = self.problems[rank::world]
        ref_mine = (self.reference or [])[rank::world]
        tok = trainer.processing_class
        params = SamplingParams(n=self.opts.monitor_samples, temperature=1.0, top_k=0,
                                max_new_tokens=self.opts.monitor_max_new_tokens, chat_template=self.chat_template)
        records: list[dict] = []
        kl_sum, kl_tokens = 0.0, 0
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        side = tok.padding_side
        with torch.random.fork_rng(devices=devices), unwrap_model_for_generation(trainer.model_wrapped, acc) as model:
            was_training = model.training
            model.eval()
            tok.padding_side = "left"
            try:
                if mine:
                    backend = HFBackend(Checkpoint("monitor", "", model, tok, "live"))
                    out = backend.generate([p.prompt for p in mine], params, seed=self.opts.monitor_seed,
                                           n=params.n)
                    for p, samples in zip(mine, out, strict=True):
                        for s in samples:
                            v = self.task.verify(p, s.text)
                            records.append({
                                "split": p.split, "answerable": not p.should_abstain, "correct": v.correct,
                                "abstained": v.abstained, "format": v.format, "confidence": v.confidence,
                                "entropy": float(sum(s.entropies) / len(s.entropies)) if s.entropies else 0.0,
                            })
                if ref_mine:
                    live = Checkpoint("current", "", model, tok, "live")
                    prompts = [r["prompt"] for r in ref_mine]
                    completions = [r["completion_ids"] for r in ref_mine]
                    ref_model = self._reference_model()
                    self.kl_method = "exact" if ref_model is not None else "sampled"
                    if ref_model is not None:  # exact: Σ_v p_start (log p_start − log p) at each position
                        start = Checkpoint("start", "", ref_model, tok, "ref")
                        per_token = forward_kl(start, live, prompts, completions, self.chat_template)
                        kl_sum += float(sum(float(k.sum()) for k in per_token))
                    else:  # sampled: log p_start(y_t) − log p(y_t), y ~ start
                        cur = completion_logprobs(live, prompts, completions, self.chat_template)
                        kl_sum += float(sum(sum(r["logprobs"]) - float(lp.sum()) for r, lp in zip(ref_mine, cur)))
                    kl_tokens += sum(len(c) for c in completions)
            finally:
                tok.padding_side = side
                model.train(was_training)
        all_records = gather_object(records) if world > 1 else records
        kl_parts = gather_object([(kl_sum, kl_tokens)]) if world > 1 else [(kl_sum, kl_tokens)]
        return all_records, (sum(k for k, _ in kl_parts), sum(n for _, n in kl_parts))

    def _reference_model(self) -> Any:
        """TRL's reference model when it can be run locally (beta > 0, no ZeRO-3 / FSDP sharding)."""
        ref = getattr(self.trainer, "ref_model", None)
        if ref is None:
            return None
        dist = str(getattr(self.trainer.accelerator, "distributed_type", "NO"))
        if "DEEPSPEED" in dist or "FSDP" in dist:
            return None  # sharded: a forward would need every process in lockstep
        return self.trainer.accelerator.unwrap_model(ref)

    # -- reference samples for KL ------------------------------------------------------------------
    def _load_or_make_reference(self, fresh: bool) -> list[dict] | None:
        if self.run.reference.exists():
            return json.loads(self.run.reference.read_text())["samples"]
        if not fresh:
            logger.warning("monitor: %s missing on resume; KL is not measured in this run", self.run.reference)
            return None
        from accelerate.utils import gather_object
        from trl.models.utils import unwrap_model_for_generation

        trainer = self.trainer
        acc = trainer.accelerator
        tok = trainer.processing_class
        ids = [p for p in self.problems if p.split != "ood"][acc.process_index :: acc.num_processes]
        params = SamplingParams(n=self.opts.monitor_samples, temperature=1.0, top_k=0,
                                max_new_tokens=self.opts.monitor_max_new_tokens, chat_template=self.chat_template)
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        side = tok.padding_side
        mine: list[dict] = []
        with torch.random.fork_rng(devices=devices), unwrap_model_for_generation(trainer.model_wrapped, acc) as model:
            was_training = model.training
            model.eval()
            tok.padding_side = "left"
            try:
                if ids:
                    start = Checkpoint("start", "", model, tok, "live")
                    out = HFBackend(start).generate(
                        [p.prompt for p in ids], params, seed=self.opts.monitor_seed + 1, n=params.n)
                    pairs = [(p.prompt, s.token_ids) for p, samples in zip(ids, out, strict=True)
                             for s in samples if s.token_ids]
                    lps = completion_logprobs(start, [p for p, _ in pairs], [c for _, c in pairs],
                                              self.chat_template)
                    mine = [{"prompt": p, "completion_ids": list(c), "logprobs": lp.tolist()}
                            for (p, c), lp in zip(pairs, lps, strict=True)]
            finally:
                tok.padding_side = side
                model.train(was_training)
        samples = gather_object(mine) if acc.num_processes > 1 else mine
        if acc.is_main_process:
            write_json_atomic(self.run.reference, {"kind": "monitor_reference", "version": 1, "samples": samples})
        return samples

    # -- resume ---------------------------------------------------------------------------------
    def _restore_state(self, step: int) -> None:
        rows = [r for r in read_jsonl(self.run.monitor) if int(r["step"]) <= step]
        fields = set(MonitorMetrics.__dataclass_fields__)
        base = next((r for r in rows if r.get("baseline")), rows[0] if rows else None)
        if base is not None:
            self.baseline = MonitorMetrics(**{k: base.get(k) for k in fields})
        streak = 0
        for r in rows:
            streak = streak + 1 if r.get("failed") else 0
        self.streak = streak
        self.last_step = int(rows[-1]["step"]) if rows else -1
        meta = self.run.best / "offtarget_best.json"
        if meta.exists():
            best = json.loads(meta.read_text())
            if int(best["step"]) <= step:
                self.best = best
            elif self.trainer.accelerator.is_main_process:
                shutil.rmtree(self.run.best)  # saved in the stretch of training being redone
        self.trainer.accelerator.wait_for_everyone()

    def summary(self) -> dict:
        """Overhead and outcome, for summary.json."""
        return {
            "passes": self.passes,
            "seconds": round(self.seconds, 2),
            "baseline_seconds": round(self.baseline_seconds, 2),
            "stop_reason": self.stop_reason,
            "restore": self.restore,
            "best": self.best,
        }


__all__ = [
    "GUARDS",
    "GuardMonitor",
    "GuardResult",
    "MonitorMetrics",
    "check_guards",
    "compute_metrics",
]
