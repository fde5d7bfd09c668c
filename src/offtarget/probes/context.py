"""What a probe receives: the evidence of every checkpoint and lazy access to the models.

Probes that only read stored generations never load a model; the ones that need forward
passes or weights (kl, weights) ask :meth:`AuditContext.checkpoint`, which loads on demand
and caches at most one extra model besides the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from offtarget.audit.config import AuditConfig
from offtarget.tasks.problem import Task


@dataclass
class AuditContext:
    cfg: AuditConfig
    task: Task
    evidences: dict[str, Any]
    """Checkpoint name → :class:`~offtarget.audit.evidence.Evidence`, reference first."""
    _loaded: dict[str, Any] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return self.cfg.reference_name

    @property
    def others(self) -> list[str]:
        return [n for n in self.evidences if n != self.reference]

    def checkpoint(self, name: str):
        """The loaded :class:`~offtarget.models.loading.Checkpoint` (reference kept, others swapped)."""
        from offtarget.models.loading import load_checkpoint

        if name not in self._loaded:
            for other in [k for k in self._loaded if k != self.reference]:
                del self._loaded[other]
            c = self.cfg
            self._loaded[name] = load_checkpoint(c.models[name], name, c.device, c.dtype, c.trust_remote_code)
        return self._loaded[name]

    def release(self) -> None:
        self._loaded.clear()
