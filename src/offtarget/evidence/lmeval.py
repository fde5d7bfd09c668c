"""lm-evaluation-harness per-sample logs (``samples_<task>_<time>.jsonl``) as evidence.

``lm_eval ... --log_samples`` writes one JSON object per document and filter: ``doc`` (the
dataset row), ``arguments.gen_args_0`` (the prompt ``arg_0`` and generation kwargs ``arg_1``:
``temperature``, ``top_k``, ``top_p``, ``max_gen_toks``, ``do_sample``), and ``resps``, the raw
completions — ``[[r_1, …, r_repeats]]`` for a ``generate_until`` task with ``repeats``. A task
with several filters repeats each document once per filter with the same ``resps``; the
first record of a document is read and its filter's score (e.g. ``exact_match``) is kept only
to be compared with offtarget's verifier, which decides correctness. Read with the standard library only: lm-eval is not imported.

The problem id is ``doc["id"]`` (``doc_id`` when the dataset has no ``id`` column). lm-eval
logs no token log-probs or finish reasons for generations.

    >>> log = read("../shared/fixtures/eval-logs/sft_samples_offtarget_arith30.jsonl")
    >>> log.sampling.temperature, log.sampling.samples
    (1.0, 4)

Reference: lm-evaluation-harness 0.4 (EleutherAI), ``docs/interface.md`` (``--log_samples``).
"""

from __future__ import annotations

from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.evidence.records import LogEvidence, LogRow, LogSampling, file_digest, score_value
from offtarget.jsonlines import read_objects


def refuse_results_file(path: Path) -> None:
    """lm-eval's aggregate ``results_*.json`` holds scores, not completions: name the file to pass."""
    if path.suffix == ".json" or path.name.startswith("results_"):
        samples = sorted(path.parent.glob("samples_*.jsonl")) if path.parent.is_dir() else []
        hint = f" (next to it: {', '.join(p.name for p in samples[:3])})" if samples else ""
        raise OfftargetError(f"{path}: this is lm-eval's aggregate results file, which holds no completions; pass "
                             f"the samples_TASK_DATE.jsonl that lm_eval --log_samples writes{hint}")


def read(path: str | Path) -> LogEvidence:
    """Every completion of an lm-eval samples file; one-line errors for anything else."""
    path = Path(path)
    refuse_results_file(path)
    rows: list[LogRow] = []
    seen: set = set()
    kwargs_seen: dict | None = None
    metric_seen: str | None = None
    for lineno, rec in read_objects(path, "lm-eval samples file"):
        where = f"{path}:{lineno}"
        if "resps" not in rec or "doc_id" not in rec:
            raise OfftargetError(f"{where}: not an lm-eval samples record (no 'resps'/'doc_id'); pass the "
                                 "samples_*.jsonl that lm_eval --log_samples writes")
        if rec["doc_id"] in seen:
            continue  # the same document under another filter
        seen.add(rec["doc_id"])
        doc = rec.get("doc") if isinstance(rec.get("doc"), dict) else {}
        pid = str(doc.get("id", rec["doc_id"]))
        args = (rec.get("arguments") or {}).get("gen_args_0") or {}
        prompt = args.get("arg_0") if isinstance(args.get("arg_0"), str) else None
        gen = args.get("arg_1") if isinstance(args.get("arg_1"), dict) else {}
        if kwargs_seen is None:
            kwargs_seen = gen
        resps = rec["resps"]
        if not (isinstance(resps, list) and len(resps) == 1 and isinstance(resps[0], list)
                and all(isinstance(r, str) for r in resps[0])):
            raise OfftargetError(f"{where}: 'resps' is not one list of generated strings (a loglikelihood or "
                                 "multiple-choice task?); only generate_until samples are completions")
        metrics = rec.get("metrics") if isinstance(rec.get("metrics"), list) else []
        if metric_seen is None and metrics:
            metric_seen = f"lm-eval {metrics[0]}" + (f", filter {rec['filter']}" if rec.get("filter") else "")
        score = score_value(rec.get(metrics[0])) if metrics else None
        for i, text in enumerate(resps[0]):
            rows.append(LogRow(pid, i, text, prompt=prompt, harness_score=score))
    if not rows:
        raise OfftargetError(f"{path}: no samples in the file; pass a non-empty lm-eval samples_*.jsonl")
    gen = kwargs_seen or {}
    temperature = gen.get("temperature")
    if gen.get("do_sample") is False:
        temperature = 0.0
    counts = {len([r for r in rows if r.problem_id == p]) for p in {r.problem_id for r in rows}}
    sampling = LogSampling(
        temperature=None if temperature is None else float(temperature),
        top_p=None if gen.get("top_p") is None else float(gen["top_p"]),
        top_k=None if gen.get("top_k") is None else int(gen["top_k"]),
        max_tokens=None if gen.get("max_gen_toks") is None else int(gen["max_gen_toks"]),
        samples=max(counts),
    )
    return LogEvidence("lmeval", str(path), file_digest(path), sampling, rows, harness="lm-eval",
                       harness_metric=metric_seen)
