"""The lab's tiny Llama-architecture model factory (about 1 M parameters).

A fresh model plus the char tokenizer, saved with ``save_pretrained`` so every later step
(loading, sampling, TRL training, auditing) is the code path a real checkpoint takes.
Sizes were measured to be enough: 4 layers × 128 dims learn addition in about 600 SFT steps on a
2-core CPU.

    >>> model, tok = new_tiny_model(TinyModelConfig(), seed=0)
    >>> sum(p.numel() for p in model.parameters())
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from offtarget.models.char_tokenizer import build_char_tokenizer


@dataclass
class TinyModelConfig:
    """Shape of a lab model."""

    layers: int = 4
    """Decoder layers; 4 was the smallest depth that learned carries reliably."""
    hidden: int = 128
    """Residual width."""
    ffn: int = 384
    """Feed-forward width (3× hidden)."""
    heads: int = 4
    """Attention heads."""
    max_positions: int = 64
    """Longest prompt + completion, in characters."""


def new_tiny_model(cfg: TinyModelConfig, seed: int = 0) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """A randomly initialised tiny Llama and its char tokenizer."""
    tok = build_char_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=cfg.hidden,
        intermediate_size=cfg.ffn,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    return model, tok
