"""The side-effect monitor: a small audit every N steps during training, and guards that can stop a run.

``GuardMonitor`` is a ``transformers.TrainerCallback`` that works in any ``GRPOTrainer`` (or
any ``Trainer`` with a ``processing_class``), with or without offtarget's CLI. Before the first
step (the *baseline*), every ``monitor_every`` optimizer steps and after the last step it
samples held-out problems of the task (``monitor_problems`` from the ``test`` split and as many
from ``ood``, ``monitor_samples`` each, T = 1, offtarget's own sampler) and measures the audit's
metrics, with the audit's names and definitions (:mod:`offtarget.metrics`; the probe named is
the one whose number on the same verdicts it equals, ``tests/train/test_train_monitor.py``):

=========================  =================================  ========================================
field                      audit metric @ group               what
=========================  =================================  ========================================
``accuracy``               ``accuracy`` @ test                mean correctness, answerable problems
``ood_accuracy``           ``accuracy`` @ ood                 the same on the shifted split
``mean_token_entropy``     ``mean_token_entropy`` @ test      per-problem mean token entropy (nats),
                                                              averaged over answerable problems
``ece_verbalized``         ``ece_verbalized`` @ test          ECE of stated confidence, 10 equal-width
                                                              bins, non-abstained samples *that state
                                                              one* (unanswerable ones count as wrong)
``brier_verbalized``       ``brier_verbalized`` @ test        Brier score on the same samples
``dominant_format_share``  ``dominant_format_share`` @ test   share of the most used format among
                                                              answers (Echo Chamber, arXiv 2504.07912);
                                                              ``dominant_format`` names it
``abstention_recall``      ``abstention_recall`` @ test       samples of unanswerable problems that
                                                              abstain (AbstentionBench)
``over_refusal_rate``      ``over_refusal_rate`` @ test       samples of answerable problems that abstain
``malformed_share``        ``malformed_share`` @ test         samples the verifier could not parse
``kl_per_token``           ``kl_per_token`` @ test            forward KL D(π_start ‖ π) per token on
                                                              start-model samples, per problem then
                                                              averaged (RL's Razor, arXiv 2509.04259)
=========================  =================================  ========================================

KL: start-model samples of the in-distribution prompts are drawn once and kept in
``monitor_reference.json``, keyed by the start model's fingerprint
(:func:`offtarget.models.loading.fingerprint`); a file drawn from another model is redrawn on a
fresh run and refused on a resumed one. Each pass scores them teacher-forced: exact over the
vocabulary with TRL's reference model when it is loaded (beta > 0, no ZeRO-3/FSDP;
:func:`offtarget.models.scoring.forward_kl`) or, for a LoRA policy, the same network with its adapter
disabled; else the sampled estimate, mean over tokens of
log π_start(y_t) − log π(y_t).

Guards (``MonitorOptions``; empty = off): ``entropy_min``, ``ece_max``, ``dominant_format_max``,
``kl_max``, ``ood_accuracy_drop_max`` (below the baseline pass), ``abstention_min`` (abstention
recall). A guard *trips* after ``guard_patience`` consecutive failing passes; then
``guard_action`` decides: ``warn`` logs it, ``stop`` ends training, ``restore`` ends training
and loads the best state back into the trainer's model: the pass with the highest accuracy
among passes that passed every guard (saved with ``Trainer.save_model`` into ``best/`` whenever
a pass beats it; the baseline counts, so a run that degrades at once restores the start model).
The restore goes through the trainer's own checkpoint loader, so a plain
``trainer.save_model()`` after ``train()`` saves the restored model.

Logging: each pass is a row of ``monitor.jsonl`` and a row of ``trainer.state.log_history``
(``monitor/<field>``, ``monitor/seconds``; ``monitor/baseline`` is 1 on the baseline pass),
dispatched through the trainer's ``on_log`` so it reaches ``report_to`` (TensorBoard, W&B).

Distributed: the problems are split across processes, the per-sample results gathered, and
every process computes the metrics from the same gathered list; the decision is then
broadcast from the main process, so all processes stop at the same step.

In anyone's TRL script (``docs/train.md``)::

    from offtarget.tasks import get_task
    from offtarget.train import GuardMonitor, MonitorOptions

    trainer = GRPOTrainer(model=..., reward_funcs=..., args=GRPOConfig(output_dir="runs/g1", ...), ...)
    monitor = GuardMonitor(MonitorOptions(monitor_every=50, kl_max=0.1, guard_action="restore"),
                           get_task("arithmetic")).attach(trainer)
    trainer.train()          # monitor.jsonl and best/ go to runs/g1
    trainer.save_model()     # the restored model if a guard tripped

    >>> m = compute_metrics([
    ...     {"split": "test", "answerable": True, "correct": True, "abstained": False, "format": "direct",
    ...      "confidence": 0.85, "entropy": 0.2},
    ...     {"split": "test", "answerable": True, "correct": False, "abstained": False, "format": "direct",
    ...      "confidence": None, "entropy": 0.4},
    ... ], kl=[], formats=("direct", "reversed", "steps"))
    >>> m.accuracy, round(m.mean_token_entropy, 2), round(m.ece_verbalized, 3), m.dominant_format_share
    (0.5, 0.3, 0.15, 1.0)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback

from offtarget.errors import OfftargetError
from offtarget.models.loading import Checkpoint, fingerprint
from offtarget.models.sampling import HFBackend, SamplingParams
from offtarget.models.scoring import completion_logprobs, forward_kl
from offtarget.probes.calibration import brier, ece
from offtarget.tasks.problem import Problem, Task
from offtarget.train.config import MonitorOptions
from offtarget.train.rundir import RunDir, append_jsonl, read_jsonl, write_json_atomic

logger = logging.getLogger(__name__)

REFERENCE_VERSION = 2
"""``monitor_reference.json`` schema: 2 adds ``start_fingerprint`` (a version-1 file is redrawn)."""


# ---------------------------------------------------------------------------------------------
# Metrics (pure)


@dataclass(frozen=True)
class MonitorMetrics:
    """One monitor pass; ``None`` where a metric has nothing to average. See :data:`FIELDS`."""

    accuracy: float | None
    ood_accuracy: float | None
    mean_token_entropy: float | None
    ece_verbalized: float | None
    brier_verbalized: float | None
    dominant_format: str | None
    dominant_format_share: float | None
    abstention_recall: float | None
    over_refusal_rate: float | None
    malformed_share: float | None
    kl_per_token: float | None
    n_samples: int

    def numeric(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None}


FIELDS: dict[str, tuple[str, str]] = {
    "accuracy": ("accuracy", "test"),
    "ood_accuracy": ("accuracy", "ood"),
    "mean_token_entropy": ("mean_token_entropy", "test"),
    "ece_verbalized": ("ece_verbalized", "test"),
    "brier_verbalized": ("brier_verbalized", "test"),
    "dominant_format_share": ("dominant_format_share", "test"),
    "abstention_recall": ("abstention_recall", "test"),
    "over_refusal_rate": ("over_refusal_rate", "test"),
    "malformed_share": ("malformed_share", "test"),
    "kl_per_token": ("kl_per_token", "test"),
}
"""Monitor field → (catalogue metric of :mod:`offtarget.metrics`, the audit group it equals)."""

NOT_A_FORMAT = ("abstain", "malformed")


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def compute_metrics(samples: Sequence[dict], kl: Sequence[tuple[str, float, int]],
                    formats: Sequence[str]) -> MonitorMetrics:
    """Monitor metrics from per-sample records and the KL of each start-model sample.

    A record has ``split``, ``answerable``, ``correct``, ``abstained``, ``format``,
    ``confidence`` (None if absent), ``entropy`` (the sample's mean token entropy) and, for the
    per-problem mean, ``problem`` (an id; without it each record is its own problem).
    ``kl`` holds ``(problem, Σ_t KL_t, tokens)`` per start-model sample.
    """
    idd = [s for s in samples if s["split"] != "ood"]
    id_ans = [s for s in idd if s["answerable"]]
    ood_ans = [s for s in samples if s["split"] == "ood" and s["answerable"]]
    id_unans = [s for s in idd if not s["answerable"]]

    per_problem: dict[Any, list[float]] = defaultdict(list)
    for i, s in enumerate(id_ans):
        per_problem[s.get("problem", i)].append(float(s["entropy"]))
    entropy = _mean([sum(v) / len(v) for v in per_problem.values()])

    # calibration: every in-distribution sample that did not abstain and states a confidence
    rated = [s for s in idd if not s["abstained"] and s["confidence"] is not None]
    ece_v = brier_v = None
    if rated:
        q = np.array([[float(s["confidence"]) for s in rated]])
        y = np.array([[float(bool(s["correct"])) for s in rated]])
        ece_v, brier_v = _finite(ece(q, y)[0]), _finite(brier(q, y)[0])

    labels = list(formats) + sorted({s["format"] for s in idd} - set(formats) - set(NOT_A_FORMAT))
    shaped = Counter(s["format"] for s in id_ans if s["format"] in labels)
    dominant, share = (None, None)
    if shaped:
        dominant, top = shaped.most_common(1)[0]
        share = top / sum(shaped.values())

    kl_sum: dict[str, float] = defaultdict(float)
    kl_tok: dict[str, int] = defaultdict(int)
    for key, total, tokens in kl:
        kl_sum[key] += float(total)
        kl_tok[key] += int(tokens)
    kl_per_token = _mean([kl_sum[k] / kl_tok[k] if kl_tok[k] else 0.0 for k in kl_sum])
    return MonitorMetrics(
        accuracy=_mean([float(bool(s["correct"])) for s in id_ans]),
        ood_accuracy=_mean([float(bool(s["correct"])) for s in ood_ans]),
        mean_token_entropy=entropy,
        ece_verbalized=ece_v,
        brier_verbalized=brier_v,
        dominant_format=dominant,
        dominant_format_share=share,
        abstention_recall=_mean([float(bool(s["abstained"])) for s in id_unans]),
        over_refusal_rate=_mean([float(bool(s["abstained"])) for s in id_ans]),
        malformed_share=_mean([float(s["format"] == "malformed") for s in idd]),
        kl_per_token=kl_per_token,
        n_samples=len(samples),
    )


# ---------------------------------------------------------------------------------------------
# Guards (pure)

GUARDS: dict[str, tuple[str, str]] = {
    "entropy_min": ("mean_token_entropy", "min"),
    "ece_max": ("ece_verbalized", "max"),
    "dominant_format_max": ("dominant_format_share", "max"),
    "kl_max": ("kl_per_token", "max"),
    "ood_accuracy_drop_max": ("ood_accuracy_drop", "max"),
    "abstention_min": ("abstention_recall", "min"),
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


def model_fingerprint(model: Any) -> str:
    """The start model's identity: :func:`~offtarget.models.loading.fingerprint` of the directory it was
    loaded from, else a hash of its parameter shapes and leading values (a model built in memory)."""
    path = str(getattr(model, "name_or_path", "") or getattr(getattr(model, "config", None), "_name_or_path", ""))
    if path and (Path(path) / "config.json").exists():
        return fingerprint(path)
    h = hashlib.sha256()
    with torch.no_grad():
        for name, p in model.named_parameters():
            h.update(f"{name}:{tuple(p.shape)}".encode())
            h.update(p.detach().reshape(-1)[:64].float().cpu().numpy().tobytes())
    return "mem-" + h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# The callback


class GuardMonitor(TrainerCallback):
    """Runs the monitor audit, logs it, applies the guards; see the module docstring.

    ``run`` is the directory of ``monitor.jsonl``, ``monitor_reference.json`` and ``best/``
    (a :class:`~offtarget.train.rundir.RunDir` or a path); ``None`` uses the trainer's
    ``args.output_dir``. Give the callback its trainer with :meth:`attach` (or :meth:`bind`
    plus ``trainer.add_callback``) before ``train()``.
    """

    def __init__(self, opts: MonitorOptions, task: Task, run: RunDir | str | Path | None = None, *,
                 chat_template: bool = True, echo: bool = True) -> None:
        self.opts, self.task = opts, task
        self.run = run if isinstance(run, RunDir) or run is None else RunDir(run)
        self.chat_template, self.echo = chat_template, echo
        n = opts.monitor_problems
        self.problems: list[Problem] = task.problems("test", n, seed=opts.monitor_seed) + task.problems(
            "ood", n, seed=opts.monitor_seed
        )
        self.trainer: Any = None
        self.start_fingerprint: str | None = None
        self.baseline: MonitorMetrics | None = None
        self.best: dict | None = None
        """``{"step", "accuracy"}`` of the checkpoint in best/."""
        self.streak = 0
        self.stop_reason: str | None = None
        self.restore = False
        """True when a guard tripped with action ``restore``."""
        self.restored_step: int | None = None
        """The step whose state was loaded back into the model at the end of training, if any."""
        self.reference: list[dict] | None = None
        self.seconds = 0.0
        """Seconds spent in monitor passes after the baseline (the training overhead)."""
        self.baseline_seconds = 0.0
        self.passes = 0
        self.last_step = -1
        self.kl_method: str | None = None

    def bind(self, trainer: Any) -> GuardMonitor:
        """Give the callback its trainer (accelerator, wrapped model, tokenizer, output_dir); before ``train()``."""
        self.trainer = trainer
        if self.run is None:
            self.run = RunDir(trainer.args.output_dir)
        self.start_fingerprint = model_fingerprint(trainer.accelerator.unwrap_model(trainer.model))
        return self

    def attach(self, trainer: Any) -> GuardMonitor:
        """:meth:`bind` and ``trainer.add_callback(self)``: the one call a TRL script needs."""
        self.bind(trainer)
        trainer.add_callback(self)
        return self

    # -- events ---------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        if self.trainer is None:
            raise OfftargetError("GuardMonitor: call monitor.attach(trainer) (or bind) before trainer.train()")
        step = int(state.global_step)
        if step > 0:
            self._restore_state(step)
        if self.reference is None:
            t0 = time.perf_counter()
            self.reference = self._load_or_make_reference(fresh=step == 0)
            self.baseline_seconds += time.perf_counter() - t0
        if self.baseline is None and step == 0:
            self._pass(args, state, control, baseline=True)
        return control

    def on_step_end(self, args, state, control, **kwargs):
        every, step = self.opts.monitor_every, state.global_step
        last = bool(state.max_steps) and step >= state.max_steps
        if every and (step % every == 0 or last) and step != self.last_step:
            self._pass(args, state, control)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.opts.monitor_every and self.stop_reason is None and state.global_step != self.last_step:
            self._pass(args, state, control)  # a run that ended before max_steps some other way
        if self.restore:
            self._restore_best()
        return control

    # -- one pass -------------------------------------------------------------------------------
    def _pass(self, args, state, control, baseline: bool = False) -> dict:
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
        better = self.best is None or (metrics.accuracy or 0.0) > self.best["accuracy"]
        is_best = not failed and metrics.accuracy is not None and better and self.opts.save_best
        # The same decision on every process, whatever floating-point differences might exist.
        decided = [decision, is_best, streak]
        broadcast_object_list(decided, from_process=0)
        decision, is_best, self.streak = decided
        if is_best:
            self.best = {"step": step, "accuracy": metrics.accuracy}
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
        self.last_step = step
        self._log(args, state, control, metrics, seconds, baseline)
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
                self._say(f"[offtarget monitor] step {step}: guard tripped ({detail}) → {decision}")
        return row

    def _say(self, msg: str) -> None:
        if self.echo:
            print(msg, file=sys.stderr, flush=True)
        else:
            logger.warning(msg)

    def _log(self, args, state, control, metrics: MonitorMetrics, seconds: float, baseline: bool) -> None:
        """A ``log_history`` row, dispatched to ``on_log`` (report_to) without flushing TRL's own metrics."""
        logs = {f"monitor/{k}": v for k, v in metrics.numeric().items()}
        logs["monitor/seconds"] = round(seconds, 3)
        logs["monitor/baseline"] = float(baseline)
        state.log_history.append({**logs, "step": int(state.global_step)})
        handler = getattr(self.trainer, "callback_handler", None)
        if handler is not None:
            should_log = control.should_log  # on_log clears it; the trainer's own log at this step must still run
            handler.on_log(args, state, control, logs=dict(logs))
            control.should_log = should_log

    def _evaluate(self) -> tuple[list[dict], list[tuple[str, float, int]]]:
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
        kl_rows: list[tuple[str, float, int]] = []
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
                                "problem": p.id, "split": p.split, "answerable": not p.should_abstain,
                                "correct": v.correct, "abstained": v.abstained, "format": v.format,
                                "confidence": v.confidence,
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
                        per_seq = [float(k.double().sum()) for k in
                                   forward_kl(start, live, prompts, completions, self.chat_template)]
                    else:  # sampled: log p_start(y_t) − log p(y_t), y ~ start
                        cur = completion_logprobs(live, prompts, completions, self.chat_template)
                        per_seq = [sum(r["logprobs"]) - float(lp.sum()) for r, lp in zip(ref_mine, cur, strict=True)]
                    kl_rows = [(r["prompt"], k, len(c)) for r, k, c in zip(ref_mine, per_seq, completions, strict=True)]
            finally:
                tok.padding_side = side
                model.train(was_training)
        all_records = gather_object(records) if world > 1 else records
        all_kl = gather_object(kl_rows) if world > 1 else kl_rows
        return all_records, [tuple(r) for r in all_kl]

    def _reference_model(self) -> Any:
        """TRL's reference model when it can be run locally (beta > 0, no ZeRO-3 / FSDP sharding); with a
        LoRA policy the same network with its adapter disabled (exactly the start model, at any beta)."""
        dist = str(getattr(self.trainer.accelerator, "distributed_type", "NO"))
        if "DEEPSPEED" in dist or "FSDP" in dist:
            return None  # sharded: a forward would need every process in lockstep
        ref = getattr(self.trainer, "ref_model", None)
        if ref is None:
            from accelerate.utils import is_peft_model

            from offtarget.train.lora import AdapterDisabled

            policy = self.trainer.accelerator.unwrap_model(self.trainer.model)
            return AdapterDisabled(policy) if is_peft_model(policy) else None
        return self.trainer.accelerator.unwrap_model(ref)

    # -- reference samples for KL ------------------------------------------------------------------
    def _load_or_make_reference(self, fresh: bool) -> list[dict] | None:
        path = self.run.reference
        if path.exists():
            data = json.loads(path.read_text())
            drawn_from = data.get("start_fingerprint")
            if drawn_from == self.start_fingerprint:
                return data["samples"]
            if not fresh:
                raise OfftargetError(
                    f"{path}: drawn from another start model ({drawn_from or 'unknown'}, this run starts from "
                    f"{self.start_fingerprint}); resume with the run's own start model or use a new output directory")
            self._say(f"[offtarget monitor] {path} was drawn from another start model; drawing it again")
        elif not fresh:
            logger.warning("monitor: %s missing on resume; KL is not measured in this run", path)
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
            write_json_atomic(path, {"kind": "monitor_reference", "version": REFERENCE_VERSION,
                                     "start_fingerprint": self.start_fingerprint, "samples": samples})
        return samples

    # -- restore --------------------------------------------------------------------------------
    def _restore_best(self) -> None:
        """Load best/ back into the trainer's model (the trainer's own checkpoint loader)."""
        best = self.run.best
        if self.best is None or not (best / "config.json").exists():
            self._say("[offtarget monitor] a guard asked to restore, but no monitor pass passed every guard; "
                      "the model is the last one")
            return
        self.trainer.accelerator.wait_for_everyone()
        self.trainer._load_from_checkpoint(str(best))
        self.restored_step = int(self.best["step"])
        if self.trainer.accelerator.is_main_process:
            self._say(f"[offtarget monitor] restored the model of step {self.restored_step} from {best}")

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
            if int(best["step"]) <= step and "accuracy" in best:
                self.best = best
            elif self.trainer.accelerator.is_main_process:
                shutil.rmtree(self.run.best)  # saved in the stretch of training being redone (or an old format)
        self.trainer.accelerator.wait_for_everyone()

    def summary(self) -> dict:
        """Overhead and outcome, for summary.json."""
        return {
            "passes": self.passes,
            "seconds": round(self.seconds, 2),
            "baseline_seconds": round(self.baseline_seconds, 2),
            "stop_reason": self.stop_reason,
            "restore": self.restore,
            "restored_step": self.restored_step,
            "best": self.best,
        }


__all__ = [
    "FIELDS",
    "GUARDS",
    "GuardMonitor",
    "GuardResult",
    "MonitorMetrics",
    "check_guards",
    "compute_metrics",
    "model_fingerprint",
]
