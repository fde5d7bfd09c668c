"""What a preflight checks and how it samples; the same fields are CLI flags and YAML keys.

    offtarget preflight --model models/lab/sft --reference models/lab/base --reward correctness --out runs/pf
    >>> PreflightConfig(model="models/lab/sft").group_size
    8
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from offtarget.errors import OfftargetError

CHECKS = ("foothold", "redteam", "defects")
"""The three preflight checks, in the order they run."""


@dataclass
class PreflightConfig:
    """One preflight run."""

    model: str = field(default="", metadata={"short": "-m"})
    """The checkpoint RL will start from (usually the SFT model)."""
    reference: str | None = None
    """Its reference, usually the base model: accuracy drops and other changes are measured against it."""
    suite: str = "arithmetic"
    """A suite: ``arithmetic``, ``rg:FAMILY`` (reasoning-gym), ``hf:DATASET``, or a .jsonl/.yaml file; its
    prompts are the foothold's training prompts."""
    split: str = "train"
    """Split whose prompts RL would train on: the foothold and red-team problems come from it."""
    rewards: tuple[str, ...] = field(default=(), metadata={"flag": "reward", "short": "-r"})
    """Rewards to red-team: registered names or ``module:function``; empty = the defaults
    (:data:`offtarget.preflight.redteam.DEFAULT_REWARDS`)."""
    sft_data: str | None = None
    """The SFT data (JSONL with prompt/completion) to verify row by row."""
    group_size: int = 8
    """Planned GRPO group size G (``num_generations``)."""
    samples: int = 16
    """Samples per prompt (k) for pass rates and for the defect metrics."""
    problems: int = 200
    """Training prompts for the foothold, and problems per split for the defect audit."""
    window: tuple[float, float] = (0.1, 0.9)
    """Difficulty window of pass rates kept for the trainer's JSONL."""
    redteam_problems: int = 50
    """Answerable problems every red-team pattern is written for."""
    tolerance: float = 0.05
    """Red-team margin, as a share of the honest correct − honest wrong reward gap."""
    checks: tuple[str, ...] = CHECKS
    """Which of foothold, redteam, defects to run."""
    defect_splits: tuple[str, ...] = ("test", "ood")
    """Held-out splits the defect audit samples."""
    probes: tuple[str, ...] = ()
    """Extra audit probes to run on the defect audit's samples (their flagged regressions become defects)."""
    temperature: float = 1.0
    """T = 1 samples the policy's own distribution, which is what GRPO's rollouts see."""
    top_p: float = 1.0
    """Nucleus sampling mass; 1 keeps the policy's whole distribution."""
    max_new_tokens: int = 32
    """Longest completion; longer ones are cut and counted as truncated."""
    chat_template: bool = True
    """Render prompts through the tokenizer's chat template when the checkpoint has one."""
    seed: int = 0
    """Seed of problem selection, sampling and bootstrap."""
    bootstrap: int = 1000
    """Bootstrap resamples for every interval."""
    alpha: float = 0.05
    """Family-wise error rate of the Holm-corrected flags in the defect audit."""
    batch_sequences: int = 256
    """Sequences per generate call; lower it if a GPU runs out of memory."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu``, ``cuda`` …"""
    dtype: str = "auto"
    """Weights' dtype: ``auto`` (as saved), ``bfloat16``, ``float16``, ``float32``."""
    trust_remote_code: bool = False
    """Run code shipped inside a checkpoint."""
    out: str = "runs/preflight"
    """Run directory: generations (resumable), results.json, reports and the window JSONL."""
    extra: dict = field(default_factory=dict, metadata={"cli": False})
    """Free-form notes carried into results.json (e.g. the command that built the SFT data)."""

    def validate(self) -> None:
        if not self.model:
            raise OfftargetError("no checkpoint: pass --model PATH (the model RL would start from)")
        from offtarget.models.registry import resolve_model_path

        self.model = resolve_model_path(self.model)
        self.reference = resolve_model_path(self.reference) if self.reference else self.reference
        for flag, path in (("--model", self.model), ("--reference", self.reference)):
            if path is not None and not (Path(path) / "config.json").exists():
                raise OfftargetError(f"{flag} {path}: no Hugging Face checkpoint there (config.json missing)")
        unknown = [c for c in self.checks if c not in CHECKS]
        if unknown or not self.checks:
            raise OfftargetError(f"--checks {','.join(self.checks)}: choose from {', '.join(CHECKS)}")
        if self.samples < 1 or self.problems < 1 or self.redteam_problems < 1 or self.group_size < 1:
            raise OfftargetError("--samples, --problems, --redteam-problems and --group-size must be at least 1")
        low, high = self.window
        if not 0.0 <= low <= high <= 1.0:
            raise OfftargetError(f"--window {low},{high}: need 0 <= low <= high <= 1, e.g. --window 0.1,0.9")
        if self.tolerance < 0:
            raise OfftargetError(f"--tolerance {self.tolerance}: must be >= 0")
        if self.sft_data is not None and not Path(self.sft_data).is_file():
            raise OfftargetError(f"--sft-data {self.sft_data}: file not found")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> PreflightConfig:
        """Fields from a YAML file; ``overrides`` that are not ``None`` win (not yet validated)."""
        from offtarget.config import load_config

        return load_config(cls, path, overrides, validate=False)


def parse_window(text: str) -> tuple[float, float]:
    """``"0.1,0.9"`` → (0.1, 0.9), with a one-line error otherwise."""
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise OfftargetError(f"--window {text!r}: write LOW,HIGH, e.g. --window 0.1,0.9") from None
    return low, high
