"""Tiny random Llamas whose log-probs are far from trivial, shared by the scoring tests."""

from __future__ import annotations

import pytest
import torch

from offtarget.models.loading import Checkpoint
from offtarget.models.tiny import TinyModelConfig, new_tiny_model

SMALL = TinyModelConfig(layers=2, hidden=64, ffn=128, heads=2, max_positions=64)


def sharp_checkpoint(seed: int, name: str, wrap=None) -> Checkpoint:
    """A 2-layer random Llama with its embeddings scaled ×8: random init is near-uniform, and
    sharpened it gives log-probs and KL that differ by position. ``wrap`` wraps the model."""
    model, tok = new_tiny_model(SMALL, seed=seed)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(8.0)
    model.eval()
    tok.padding_side = "left"
    return Checkpoint(name, f"/mem/{name}", wrap(model) if wrap else model, tok, f"fp-{name}")


@pytest.fixture(scope="module")
def make_checkpoint():
    return sharp_checkpoint


@pytest.fixture(scope="module")
def ref() -> Checkpoint:
    return sharp_checkpoint(0, "ref")


@pytest.fixture(scope="module")
def other() -> Checkpoint:
    return sharp_checkpoint(1, "other")
