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


def tiny_llama(shape: TinyModelConfig, tok, seed: int, bos_token_id: int | None) -> LlamaForCausalLM:
    """A randomly initialised Llama of ``shape`` for ``tok``'s vocabulary and special tokens, tied
    embeddings, seeded by ``seed`` (the lab's char models and its chat model alike)."""
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=shape.hidden,
        intermediate_size=shape.ffn,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.heads,
        max_position_embeddings=shape.max_positions,
        tie_word_embeddings=True,
        bos_token_id=bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def new_tiny_model(cfg: TinyModelConfig, seed: int = 0) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """A randomly initialised tiny Llama and its char tokenizer."""
    tok = build_char_tokenizer()
    model = tiny_llama(cfg, tok, seed, tok.bos_token_id)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    return model, tok
