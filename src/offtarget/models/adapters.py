"""PEFT adapter directories as checkpoints: where their base is, what identifies them.

An adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``) names its base in
``base_model_name_or_path``. offtarget writes a portable name there (a known model's name or a
path relative to nothing machine-specific, see :func:`record_base`) and the base's fingerprint in
``offtarget_adapter.json``, so a wrong or changed base is caught before anything is sampled.
"""

from __future__ import annotations

import hashlib
import json
import os
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
