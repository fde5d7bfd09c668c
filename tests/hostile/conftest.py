"""Shared broken checkpoints for the hostile suite (made once per session from the lab base)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_harness import BASE, copy_checkpoint


@pytest.fixture(scope="session")
def bad_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Broken copies of the lab base model: no weights, NaN weights, a tokenizer larger than the embedding."""
    import torch
    from safetensors.torch import load_file, save_file

    root = tmp_path_factory.mktemp("bad_checkpoints")
    weightless = copy_checkpoint(BASE, root / "weightless")
    (weightless / "model.safetensors").unlink()
    nan = copy_checkpoint(BASE, root / "nan")
    tensors = load_file(nan / "model.safetensors")
    key = min(k for k in tensors if k.endswith("mlp.up_proj.weight"))
    tensors[key][0, 0] = float("nan")
    save_file(tensors, nan / "model.safetensors", metadata={"format": "pt"})
    small = copy_checkpoint(BASE, root / "small_embedding")
    cfg = json.loads((small / "config.json").read_text())
    cfg["vocab_size"] = 20  # the 60-token tokenizer no longer fits
    (small / "config.json").write_text(json.dumps(cfg))
    tensors = load_file(small / "model.safetensors")
    for k in list(tensors):
        if tensors[k].shape[0] == 60:
            tensors[k] = tensors[k][:20].contiguous()
    save_file(tensors, small / "model.safetensors", metadata={"format": "pt"})
    no_config = copy_checkpoint(BASE, root / "no_config")
    (no_config / "config.json").unlink()
    del torch
    return {"weightless": weightless, "nan": nan, "small_embedding": small, "no_config": no_config,
            "nan_tensor": key}
