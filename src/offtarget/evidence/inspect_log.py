"""Inspect AI logs (``.eval`` archives or ``--log-format json`` files) as evidence.

An ``.eval`` log is a zip archive: ``header.json`` (the eval spec: ``model``,
``model_generate_config`` with ``temperature``/``top_p``/``top_k``/``max_tokens``/``seed``,
``config.epochs``) and one ``samples/<id>_epoch_<n>.json`` per sample and epoch. Inspect
0.3 compresses the members with Zstandard (zip method 93), which Python's :mod:`zipfile`
cannot read, so they are decompressed here with the ``zstandard`` package; Inspect itself is
not imported. A JSON log holds the same header fields and a ``samples`` list.

From each sample: the id, the epoch (sample index = epoch − 1), the completion
(``output.choices[0].message``), the stop reason (``stop`` / ``max_tokens``, else unknown)
and, when the eval asked for ``logprobs``, the log-prob of every generated token. Inspect's
``hf`` provider records the *most likely* token at each step rather than the sampled one
(the recorded tokens do not spell the completion); then the sampled token's log-prob is
looked up in that step's ``top_logprobs`` by the completion's characters, which is right only
for a one-character-per-token tokenizer such as the lab's, and ``None`` where the character
is not among the top-k. Inspect's scores (of the first scorer) are kept only to be compared
with offtarget's verdicts; ``model_args.chat_template``, when given, records the prompt format.

    >>> log = read("../shared/fixtures/eval-logs/sft_arith30_epochs4.eval")
    >>> log.sampling.samples, log.rows[0].completion
    (4, 'd 28<c>7')

Reference: Inspect AI log format (``inspect_ai.log``; UK AI Security Institute), 0.3.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.evidence.records import LogEvidence, LogRow, LogSampling, file_digest, score_value

_ZSTD = 93
_STOP = {"stop": "stop", "max_tokens": "length", "model_length": "length"}


def _member(z: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    if info.compress_type != _ZSTD:
        return z.read(info)
    import zstandard

    z.fp.seek(info.header_offset)
    head = z.fp.read(30)
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    z.fp.seek(info.header_offset + 30 + name_len + extra_len)
    try:
        return zstandard.ZstdDecompressor().decompress(z.fp.read(info.compress_size), max_output_size=info.file_size)
    except zstandard.ZstdError as exc:
        raise OfftargetError(f"{path}: member {info.filename} is corrupt ({exc}); re-export the log") from None


def _load_eval(path: Path) -> tuple[dict, list[dict]]:
    try:
        with zipfile.ZipFile(path) as z:
            infos = {i.filename: i for i in z.infolist()}
            if "header.json" not in infos:
                raise OfftargetError(f"{path}: no header.json in the archive; the Inspect run did not finish "
                                     "(or this is not an Inspect .eval log)")
            header = json.loads(_member(z, infos["header.json"], path))
            samples = [json.loads(_member(z, i, path)) for n, i in infos.items()
                       if n.startswith("samples/") and n.endswith(".json")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise OfftargetError(f"{path}: not a readable Inspect .eval archive ({exc}); pass the .eval file Inspect "
                             "wrote to its log dir") from None
    except json.JSONDecodeError as exc:
        raise OfftargetError(f"{path}: a member is not valid JSON ({exc.msg}); re-export the log") from None
    return header, samples


def _load_json(path: Path) -> tuple[dict, list[dict]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OfftargetError(f"{path}: not a readable Inspect JSON log ({exc}); pass a .eval or .json log") from None
    if not isinstance(data, dict) or "eval" not in data:
        raise OfftargetError(f"{path}: no 'eval' header; not an Inspect log")
    return data, list(data.get("samples") or [])


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text")
    return ""


def _logprobs(choice: dict, completion: str) -> tuple[tuple | None, tuple | None, bool]:
    """(tokens, log-probs, looked_up): sampled tokens and their log-probs, or ``(None, None, False)``."""
    content = ((choice.get("logprobs") or {}).get("content")) or []
    if not content:
        return None, None, False
    tokens = [c.get("token", "") for c in content]
    spelled, k = "", 0
    while k < len(tokens) and len(spelled) < len(completion):
        spelled, k = spelled + tokens[k], k + 1
    if spelled == completion:  # the recorded tokens are the sampled ones (steps past the end dropped)
        return tuple(tokens[:k]), tuple(c.get("logprob") for c in content[:k]), False
    if len(content) < len(completion):
        return None, None, False
    lps = []
    for ch, step in zip(completion, content):
        top = {t.get("token"): t.get("logprob") for t in step.get("top_logprobs") or []}
        lps.append(top.get(ch))
    return tuple(completion), tuple(lps), True


def read(path: str | Path) -> LogEvidence:
    """Every sample of an Inspect log; one-line errors for a missing, corrupt or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise OfftargetError(f"Inspect log {path}: file not found")
    header, samples = _load_json(path) if path.suffix == ".json" else _load_eval(path)
    spec = header.get("eval") or {}
    gen = spec.get("model_generate_config") or {}
    notes: list[str] = []
    if header.get("status") not in (None, "success"):
        notes.append(f"Inspect log status {header.get('status')!r}: only its completed samples are read")
    rows: list[LogRow] = []
    looked_up = errors = 0
    scorers = [s.get("name") for s in (header.get("results") or {}).get("scores") or [] if isinstance(s, dict)]
    scorer = scorers[0] if scorers else None
    for s in samples:
        if s.get("error"):
            errors += 1
            continue
        if "id" not in s or "epoch" not in s or "output" not in s:
            raise OfftargetError(f"{path}: a sample lacks id/epoch/output; not an Inspect sample record")
        choices = (s.get("output") or {}).get("choices") or []
        if not choices:
            errors += 1
            continue
        choice = choices[0]
        text = _text((choice.get("message") or {}).get("content"))
        tokens, lps, lookup = _logprobs(choice, text)
        looked_up += lookup
        prompt = s["input"] if isinstance(s.get("input"), str) else None
        scores = s.get("scores") if isinstance(s.get("scores"), dict) else {}
        scorer = scorer or next(iter(scores), None)
        score = score_value((scores.get(scorer) or {}).get("value")) if scorer in scores else None
        rows.append(LogRow(str(s["id"]), int(s["epoch"]) - 1, text, prompt=prompt, token_logprobs=lps,
                           tokens=tokens, finish_reason=_STOP.get(choice.get("stop_reason")), harness_score=score))
    if errors:
        notes.append(f"{errors} sample(s) with an error or no output were left out")
    if looked_up:
        notes.append(f"{looked_up} sample(s): the log's tokens are not the completion (Inspect's hf provider "
                     "records the top-1 token); sampled log-probs read from top_logprobs by character")
    if not rows:
        raise OfftargetError(f"{path}: no completed samples in the Inspect log")
    epochs = (spec.get("config") or {}).get("epochs")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.problem_id] = counts.get(r.problem_id, 0) + 1
    sampling = LogSampling(
        temperature=None if gen.get("temperature") is None else float(gen["temperature"]),
        top_p=None if gen.get("top_p") is None else float(gen["top_p"]),
        top_k=None if gen.get("top_k") is None else int(gen["top_k"]),
        max_tokens=None if gen.get("max_tokens") is None else int(gen["max_tokens"]),
        samples=int(epochs) if epochs else max(counts.values()),
        seed=gen.get("seed"),
    )
    model_path = (spec.get("model_args") or {}).get("model_path")
    version = (spec.get("packages") or {}).get("inspect_ai")
    template = (spec.get("model_args") or {}).get("chat_template")
    return LogEvidence("inspect", str(path), file_digest(path), sampling, rows,
                       model=model_path or spec.get("model"),
                       harness=f"inspect_ai {version}" if version else "inspect_ai", notes=notes,
                       chat_template=template if isinstance(template, str) else None,
                       harness_metric=f"Inspect scorer {scorer}" if scorer else None)
