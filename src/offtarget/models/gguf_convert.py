"""Turn a GGUF file into a Hugging Face checkpoint directory (safetensors + tokenizer) once.

transformers reads GGUF when the ``gguf`` package is installed and dequantizes to float, but
refuses to ``save_pretrained`` a model it loaded that way ("quantized with gguf"). Rebuilding the
model from its config without the quantization record and copying the state dict in gives a
plain checkpoint that every engine and trainer loads. Dequantization is deterministic, so one
GGUF file always gives the same weights.

Writes go to a hidden temporary folder next to the target, renamed into place at the end: an
interrupted conversion never leaves a half-written checkpoint where a loader would find it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from offtarget.errors import OfftargetError

_ENCODER_ONLY_OR_SEQ2SEQ = frozenset({"t5", "t5encoder", "umt5", "bert", "nomic-bert", "clip", "general", "tokenizer"})
"""GGUF architectures that are not decoder-only language models (and mapping sections that are no architecture)."""


def gguf_architecture(path: Path) -> str:
    """``general.architecture`` of a GGUF file; a one-line error when it is not a readable GGUF file."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
        field = reader.fields.get("general.architecture")
        if field is None:
            raise OfftargetError(f"{path}: GGUF file without general.architecture: not a model checkpoint")
        return bytes(field.parts[field.data[0]]).decode()
    except OfftargetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise OfftargetError(f"{path}: not a readable GGUF file ({exc.__class__.__name__}: {exc})") from None


def check_causal_lm(path: Path) -> str:
    """The file's architecture if transformers can load it as a causal LM, else a one-line error."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    arch = gguf_architecture(path)
    if arch in _ENCODER_ONLY_OR_SEQ2SEQ or arch.split("-")[0] not in {a.split("-")[0] for a in GGUF_SUPPORTED_ARCHITECTURES}:
        raise OfftargetError(f"{path}: GGUF architecture {arch!r} is not a causal language model transformers can "
                             "load (supported: " + ", ".join(sorted(set(GGUF_SUPPORTED_ARCHITECTURES) - _ENCODER_ONLY_OR_SEQ2SEQ))
                             + ")")
    return arch


def convert_gguf(gguf_path: str | os.PathLike, out_dir: str | os.PathLike, dtype: str = "float32") -> Path:
    """Write ``out_dir`` (config, safetensors weights in ``dtype``, tokenizer) from a GGUF file.

    Replaces ``out_dir`` only once the new folder is complete.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a dequantization bar per file; the command says what it does
    src, out = Path(gguf_path), Path(out_dir)
    if not src.is_file():
        raise OfftargetError(f"{src}: GGUF file not found")
    check_causal_lm(src)
    torch_dtype = getattr(torch, dtype)
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    bar = gguf_utils.tqdm
    gguf_utils.tqdm = lambda it, **_: it  # its per-tensor progress bar ignores transformers' switch
    try:
        tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
        # dequantize in float32 (the GGUF kernels compute in it) and cast once below
        loaded = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
    except (ValueError, KeyError, OSError) as exc:
        first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
        raise OfftargetError(f"{src}: transformers could not load it as a causal LM ({first})") from None
    finally:
        gguf_utils.tqdm = bar
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch_dtype
    plain = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    if [k for k in missing if "lm_head" not in k] or unexpected:
        raise OfftargetError(f"{src}: converted weights do not fit {config.architectures}: "
                             f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    plain.tie_weights()
    del loaded
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_dir(out)
    try:
        plain.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def partial_dir(target: Path) -> Path:
    """A fresh hidden ``.NAME.partial-*`` folder next to ``target`` to build it in (ordinary permissions)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial-"))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a checkpoint is an ordinary folder
    return tmp


def replace_dir(new: Path, target: Path) -> None:
    """Move a finished folder into place; an old ``target`` is moved aside first and removed after."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_stale_partials(target: Path) -> None:
    """Leftovers of interrupted conversions into ``target`` (hidden ``.NAME.partial-*`` folders)."""
    if target.parent.is_dir():
        for p in target.parent.glob(f".{target.name}.partial-*"):
            shutil.rmtree(p, ignore_errors=True)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def cached_conversion(gguf_path: str | os.PathLike, dtype: str = "float32") -> Path:
    """A checkpoint directory for any GGUF file, converted once into ``$OFFTARGET_HOME/gguf/<sha>-<dtype>``
    (keyed by the file's content, so a moved or renamed file reuses it and a changed one does not)."""
    from offtarget.models.registry import offtarget_home

    src = Path(gguf_path).expanduser()
    if not src.is_file():
        raise OfftargetError(f"{src}: GGUF file not found")
    target = offtarget_home() / "gguf" / f"{file_sha256(src)[:16]}-{dtype}"
    if (target / "config.json").exists():
        return target
    remove_stale_partials(target)
    return convert_gguf(src, target, dtype)
