"""``results.json``: the versioned, strict-JSON record every report is rendered from.

Strict means no NaN or Infinity anywhere: a missing number is ``null`` and the row says why
(``reason``). Files are written to a temporary name and renamed, so a crash never leaves a
half-written result; loading validates the schema version and the required keys.

    >>> write_results("runs/x/results.json", results)
    >>> load_results("runs/x/results.json")["headline"]
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError

SCHEMA_VERSION = 1
REQUIRED = ("schema_version", "kind", "reference", "checkpoints", "probes", "headline", "routing", "config")


def sanitize(obj: Any) -> Any:
    """Replace non-finite floats by ``None`` recursively (numpy scalars become Python numbers)."""
    if isinstance(obj, dict):
        return {str(k): sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [sanitize(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            obj = obj.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def provenance(kind: str, cfg: Any, task: Any) -> dict[str, Any]:
    """The head of every ``results.json``: what ran (``kind``), with which offtarget, when, from
    which command line, on which platform, with which configuration, on which task."""
    import platform
    import sys
    from dataclasses import asdict
    from datetime import UTC, datetime

    from offtarget import __version__

    return {
        "kind": kind,
        "offtarget_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "platform": platform.platform(),
        "config": asdict(cfg),
        "task": getattr(task, "name", cfg.suite),
    }


def write_results(path: str | Path, results: dict) -> None:
    results = {"schema_version": SCHEMA_VERSION, **results}
    text = json.dumps(sanitize(results), indent=1, allow_nan=False)
    atomic_write_text(path, text)


def load_results(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.exists():
        raise OfftargetError(f"{path}: no results.json here; run `offtarget audit --out {path.parent}` first")
    try:
        data = json.loads(path.read_text(), parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise OfftargetError(f"{path}: not valid strict JSON ({exc})")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise OfftargetError(
            f"{path}: schema_version {data.get('schema_version')!r}, this offtarget reads {SCHEMA_VERSION}; re-run the audit"
        )
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise OfftargetError(f"{path}: missing key(s) {missing}; the file is not an offtarget result")
    return data


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in results.json")
