"""What a probe may be told: resampling, seed, level, binning and how to load a checkpoint.

A probe reads these, never the configuration of the command that runs it, so the audit,
preflight, the lab and a user's script hand a probe the same small object
(:class:`ProbeSettings`) whatever their own configuration looks like.

    >>> ProbeSettings(bootstrap=200, seed=3).bootstrap
    200
    >>> from offtarget.audit.config import AuditConfig
    >>> ProbeSettings.of(AuditConfig(models={"a": "m"}, bootstrap=500)).bootstrap   # the same-named fields
    500
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class ProbeSettings:
    """The settings every probe reads; defaults are the audit's."""

    bootstrap: int = 1000
    """Bootstrap resamples behind every interval."""
    seed: int = 0
    """Seed of the bootstrap resamples and of the permutation tests."""
    alpha: float = 0.05
    """Family-wise error rate of the Holm-corrected flags."""
    calibration_bins: int = 10
    """Bins of ECE and the reliability diagram (10: the RLCR convention)."""
    calibration_binning: str = "uniform"
    """``uniform`` (equal-width) or ``quantile`` (equal-mass) calibration bins."""
    chat_template: bool = True
    """Render prompts through the tokenizer's chat template when a probe scores them again."""
    device: str = "auto"
    """Where a probe that loads a checkpoint runs it."""
    dtype: str = "auto"
    """The dtype a probe loads a checkpoint in."""
    trust_remote_code: bool = False
    """Run code shipped inside a checkpoint (tokenizers and models a probe loads)."""
    planning_patterns: str | None = None
    """File of the two_phase_entropy probe's planning patterns (default: the built-in ones)."""
    plasticity: dict = field(default_factory=dict)
    """Options of the plasticity probe's short fine-tune (``--plasticity steps=32``; default: its own)."""

    @classmethod
    def of(cls, config: Any) -> ProbeSettings:
        """The fields of any configuration (audit, preflight, lab) that carry these names."""
        if isinstance(config, ProbeSettings):
            return config
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls) if hasattr(config, f.name)})


__all__ = ["ProbeSettings"]
