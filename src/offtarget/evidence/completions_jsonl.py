"""Plain JSONL of completions as evidence: the format for any harness offtarget does not read.

One JSON object per line; ``problem_id`` and ``completion`` are required::

    {"sampling": {"temperature": 1.0, "top_k": 0, "max_tokens": 16, "samples": 4}}
    {"problem_id": "test/carries=1/9+29", "sample_index": 0, "completion": "d 28<c>7"}
    {"problem_id": "test/carries=1/9+29", "sample_index": 1, "completion": "d 27<c>7",
     "finish_reason": "stop", "token_logprobs": [-0.67, -0.0002, ...]}

A line holding only ``sampling`` states the settings the completions were drawn with (keys
of :class:`~offtarget.evidence.records.LogSampling`); offtarget records them and warns when
compared checkpoints differ. ``sample_index`` defaults to the row's position among the rows
of its problem; ``prompt``, ``finish_reason`` (``stop``/``length``) and ``token_logprobs``
are optional. A file holding several checkpoints names each row's ``checkpoint``; then
``--model NAME=completions:FILE`` reads the rows whose ``checkpoint`` is ``NAME``.

    offtarget audit --suite arithmetic --model base=completions:base.jsonl --model sft=completions:sft.jsonl

:func:`write` exports any :class:`~offtarget.evidence.records.LogEvidence` in this format.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.evidence.records import LogEvidence, LogRow, LogSampling, file_digest
from offtarget.jsonlines import read_objects

_SAMPLING = {f.name for f in fields(LogSampling)}


def _sampling(where: str, d) -> LogSampling:
    if not isinstance(d, dict) or set(d) - _SAMPLING:
        raise OfftargetError(f"{where}: 'sampling' must be an object with keys among {sorted(_SAMPLING)}")
    try:
        return LogSampling(**{k: None if v is None else (int(v) if k in ("top_k", "max_tokens", "samples", "seed")
                                                       else float(v)) for k, v in d.items()})
    except (TypeError, ValueError):
        raise OfftargetError(f"{where}: 'sampling' values must be numbers") from None


def read(path: str | Path, checkpoint: str | None = None) -> LogEvidence:
    """The completions of ``path`` (of ``checkpoint`` when rows name several checkpoints)."""
    path = Path(path)
    rows: list[LogRow] = []
    sampling: LogSampling | None = None
    names: set[str] = set()
    raw = []
    for lineno, rec in read_objects(path, "completions file"):
        where = f"{path}:{lineno}"
        if set(rec) == {"sampling"}:
            sampling = _sampling(where, rec["sampling"])
            continue
        if "problem_id" not in rec or not isinstance(rec.get("completion"), str):
            raise OfftargetError(f"{where}: a completion row needs 'problem_id' and a string 'completion'")
        if "sampling" in rec:
            s = _sampling(where, rec["sampling"])
            if sampling is not None and s != sampling:
                raise OfftargetError(f"{where}: 'sampling' differs from the earlier rows'; one setting per file")
            sampling = s
        if "checkpoint" in rec:
            names.add(str(rec["checkpoint"]))
        raw.append((where, rec))
    if len(names) > 1:
        if checkpoint not in names:
            raise OfftargetError(f"{path}: rows of checkpoints {sorted(names)}; name the --model after one of them")
        raw = [(w, r) for w, r in raw if str(r.get("checkpoint")) == checkpoint]
    next_index: dict[str, int] = {}
    for where, rec in raw:
        pid = str(rec["problem_id"])
        idx = rec.get("sample_index", next_index.get(pid, 0))
        if not isinstance(idx, int) or idx < 0:
            raise OfftargetError(f"{where}: 'sample_index' must be a non-negative integer")
        next_index[pid] = max(next_index.get(pid, 0), idx + 1)
        lps = rec.get("token_logprobs")
        if lps is not None and not (isinstance(lps, list) and all(x is None or isinstance(x, (int, float))
                                                                   for x in lps)):
            raise OfftargetError(f"{where}: 'token_logprobs' must be a list of numbers (or null)")
        fin = rec.get("finish_reason")
        if fin not in (None, "stop", "length"):
            raise OfftargetError(f"{where}: finish_reason {fin!r}: use 'stop', 'length' or leave it out")
        rows.append(LogRow(pid, idx, rec["completion"], prompt=rec.get("prompt"),
                           token_logprobs=None if lps is None else tuple(lps), finish_reason=fin))
    if not rows:
        raise OfftargetError(f"{path}: no completion rows; see the format in offtarget.evidence.completions_jsonl")
    sampling = sampling or LogSampling()
    if sampling.samples is None:
        sampling = LogSampling(**{**sampling.to_dict(), "samples": max(next_index.values())})
    return LogEvidence("completions", str(path), file_digest(path), sampling, rows, harness="jsonl")


def write(path: str | Path, log: LogEvidence, checkpoint: str | None = None) -> None:
    """Write ``log`` as a completions file (atomically: a temp file renamed into place)."""
    from offtarget.report.results import atomic_write_text

    lines = [json.dumps({"sampling": log.sampling.to_dict()})]
    for r in log.rows:
        row = {"problem_id": r.problem_id, "sample_index": r.sample_index, "completion": r.completion}
        if checkpoint is not None:
            row["checkpoint"] = checkpoint
        if r.prompt is not None:
            row["prompt"] = r.prompt
        if r.finish_reason is not None:
            row["finish_reason"] = r.finish_reason
        if r.token_logprobs is not None:
            row["token_logprobs"] = list(r.token_logprobs)
        lines.append(json.dumps(row))
    atomic_write_text(path, "\n".join(lines) + "\n")
