"""PEFT adapter directories as checkpoints: where their base is, what identifies them, and the
merged checkpoint every engine and probe reads.

An adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``) names its base in
``base_model_name_or_path``. offtarget writes a portable name there (a known model's name, or the
path it was given, never this machine's cache path; see :func:`record_base`) and the base's
fingerprint in ``offtarget_adapter.json``, so a wrong or changed base is caught before anything is
sampled.

Wherever a checkpoint is accepted, an adapter directory resolves to a merged copy
(``merge_and_unload``: W + (alpha / r) B A in every adapted layer) in
``$OFFTARGET_HOME/merged/<key>``, keyed by base and adapter together (:func:`adapter_fingerprint`).
Merged weights sample as fast as the base (no extra LoRA matmuls per layer), the weights probe
then reads the merged update like any fine-tune, and vLLM loads it unchanged. The merge costs one
base-sized folder on disk per adapter, written once.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

from offtarget.errors import OfftargetError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_RECORD = "offtarget_adapter.json"


def is_adapter_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def record_base(adapter_dir: str | os.PathLike, base_path: str | os.PathLike) -> str:
    """Make ``adapter_config.json``'s base portable and record the base's fingerprint; returns the name.

    A known model's folder becomes its registry name (``smollm2-135m-instruct``), anything else keeps
    the path it was given (a relative path stays relative), never the absolute cache path of this machine.
    """
    from offtarget.models.loading import fingerprint
    from offtarget.models.registry import portable_name

    root = Path(adapter_dir)
    cfg = json.loads((root / ADAPTER_CONFIG).read_text())
    name = portable_name(base_path)
    cfg["base_model_name_or_path"] = name
    tmp = root / (ADAPTER_CONFIG + ".tmp")
    tmp.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    tmp.replace(root / ADAPTER_CONFIG)
    record = {"kind": "offtarget_adapter", "version": 1, "base": name, "base_fingerprint": fingerprint(base_path)}
    (root / ADAPTER_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    return name


def adapter_base(adapter_dir: str | os.PathLike) -> str:
    """The base checkpoint directory of an adapter, resolved like any ``--model`` value.

    Relative base paths are tried as given (from the current directory) and then next to the
    adapter. A missing base or one whose fingerprint differs from the recorded one is a one-line error.
    """
    from offtarget.models.loading import fingerprint
    from offtarget.models.registry import resolve_model_path

    root = Path(adapter_dir)
    try:
        cfg = json.loads((root / ADAPTER_CONFIG).read_text())
        base = cfg["base_model_name_or_path"]
    except (OSError, ValueError, KeyError) as exc:
        raise OfftargetError(f"adapter {root}: {ADAPTER_CONFIG} unreadable or without base_model_name_or_path "
                             f"({exc.__class__.__name__})") from None
    if not base:
        raise OfftargetError(f"adapter {root}: {ADAPTER_CONFIG} has an empty base_model_name_or_path")
    resolved = resolve_model_path(base)
    if not Path(resolved).is_dir() and not Path(base).is_absolute() and (root / base).is_dir():
        resolved = str(root / base)
    if not (Path(resolved) / "config.json").is_file():
        raise OfftargetError(f"adapter {root}: its base {base!r} (base_model_name_or_path in {ADAPTER_CONFIG}) "
                             "is not on this machine; fetch it (offtarget models get NAME) or edit the field")
    record = root / ADAPTER_RECORD
    if record.is_file():
        want = json.loads(record.read_text()).get("base_fingerprint")
        got = fingerprint(resolved)
        if want and want != got:
            raise OfftargetError(f"adapter {root} was trained on a base with fingerprint {want}, but {base!r} "
                                 f"({resolved}) has {got}: wrong or changed base")
    return resolved


def adapter_fingerprint(adapter_dir: str | os.PathLike, base_dir: str | os.PathLike, full: bool = False) -> str:
    """Identity of base + adapter: changes when either changes."""
    from offtarget.models.loading import fingerprint

    h = hashlib.sha256(b"offtarget-adapter/1")
    h.update(fingerprint(base_dir, full=full).encode())
    h.update(fingerprint(adapter_dir, full=full).encode())
    cfg = json.loads((Path(adapter_dir) / ADAPTER_CONFIG).read_text())  # rank, alpha, targets: how it applies
    cfg.pop("base_model_name_or_path", None)
    h.update(json.dumps(cfg, sort_keys=True).encode())
    return h.hexdigest()[:16]


def merged_checkpoint(adapter_dir: str | os.PathLike) -> Path:
    """The merged checkpoint of an adapter (written once; an interrupted merge leaves no folder behind).

    Bad inputs are one-line errors: a missing base, a base whose fingerprint differs from the recorded
    one, an adapter whose shapes or layer names do not fit the base.
    """
    from offtarget.models.gguf_convert import partial_dir, remove_stale_partials, replace_dir
    from offtarget.models.registry import offtarget_home

    root = Path(adapter_dir)
    base = adapter_base(root)
    target = offtarget_home() / "merged" / adapter_fingerprint(root, base)
    if (target / "config.json").is_file():
        return target
    remove_stale_partials(target)
    tmp = partial_dir(target)
    try:
        _merge_into(root, base, tmp)
        replace_dir(tmp, target)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _merge_into(adapter: Path, base: str, out: Path) -> None:
    import shutil

    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype="auto")
    except Exception as exc:  # noqa: BLE001 - a broken base is a user error here
        raise OfftargetError(f"adapter {adapter}: its base {base} failed to load ({_first_line(exc)})") from None
    try:
        with warnings.catch_warnings():  # transformers' deprecation notices about checkpointing aliases
            warnings.simplefilter("ignore", FutureWarning)
            merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except (RuntimeError, ValueError, KeyError) as exc:
        raise OfftargetError(f"adapter {adapter} does not fit its base {base} (wrong base? {_first_line(exc)})") from None
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer_from = adapter if (adapter / "tokenizer_config.json").is_file() else Path(base)
    for f in tokenizer_from.iterdir():
        if f.is_file() and (f.name.startswith(("tokenizer", "special_tokens", "added_tokens", "vocab", "merges"))
                            or f.name in ("chat_template.jinja", "chat_template.json") or f.suffix == ".model"):
            shutil.copy2(f, out / f.name)
    record = {"kind": "offtarget_merged_adapter", "version": 1, "adapter": str(adapter.resolve()), "base": base}
    (out / "offtarget_merged.json").write_text(json.dumps(record, indent=2) + "\n")


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "size mismatch" in text:  # keep the first mismatch: the layer and both shapes say enough
        text = "size mismatch" + text.split("size mismatch", 2)[1]
    return (text[:240] + "…") if len(text) > 240 else (text or exc.__class__.__name__)
