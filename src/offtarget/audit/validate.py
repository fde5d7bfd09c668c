"""Check every checkpoint and every prompt before any sampling.

A real audit samples for hours; a second ``--model`` that is missing, has no weights, holds NaN,
has a tokenizer larger than its embedding, or a prompt longer than its context must fail in the
first seconds, not after the first checkpoint was sampled. :func:`validate_checkpoints` makes one
pass over every ``--model`` entry: config present, weights present and finite, tokenizer ids <
embedding rows, each prompt (rendered as the sampler renders it) shorter than the context.

Loaders of other checkpoint kinds plug in through :data:`VALIDATORS` (a predicate on the path
and a check that returns the facts or raises :class:`OfftargetError`).

    >>> validate_checkpoints(cfg, problems)   # raises OfftargetError with one line, or returns facts
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from offtarget.errors import OfftargetError

FINITE_CHECK_BYTES = 8 * 2**30
"""Weights up to this size are read whole for NaN/inf; above it, the embedding and output layers only
(a full read of a 100 GB checkpoint would rival the audit; loading then still checks what it holds)."""

CHARS_PER_TOKEN_LIMIT = 32
"""A prompt longer than this many characters per context position cannot fit any tokenizer's
context; it is refused without tokenizing it (a 10 MB prompt line would exhaust memory)."""

VALIDATORS: list[tuple[Callable[[str], bool], Callable[[str, str, object], dict]]] = []
"""Extra checkpoint kinds: ``(accepts(path), check(name, path, cfg) -> facts)``, tried in order
before the Hugging Face directory check."""


def validate_checkpoints(cfg, problems) -> dict[str, dict]:
    """Facts per checkpoint name (``max_positions``, ``vocab``); raises on the first problem found."""
    from offtarget.evidence import parse_model_spec

    facts: dict[str, dict] = {}
    for name, path in cfg.models.items():
        spec = parse_model_spec(path)
        if spec.is_log:
            if spec.kind == "lmeval":
                from offtarget.evidence.lmeval import refuse_results_file

                refuse_results_file(Path(spec.path))
            continue
        check = next((c for accepts, c in VALIDATORS if accepts(path)), None)
        facts[name] = check(name, path, cfg) if check else _hf_directory(name, path, cfg)
        limit = facts[name].get("max_positions")
        if limit and facts[name].get("tokenizer") is not None:
            _prompts_fit(name, facts[name]["tokenizer"], limit, problems, cfg.chat_template)
    return facts


def _hf_directory(name: str, path: str, cfg) -> dict:
    root = Path(path)
    who = f"--model {name}={path}"
    if not root.exists():
        raise OfftargetError(f"{who}: not found; give a directory saved with save_pretrained")
    if not root.is_dir():
        raise OfftargetError(f"{who}: not a directory; give a Hugging Face checkpoint directory")
    try:
        config = json.loads((root / "config.json").read_text())
    except FileNotFoundError:
        raise OfftargetError(f"{who}: no config.json; is it a Hugging Face model directory?") from None
    except (OSError, ValueError) as exc:
        raise OfftargetError(f"{who}: config.json is not readable JSON ({exc})") from None
    if not isinstance(config, dict):
        raise OfftargetError(f"{who}: config.json must hold a JSON object")
    text = config.get("text_config") or {}
    rows = config.get("vocab_size") or text.get("vocab_size")
    max_pos = config.get("max_position_embeddings") or text.get("max_position_embeddings")
    remote = getattr(cfg, "engine", "hf") == "openai" or getattr(cfg, "engines", {}).get(name) == "openai"
    if not remote:
        _weights(who, root)
    from offtarget.models.loading import load_tokenizer

    tok = load_tokenizer(path, cfg.trust_remote_code)
    ids = list(tok.get_vocab().values())
    top = max(ids) + 1 if ids else 0
    if rows and top > int(rows):
        raise OfftargetError(
            f"{who}: the tokenizer has ids up to {top - 1} but the model's embedding has {rows} rows "
            "(config vocab_size); the tokenizer belongs to another model or the embedding was not resized")
    return {"max_positions": int(max_pos) if max_pos else None, "vocab": rows, "tokenizer": tok}


def _weights(who: str, root: Path) -> None:
    from offtarget.models.loading import _weight_files

    files = _weight_files(root)
    if not files:
        raise OfftargetError(f"{who}: no weight files (*.safetensors or *.bin)")
    tensors = [f for f in files if f.name.endswith(".safetensors")]
    whole = sum(f.stat().st_size for f in tensors) <= FINITE_CHECK_BYTES
    for f in tensors:
        _finite(who, f, whole)


def _finite(who: str, f: Path, whole: bool) -> None:
    import torch
    from safetensors import safe_open

    try:
        with safe_open(str(f), framework="pt") as st:
            for key in st.keys():  # noqa: SIM118 (safe_open is not a dict)
                if not whole and not any(k in key for k in ("embed", "lm_head", "wte")):
                    continue
                t = st.get_tensor(key)
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    bad = int((~torch.isfinite(t)).sum())
                    raise OfftargetError(f"{who}: {f.name} tensor {key} holds {bad} NaN/inf values; "
                                         "the checkpoint is corrupt or diverged")
    except OfftargetError:
        raise
    except Exception as exc:  # noqa: BLE001 - a torn or foreign file is a user-side problem
        raise OfftargetError(f"{who}: {f.name} is not a readable safetensors file "
                             f"({exc.__class__.__name__}: {' '.join(str(exc).split())[:200]})") from None


def _prompts_fit(name: str, tok, limit: int, problems, chat_template: bool) -> None:
    """Every prompt, rendered through the chat template as the sampler does, leaves room to answer."""
    from offtarget.models.sampling import render_prompt

    for p in problems:
        if len(p.prompt) > CHARS_PER_TOKEN_LIMIT * limit:
            raise OfftargetError(
                f"problem {p.id}: prompt of {len(p.prompt):,} characters cannot fit the {limit}-position context "
                f"of --model {name}; shorten it or drop the problem")
        text, special = render_prompt(tok, p.prompt, chat_template)
        n = len(tok(text, add_special_tokens=special, verbose=False)["input_ids"])
        if n >= limit:
            raise OfftargetError(
                f"problem {p.id}: prompt is {n:,} tokens but --model {name} holds {limit} positions "
                f"(max_position_embeddings); shorten the prompt or drop the problem")


__all__ = ["VALIDATORS", "validate_checkpoints"]
