"""Guarded post-training on Hugging Face TRL: ``offtarget train sft | grpo | ssd | filter-refinements``.

No home-made RL loop: TRL's ``SFTTrainer`` and ``GRPOTrainer`` do the training; offtarget adds
the reliability-preserving choices at the narrowest points TRL offers (tested with TRL 1.16.0).

=======================  ==================================================================
module                   concept
=======================  ==================================================================
``config``               ``SFTRunConfig`` / ``GRPORunConfig``: dataclasses, YAML, CLI flags
``data``                 problems → TRL rows, offline difficulty window, prompt-token check
``curation``             pure selection rules: window, dynamic sampling, RoC, curriculum
``grpo``                 ``OfftargetGRPOTrainer``: RoC + dynamic sampling inside TRL
``monitor``              ``GuardMonitor``: audit every N steps, guards that warn/stop/restore
``rundir``               the run directory and its atomic writes
``session``              the shared lifecycle: start, resume, trainer arguments, final save
``grpo_run`` / ``sft``   the two commands' pipelines
``ssd``                  simple self-distillation: own samples, kept by a rule, then SFT
``refinement_filter``    teacher-refined data kept inside the student's likelihood band
``commands``             the typer app (``offtarget train ...``)
``accelerate_configs``   DDP / FSDP / DeepSpeed ZeRO-3 / multi-CPU launch configs
=======================  ==================================================================

The monitor is a plain ``TrainerCallback``, usable in anyone's ``GRPOTrainer`` (``docs/train.md``)::

    from offtarget.train import GuardMonitor, MonitorOptions
    GuardMonitor(MonitorOptions(kl_max=0.1, guard_action="restore"), task).attach(trainer)

(``offtarget.train`` itself imports no torch: the names below load their module on first use.)

Scale-out (see ``docs`` of ``accelerate_configs``)::

    accelerate launch --config_file "$(offtarget train accelerate-config ddp)" \\
        -m offtarget.cli train grpo --model PATH --out runs/g1

    >>> accelerate_config_path("ddp").name
    'ddp.yaml'
"""

from __future__ import annotations

from pathlib import Path

from offtarget.errors import OfftargetError

ACCELERATE_CONFIGS = ("ddp", "fsdp", "zero3", "multi_cpu")


def accelerate_config_path(name: str) -> Path:
    """The packaged accelerate config ``name`` (ddp, fsdp, zero3, multi_cpu)."""
    if name not in ACCELERATE_CONFIGS:
        raise OfftargetError(f"accelerate config {name!r}: choose one of {', '.join(ACCELERATE_CONFIGS)}")
    return Path(__file__).parent / "accelerate_configs" / f"{name}.yaml"


_LAZY = {
    "GuardMonitor": "offtarget.train.monitor",
    "MonitorMetrics": "offtarget.train.monitor",
    "compute_metrics": "offtarget.train.monitor",
    "MonitorOptions": "offtarget.train.config",
    "GRPORunConfig": "offtarget.train.config",
    "SFTRunConfig": "offtarget.train.config",
    "OfftargetGRPOTrainer": "offtarget.train.grpo",
}
"""Public names and the module that defines them, imported on first access (PEP 562)."""


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'offtarget.train' has no attribute {name!r}")


__all__ = [
    "ACCELERATE_CONFIGS",
    "GRPORunConfig",
    "GuardMonitor",
    "MonitorMetrics",
    "MonitorOptions",
    "OfftargetGRPOTrainer",
    "SFTRunConfig",
    "accelerate_config_path",
    "compute_metrics",
]
