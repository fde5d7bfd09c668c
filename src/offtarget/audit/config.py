"""What an audit compares and how it samples; the same fields are CLI flags and YAML keys.

    offtarget audit --model base=PATH --model rl=PATH --suite arithmetic --samples 16 --out runs/x
"""

from __future__ import annotations

from dataclasses import dataclass, field

from offtarget.errors import OfftargetError


@dataclass
class AuditConfig:
    """One audit run."""

    models: dict[str, str] = field(default_factory=dict, metadata={
        "flag": "model", "short": "-m", "example": "NAME=PATH, e.g. --model base=models/lab/base"})
    """Checkpoint NAME=PATH, repeat the flag; the first is the reference unless ``reference`` is set."""
    reference: str | None = None
    """Name of the checkpoint every other one is compared against (default: the first)."""
    suite: str = "arithmetic"
    """A built-in suite name or a JSONL task file."""
    out: str = "runs/audit"
    """Run directory: generations, results.json and the reports."""
    store: str | None = None
    """Generation store (default ``OUT/generations.sqlite``); audits that share one reuse samples."""
    problems: int = 200
    """Problems per split (``test`` and ``ood``); unanswerable items are a share of them."""
    splits: tuple[str, ...] = ("test", "ood")
    """Splits to audit: ``test`` is in distribution, ``ood`` shifted (comma-separated or repeated)."""
    samples: int = 16
    """Samples per problem at ``temperature``; pass@k is reported for every k ≤ samples."""
    temperature: float = 1.0
    """T = 1 samples the model's own distribution, which calibration and entropy probes need."""
    top_p: float = 1.0
    """Nucleus sampling mass; 1 keeps the model's whole distribution."""
    max_new_tokens: int = 32
    """Longest completion; longer ones are cut and counted as truncated."""
    greedy: bool = True
    """Also decode greedily once per problem (what a deployment at T = 0 would answer)."""
    chat_template: bool = True
    """Render prompts through the tokenizer's chat template when the checkpoint has one."""
    probes: tuple[str, ...] = ("all",)
    """Probes to run (comma-separated or repeated), or ``all``."""
    seed: int = 0
    """Seed of problem selection, sampling and bootstrap."""
    bootstrap: int = 1000
    """Bootstrap resamples for every interval."""
    alpha: float = 0.05
    """Family-wise error rate of the Holm-corrected regression/gain flags."""
    calibration_bins: int = 10
    """Bins of the calibration probe's ECE, Murphy decomposition and reliability diagram (10 is the
    RLCR convention; 15 is the other common choice)."""
    calibration_binning: str = "uniform"
    """``uniform`` (equal-width bins, RLCR) or ``quantile`` (equal-mass bins, Nixon et al. 2019)."""
    batch_sequences: int = 256
    """Sequences per generate call; lower it if a GPU runs out of memory."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:1`` …"""
    dtype: str = "auto"
    """Weights' dtype: ``auto`` (as saved), ``bfloat16``, ``float16``, ``float32``."""
    trust_remote_code: bool = False
    """Run code shipped inside a checkpoint (off: an audit should not execute what it judges)."""
    fail_on: str = "none"
    """Exit 1 on ``regression`` (a flagged target loss or off-target regression), ``any`` (any flag) or
    ``none``: a CI gate."""

    @property
    def reference_name(self) -> str:
        return self.reference or next(iter(self.models))

    def validate(self) -> None:
        if not self.models:
            raise OfftargetError("no checkpoints: pass --model NAME=PATH at least once")
        if self.reference and self.reference not in self.models:
            raise OfftargetError(f"--reference {self.reference!r} is not one of the --model names {list(self.models)}")
        if self.samples < 1 or self.problems < 1:
            raise OfftargetError("--samples and --problems must be at least 1")
        if self.calibration_binning not in ("uniform", "quantile") or self.calibration_bins < 1:
            raise OfftargetError(
                f"calibration_binning {self.calibration_binning!r} / calibration_bins {self.calibration_bins}: "
                "use 'uniform' or 'quantile' and at least 1 bin"
            )
        if self.fail_on not in ("none", "regression", "any"):
            raise OfftargetError(f"--fail-on {self.fail_on!r}: choose none, regression or any")
