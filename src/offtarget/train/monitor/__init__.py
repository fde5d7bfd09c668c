"""The side-effect monitor: a small audit every N steps during training, and guards that can stop a run.

``GuardMonitor`` is a ``transformers.TrainerCallback`` that works in any ``GRPOTrainer`` (or
any ``Trainer`` with a ``processing_class``), with or without offtarget's CLI. Before the first
step (the *baseline*), every ``monitor_every`` optimizer steps and after the last step it
samples held-out problems of the task (``monitor_problems`` from the ``test`` split and as many
from ``ood``, ``monitor_samples`` each, T = 1, offtarget's own sampler) and measures the audit's
metrics, with the audit's names and the audit's own definitions (each field is computed by the
catalogue metric it names, :mod:`offtarget.metrics`, on the same samples the audit's group would
hold; ``tests/train/test_train_monitor.py`` checks the numbers equal the probes'):

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

Two-phase entropy (Wang et al. 2025, arXiv 2509.03646), also @ test and with the audit's names:
``planning_token_entropy`` and ``execution_token_entropy`` (mean token entropy of planning and
of execution tokens, per sample, per problem, then averaged) and ``planning_token_share``, by the
built-in classifier of :mod:`offtarget.metrics.two_phase` (the ``two_phase_entropy`` probe's).

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

Modules: :mod:`~offtarget.train.monitor.metrics` (one pass's numbers), :mod:`~offtarget.train.monitor.guards`
(thresholds and verdicts), :mod:`~offtarget.train.monitor.reference` (the start model's samples and the
KL against them), :mod:`~offtarget.train.monitor.callback` (the ``TrainerCallback``).
"""

from offtarget.train.monitor.callback import GuardMonitor
from offtarget.train.monitor.guards import GUARDS, GuardResult, check_guards
from offtarget.train.monitor.metrics import FIELDS, MonitorMetrics, compute_metrics
from offtarget.train.monitor.reference import model_fingerprint

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
