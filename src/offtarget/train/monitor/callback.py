"""``GuardMonitor``: the ``TrainerCallback`` that runs a monitor pass every N steps, logs it and
applies the guards (the package docstring, :mod:`offtarget.train.monitor`, says what and how)."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from offtarget.errors import OfftargetError
from offtarget.metrics.two_phase import load_patterns, sample_phase_means
from offtarget.models.hf_engine import HFEngine
from offtarget.models.loading import Checkpoint
from offtarget.models.sampling import SamplingParams
from offtarget.tasks.problem import Problem, Task
from offtarget.train.config import MonitorOptions
from offtarget.train.monitor.guards import check_guards
from offtarget.train.monitor.metrics import PHASE_KEYS, MonitorMetrics, compute_metrics
from offtarget.train.monitor.reference import generating, load_or_make_reference, model_fingerprint
from offtarget.train.monitor.reference import kl_rows as kl_rows_of
from offtarget.train.rundir import RunDir, append_jsonl, read_jsonl

logger = logging.getLogger(__name__)


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

        trainer = self.trainer
        acc = trainer.accelerator
        rank, world = acc.process_index, acc.num_processes
        mine = self.problems[rank::world]
        ref_mine = (self.reference or [])[rank::world]
        tok = trainer.processing_class
        params = SamplingParams(n=self.opts.monitor_samples, temperature=1.0, top_k=0,
                                max_new_tokens=self.opts.monitor_max_new_tokens, chat_template=self.chat_template)
        records: list[dict] = []
        planning = load_patterns()
        kl_rows: list[tuple[str, float, int]] = []
        with generating(trainer) as model:
            if mine:
                backend = HFEngine(Checkpoint("monitor", "", model, tok, "live"))
                out = backend.generate([p.prompt for p in mine], params, seed=self.opts.monitor_seed, n=params.n)
                for p, samples in zip(mine, out, strict=True):
                    for s in samples:
                        v = self.task.verify(p, s.text)
                        phases = sample_phase_means(s.token_ids, s.entropies, tok, planning)
                        records.append({
                            "problem": p.id, "split": p.split, "answerable": not p.should_abstain,
                            "correct": v.correct, "abstained": v.abstained, "format": v.format,
                            "confidence": v.confidence,
                            "entropy": float(sum(s.entropies) / len(s.entropies)) if s.entropies else 0.0,
                            **dict(zip(PHASE_KEYS, phases, strict=True)),
                        })
            if ref_mine:
                kl_rows, self.kl_method = kl_rows_of(trainer, model, tok, ref_mine, self.chat_template)
        all_records = gather_object(records) if world > 1 else records
        all_kl = gather_object(kl_rows) if world > 1 else kl_rows
        return all_records, [tuple(r) for r in all_kl]

    def _load_or_make_reference(self, fresh: bool) -> list[dict] | None:
        return load_or_make_reference(self.trainer, self.run.reference, self.start_fingerprint, fresh,
                                      self.problems, self.opts, self.chat_template, self._say)

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


__all__ = ["GuardMonitor"]
