"""Reading users' JSONL files: one object per line, errors that name ``file:line``.

Task files, training problems and SFT data all come as JSONL; they share this reader so a
malformed line gets the same one-line message everywhere.

    >>> for lineno, row in read_objects("my_eval.jsonl"):
    ...     print(lineno, row["prompt"])
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from offtarget.errors import OfftargetError


def read_objects(path: str | Path, what: str = "file") -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line; OfftargetError on a missing file or bad line."""
    path = Path(path)
    if not path.is_file():
        raise OfftargetError(f"{what} {path}: file not found")
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise OfftargetError(f"{path}:{lineno}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                                 "save the file as UTF-8") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise OfftargetError(f"{path}:{lineno}: not valid JSON ({exc.msg}); one JSON object per line") from None
        if not isinstance(row, dict):
            raise OfftargetError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row
