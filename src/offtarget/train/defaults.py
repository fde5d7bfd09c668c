"""Training defaults that depend on the start model: a lab toy trained from scratch or a pretrained
model, full fine-tuning or LoRA.

Settings left unset (``None``) are filled here, in ``validate()``, so a flag or YAML value always wins:

- learning rate: the lab's toys (about 1 M parameters, trained from scratch) learn at 1e-4 (GRPO) /
  1e-3 (SFT); full fine-tuning of a pretrained model tolerates about 1e-5; LoRA takes about ten times the
  full-fine-tuning rate, 2e-4 (a low-rank update that starts at zero moves the function less per step;
  Schulman & Thinking Machines, "LoRA Without Regret", 2025, found the best LoRA rate about 10× the best
  full one across sizes; Hu et al. 2021 used 2e-4);
- the GRPO difficulty window: on for the toys; off for a pretrained model, where measuring 2,000
  prompts × 8 samples before step 1 takes hours on a CPU (``--difficulty-window`` with
  ``--difficulty-prompts N`` measures a bounded pool instead).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PRETRAINED_PARAMETERS = 10_000_000
"""At or above this many parameters a start model counts as pretrained (the lab's toys have about 1 M)."""

LR_TOY = {"grpo": 1e-4, "sft": 1e-3}
LR_PRETRAINED_FULL = 1e-5
LR_LORA = 2e-4


def parameter_count(path: str | Path) -> int | None:
    """Parameters of a checkpoint directory from its safetensors headers (no weights read); an adapter
    directory counts its base. ``None`` when it cannot tell (no such directory, other weight formats)."""
    root = Path(path)
    adapter = root / "adapter_config.json"
    if adapter.exists():
        try:
            from offtarget.models.registry import resolve_model_path

            return parameter_count(resolve_model_path(json.loads(adapter.read_text())["base_model_name_or_path"]))
        except Exception:  # noqa: BLE001 - a broken adapter is reported by the loader, not here
            return None
    files = sorted(root.glob("*.safetensors")) if root.is_dir() else []
    if not files:
        return None
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
        for name, meta in header.items():
            if name != "__metadata__":
                size = 1
                for d in meta.get("shape", []):
                    size *= d
                total += size
    return total


def is_pretrained(path: str | Path) -> bool:
    n = parameter_count(path)
    return n is not None and n >= PRETRAINED_PARAMETERS


def fill_model_defaults(cfg: Any, kind: str) -> None:
    """Set ``learning_rate`` (and for GRPO ``difficulty_window``) where the user left them unset."""
    pretrained = is_pretrained(cfg.model) if cfg.model else False
    if cfg.learning_rate is None:
        cfg.learning_rate = LR_LORA if cfg.lora else (LR_PRETRAINED_FULL if pretrained else LR_TOY[kind])
    if kind == "grpo" and cfg.difficulty_window is None:
        cfg.difficulty_window = not pretrained


def window_note(cfg: Any, prompts: int) -> str | None:
    """What to tell the user when a pretrained model trains without the difficulty window."""
    if cfg.difficulty_window or not is_pretrained(cfg.model):
        return None
    return (f"difficulty window off for a pretrained model (measuring {prompts} prompts × "
            f"{cfg.difficulty_samples} samples before step 1 would take hours on a CPU); "
            "--difficulty-window --difficulty-prompts 200 measures a bounded pool")
