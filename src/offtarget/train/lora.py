"""LoRA for ``offtarget train grpo|sft --lora``: the PEFT config TRL wraps the start model with.

TRL takes the config through its ``peft_config`` argument and wraps the model itself; with
``beta > 0`` it then computes the reference log-probabilities with the adapter disabled (the frozen
start model, no second copy loaded). ``final/`` holds only the adapter (``adapter_config.json`` +
``adapter_model.safetensors``, a few MB) plus the tokenizer; its ``base_model_name_or_path`` is
made portable by :func:`offtarget.models.adapters.record_base`.
"""

from __future__ import annotations

from typing import Any

from offtarget.errors import OfftargetError

LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Every linear projection of a Llama-family block (attention and MLP): LoRA on all of them matches
full fine-tuning far better than attention-only LoRA ("LoRA Without Regret", 2025; QLoRA, Dettmers et al. 2023)."""


def linear_module_names(model: Any) -> set[str]:
    """Last name component of every ``nn.Linear`` inside the decoder (the output head excluded)."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return {name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
            if isinstance(mod, torch.nn.Linear) and mod is not head}


def lora_config(cfg: Any, model: Any) -> Any:
    """``peft.LoraConfig`` from ``cfg.lora_*``; targets missing from ``model`` are a one-line error."""
    from peft import LoraConfig, TaskType

    targets = list(cfg.lora_target_modules)
    if targets != ["all-linear"]:
        present = linear_module_names(model)
        missing = [t for t in targets if t not in present]
        if missing:
            raise OfftargetError(f"--lora-target-modules {','.join(missing)}: no such linear layers in {cfg.model} "
                                 f"(it has {', '.join(sorted(present))}; or use all-linear)")
    return LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets if targets != ["all-linear"] else "all-linear",
                      bias="none", task_type=TaskType.CAUSAL_LM)


def check_lora_options(cfg: Any) -> None:
    if cfg.lora_rank < 1 or cfg.lora_alpha <= 0:
        raise OfftargetError(f"--lora-rank {cfg.lora_rank} / --lora-alpha {cfg.lora_alpha}: rank >= 1, alpha > 0")
    if not 0.0 <= cfg.lora_dropout < 1.0:
        raise OfftargetError(f"--lora-dropout {cfg.lora_dropout}: must be in [0, 1)")
    if not cfg.lora_target_modules:
        raise OfftargetError("--lora-target-modules: give module names (e.g. q_proj,v_proj) or all-linear")


class AdapterDisabled:
    """The start model inside a PEFT-wrapped policy: the same network called with its adapter switched
    off. The monitor scores exact KL(start || current) against it without loading a second copy."""

    def __init__(self, peft_model: Any) -> None:
        self.peft_model = peft_model

    def __call__(self, **inputs: Any) -> Any:
        with self.peft_model.disable_adapter():
            return self.peft_model(**inputs)

    forward = __call__

    @property
    def device(self) -> Any:
        return self.peft_model.device

    @property
    def config(self) -> Any:
        return self.peft_model.config

    def get_output_embeddings(self) -> Any:
        return self.peft_model.get_output_embeddings()
