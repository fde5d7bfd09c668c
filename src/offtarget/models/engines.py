"""Which engine samples a checkpoint, and what the non-HF engines read from its directory.

An audit samples every checkpoint with one of three engines:

- ``hf`` (default): offtarget's own decoding loop on a Hugging Face model
  (:class:`~offtarget.models.hf_engine.HFEngine`); exact token entropies.
- ``vllm``: an in-process ``vllm.LLM`` (:class:`~offtarget.models.vllm_engine.VLLMEngine`), one GPU
  to a cluster through ``engine_args`` (``tensor_parallel_size``, ``data_parallel_size``,
  ``distributed_executor_backend: ray`` ...), needs the ``vllm`` package.
- ``openai``: any OpenAI-compatible completions server (``vllm serve``, SGLang, TGI) at
  ``server_url`` (:class:`~offtarget.models.openai_engine.OpenAIEngine`); the checkpoint
  directory is still read locally for its tokenizer, EOS ids and fingerprint.

``engine`` sets the engine of every checkpoint; ``engines`` overrides it per checkpoint name, so
one audit can compare the same directory sampled by two engines:

    models: {hf: models/lab/sft, vllm: models/lab/sft}
    engines: {vllm: vllm}

Samples are stored under the checkpoint's fingerprint, qualified by the engine for the non-HF
ones (``<fingerprint>@vllm``): two engines draw different random numbers, so each keeps its
own samples and its own cached probe results.

Engines read :class:`EngineOptions`, which a caller builds once from its own configuration
(:meth:`offtarget.audit.config.AuditConfig.engine_options`), so this layer knows nothing of audits.

    >>> engine_for(EngineOptions(per_checkpoint={"fast": "vllm"}), "fast"), store_key("ab12", "vllm")
    ('vllm', 'ab12@vllm')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError

ENGINES = ("hf", "vllm", "openai")


@dataclass(frozen=True)
class EngineOptions:
    """How checkpoints are sampled: which engine, on what hardware, and how to reach a server."""

    engine: str = "hf"
    """Engine of every checkpoint: one of :data:`ENGINES`."""
    per_checkpoint: dict[str, str] = field(default_factory=dict)
    """Engine per checkpoint name, overriding ``engine``."""
    device: str = "auto"
    dtype: str = "auto"
    trust_remote_code: bool = False
    batch_sequences: int = 256
    """Sequences per generate call of the HF engine."""
    engine_args: dict[str, Any] = field(default_factory=dict)
    """Passed to ``vllm.LLM(...)``."""
    entropy_topk: int | None = None
    """Top-k log-probs per token the vllm/openai engines request to estimate entropy."""
    server_url: str | None = None
    server_model: str | None = None
    max_concurrency: int = 8
    request_retries: int = 5
    request_timeout: float = 600.0


def engine_for(options: EngineOptions, name: str) -> str:
    """The engine that samples checkpoint ``name``."""
    engine = options.per_checkpoint.get(name, options.engine)
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
class CheckpointMetadata:
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


def read_checkpoint_metadata(path: str, trust_remote_code: bool = False) -> CheckpointMetadata:
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
    return CheckpointMetadata(str(root), tok, eos_ids, vocab, int(max_pos) if max_pos else None, fingerprint(root))


def open_engine(options: EngineOptions, name: str, path: str, known_fingerprint: str | None = None,
                tokenizer: Any = None):
    """(engine, fingerprint) for checkpoint ``name`` at ``path``; call :func:`close_engine` after.

    The HF engine reuses ``known_fingerprint`` and an already loaded ``tokenizer`` of ``path``
    instead of computing them again."""
    o = options
    kind = engine_for(o, name)
    if kind == "hf":
        from offtarget.models.hf_engine import HFEngine
        from offtarget.models.loading import load_checkpoint

        ckpt = load_checkpoint(path, name, o.device, o.dtype, o.trust_remote_code,
                               known_fingerprint=known_fingerprint, tokenizer=tokenizer)
        return HFEngine(ckpt, o.batch_sequences), ckpt.fingerprint
    if kind == "vllm":
        from offtarget.models.vllm_engine import VLLMEngine

        engine = VLLMEngine(path, dtype=o.dtype, trust_remote_code=o.trust_remote_code,
                            engine_args=dict(o.engine_args), entropy_topk=o.entropy_topk)
        return engine, engine.metadata.fingerprint
    from offtarget.models.openai_engine import OpenAIEngine

    if not o.server_url:
        raise OfftargetError(f"checkpoint {name!r} uses engine openai but server_url is not set: "
                             "give server_url: http://HOST:PORT/v1 in the config")
    engine = OpenAIEngine(
        o.server_url, path, served_model=o.server_model, max_concurrency=o.max_concurrency,
        retries=o.request_retries, timeout=o.request_timeout, entropy_topk=o.entropy_topk,
        trust_remote_code=o.trust_remote_code,
    )
    return engine, engine.metadata.fingerprint


def close_engine(engine) -> None:
    """Release what an engine holds (vLLM's engine processes and GPU memory; nothing for the others)."""
    close = getattr(engine, "close", None)
    if close is not None:
        close()


def is_checkpoint_dir(path: str) -> bool:
    return Path(path).is_dir() and (Path(path) / "config.json").exists()
