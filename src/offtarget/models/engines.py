"""Which engine samples a checkpoint, and what the non-HF engines read from its directory.

An audit samples every checkpoint with one of three engines:

- ``hf`` (default): offtarget's own decoding loop on a Hugging Face model
  (:class:`~offtarget.models.sampling.HFBackend`); exact token entropies.
- ``vllm``: an in-process ``vllm.LLM`` (:class:`~offtarget.models.vllm_engine.VLLMBackend`), one GPU
  to a cluster through ``engine_args`` (``tensor_parallel_size``, ``data_parallel_size``,
  ``distributed_executor_backend: ray`` ...), needs the ``vllm`` package.
- ``openai``: any OpenAI-compatible completions server (``vllm serve``, SGLang, TGI) at
  ``server_url`` (:class:`~offtarget.models.openai_engine.OpenAIBackend`); the checkpoint
  directory is still read locally for its tokenizer, EOS ids and fingerprint.

``engine`` sets the engine of every checkpoint; ``engines`` overrides it per checkpoint name, so
one audit can compare the same directory sampled by two engines:

    models: {hf: models/lab/sft, vllm: models/lab/sft}
    engines: {vllm: vllm}

Samples are stored under the checkpoint's fingerprint, qualified by the engine for the non-HF
ones (``<fingerprint>@vllm``): two engines draw different random numbers, so each keeps its
own samples and its own cached probe results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError

ENGINES = ("hf", "vllm", "openai")


def engine_for(cfg, name: str) -> str:
    """The engine that samples checkpoint ``name`` under an :class:`~offtarget.audit.config.AuditConfig`."""
    engine = (getattr(cfg, "engines", None) or {}).get(name, getattr(cfg, "engine", "hf"))
    if engine not in ENGINES:
        raise OfftargetError(f"engine {engine!r} for checkpoint {name!r}: choose one of {', '.join(ENGINES)}")
    return engine


def request_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th prompt of a batch, below 2**31 (servers and vLLM give the ``n``
    samples of a request ``seed + j``), so a batch re-run or re-sent draws the same samples."""
    return (seed * 1_000_003 + index * 7919) % (2**31 - 1)


def store_key(fingerprint: str, engine: str) -> str:
    """The checkpoint key of the run store: the fingerprint, plus ``@engine`` for non-HF engines."""
    return fingerprint if engine == "hf" else f"{fingerprint}@{engine}"


@dataclass
class CheckpointInfo:
    """What an engine that does not load the model with transformers needs from its directory."""

    path: str
    tokenizer: Any
    """The Hugging Face tokenizer: prompts are rendered exactly as the HF engine renders them."""
    eos_ids: list[int]
    """End-of-sequence ids: generation_config.json's, else the tokenizer's (as the HF engine)."""
    vocab: int
    """Size of the output distribution (config ``vocab_size``)."""
    max_positions: int | None
    """``max_position_embeddings``: the longest sequence the checkpoint supports."""
    fingerprint: str


def read_checkpoint_info(path: str, trust_remote_code: bool = False) -> CheckpointInfo:
    """Tokenizer, EOS ids, vocabulary and fingerprint of a checkpoint directory, without its weights."""
    from offtarget.models.loading import _check_dir, fingerprint, load_tokenizer

    root = _check_dir(path)
    tok = load_tokenizer(path, trust_remote_code)
    cfg = json.loads((root / "config.json").read_text())
    text_cfg = cfg.get("text_config") or {}
    eos = None
    gen = root / "generation_config.json"
    if gen.exists():
        eos = json.loads(gen.read_text()).get("eos_token_id")
    if eos is None:
        eos = tok.eos_token_id
    eos_ids = [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None]
    vocab = int(cfg.get("vocab_size") or text_cfg.get("vocab_size") or len(tok))
    max_pos = cfg.get("max_position_embeddings") or text_cfg.get("max_position_embeddings")
    return CheckpointInfo(str(root), tok, eos_ids, vocab, int(max_pos) if max_pos else None, fingerprint(root))


def open_backend(cfg, name: str, path: str):
    """(backend, fingerprint) for checkpoint ``name`` under an audit config; call :func:`close_backend` after."""
    engine = engine_for(cfg, name)
    if engine == "hf":
        from offtarget.models.loading import load_checkpoint
        from offtarget.models.sampling import HFBackend

        ckpt = load_checkpoint(path, name, cfg.device, cfg.dtype, cfg.trust_remote_code)
        return HFBackend(ckpt, cfg.batch_sequences), ckpt.fingerprint
    if engine == "vllm":
        from offtarget.models.vllm_engine import VLLMBackend

        backend = VLLMBackend(path, dtype=cfg.dtype, trust_remote_code=cfg.trust_remote_code,
                              engine_args=dict(getattr(cfg, "engine_args", None) or {}),
                              entropy_topk=getattr(cfg, "entropy_topk", None))
        return backend, backend.info.fingerprint
    from offtarget.models.openai_engine import OpenAIBackend

    if not getattr(cfg, "server_url", None):
        raise OfftargetError(f"checkpoint {name!r} uses engine openai but server_url is not set: "
                             "give server_url: http://HOST:PORT/v1 in the config")
    backend = OpenAIBackend(
        cfg.server_url, path, served_model=getattr(cfg, "server_model", None),
        max_concurrency=getattr(cfg, "max_concurrency", 8), retries=getattr(cfg, "request_retries", 5),
        timeout=getattr(cfg, "request_timeout", 600.0), entropy_topk=getattr(cfg, "entropy_topk", None),
        trust_remote_code=cfg.trust_remote_code,
    )
    return backend, backend.info.fingerprint


def close_backend(backend) -> None:
    """Release what a backend holds (vLLM's engine processes and GPU memory; nothing for the others)."""
    close = getattr(backend, "close", None)
    if close is not None:
        close()


def is_checkpoint_dir(path: str) -> bool:
    return Path(path).is_dir() and (Path(path) / "config.json").exists()
