"""What a probe receives: the evidence of every checkpoint and lazy access to the models.

Probes that only read stored generations never load a model; the ones that need forward
passes or weights (kl, weights, likelihood confidence) ask :meth:`AuditContext.checkpoint` or
:meth:`AuditContext.checkpoint_path`, which load on demand (caching at most one extra model
besides the reference) and, for evidence read from a log without its checkpoint, raise an
:class:`~offtarget.errors.OfftargetError` saying the probe is unavailable.

This module depends on the evidence layer (:mod:`offtarget.evidence`), never on the audit
that fills it, so preflight, lab and a user's own script can build a context too: the probes'
settings are a :class:`~offtarget.probes.settings.ProbeSettings`, not a command's configuration.

    >>> ctx = AuditContext(ProbeSettings(bootstrap=500), task, evidences)   # reference: the first
    >>> ctx = AuditContext.from_config(audit_cfg, task, evidences)          # reference and paths from it
    >>> ctx.checkpoint_path("sft")     # 'models/lab/sft', or OfftargetError('unavailable: ...')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from offtarget.errors import OfftargetError
from offtarget.probes.settings import ProbeSettings
from offtarget.tasks.problem import Task

if TYPE_CHECKING:
    from offtarget.evidence.checkpoint import Evidence


@dataclass
class AuditContext:
    settings: ProbeSettings
    """Resampling, seed, binning and loading settings (:class:`~offtarget.probes.settings.ProbeSettings`)."""
    task: Task
    evidences: dict[str, Evidence]
    """Checkpoint name → :class:`~offtarget.evidence.checkpoint.Evidence`, reference first."""
    reference: str = ""
    """The checkpoint every other one is compared against (default: the first evidence)."""
    models: dict[str, str] = field(default_factory=dict)
    """Model directories of checkpoints that have no evidence (default: none)."""
    variants: dict[str, dict[str, Evidence]] = field(default_factory=dict)
    """Probe name → checkpoint name → evidence of the extra prompts that probe asked for
    (:attr:`~offtarget.probes.registry.ProbeInfo.variants`), kept apart from ``evidences``."""
    earlier: dict[str, Any] = field(default_factory=dict)
    """Probe name → result of the probes that already ran in this audit (the plasticity probe
    reports its numbers beside the kl probe's drift)."""
    _loaded: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.settings = ProbeSettings.of(self.settings)
        if not self.reference:
            self.reference = next(iter(self.evidences))

    @classmethod
    def from_config(cls, cfg: Any, task: Task, evidences: dict[str, Evidence]) -> AuditContext:
        """A context from a command's configuration: its probe settings, reference and model paths."""
        return cls(ProbeSettings.of(cfg), task, evidences, cfg.reference_name, dict(cfg.models))

    @property
    def others(self) -> list[str]:
        return [n for n in (self.evidences or self.models) if n != self.reference]

    def checkpoint_path(self, name: str) -> str:
        """The model directory of ``name``; OfftargetError ``unavailable: ...`` for a log without one."""
        ev = self.evidences.get(name)
        if ev is None:
            if name not in self.models:
                raise OfftargetError(f"checkpoint {name!r} has neither evidence nor a model directory in this audit")
            return self.models[name]
        if ev.model_path is None:
            raise OfftargetError(ev.unavailable())
        return ev.model_path

    def checkpoint(self, name: str):
        """The loaded :class:`~offtarget.models.loading.Checkpoint` (reference kept, others swapped)."""
        return self._loaded[name] if name in self._loaded else self.checkpoints([name])[0]

    def checkpoints(self, names: list[str]) -> list:
        """Several loaded checkpoints at once (with the reference, the others unloaded first), for a
        probe that runs them side by side; the caller sizes ``names`` to the memory it may use."""
        from offtarget.models.loading import load_checkpoint

        for other in [k for k in self._loaded if k != self.reference and k not in names]:
            del self._loaded[other]
        s = self.settings
        for name in names:
            if name not in self._loaded:
                self._loaded[name] = load_checkpoint(self.checkpoint_path(name), name, s.device, s.dtype,
                                                     s.trust_remote_code)
        return [self._loaded[name] for name in names]

    def release(self) -> None:
        self._loaded.clear()
