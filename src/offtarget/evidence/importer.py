"""Put a log's completions into the run store and build the :class:`Evidence` probes read.

Rows are stored under the log's own fingerprint (source kind + SHA-256 of the file, and the
attached checkpoint's fingerprint when one is given) and a parameter key made from the log's
sampling settings, so they never mix with generations offtarget sampled itself, and a re-run
reads them back instead of importing again.

Token ids: with a checkpoint attached (``inspect:run.eval@models/lab/sft``), its tokenizer's
ids of the completion (plus EOS when it stopped), re-scored teacher-forced by the model, which
gives the log-probs and entropies of the model's own distribution exactly as sampling records
them; without one, one pseudo-token per character (the lab tokenizer's view), no entropies and
only the log-probs the log carries. Where the log does not say why a completion ended, it is
``length`` when it has ``max_tokens`` tokens, else ``stop``.

All checkpoints of an audit are compared on the same problems and the same number of samples:
:func:`align` keeps the suite's problems present in every log and truncates each problem to
the sample count every checkpoint has, and says so.

    >>> problems, n, notes = align(problems, {"sft": log}, direct_samples=None)
    >>> ev = log_evidence("sft", spec, log, task, problems, n, store, cfg)
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch

from offtarget.errors import OfftargetError
from offtarget.evidence.checkpoint import Evidence
from offtarget.evidence.records import LogEvidence, LogRow, LogSampling
from offtarget.evidence.source import ModelSpec
from offtarget.store import GenerationStore, StoredSample
from offtarget.tasks.problem import Problem, Task

END = 0x110000
"""Pseudo-token id of the end of a completion that stopped (one past the last code point)."""


# ---------------------------------------------------------------------------------------------
# Aligning several logs (and sampled checkpoints) on one set of problems and samples


def align(problems: list[Problem], logs: dict[str, LogEvidence], direct_samples: int | None,
          ) -> tuple[list[Problem], int, list[str]]:
    """(problems every log covers, common samples per problem, notes); one-line errors otherwise."""
    notes: list[str] = []
    by_id = {p.id: p for p in problems}
    covered = set(by_id)
    grouped = {name: log.by_problem() for name, log in logs.items()}
    for name, rows in grouped.items():
        log = logs[name]
        bad = [(pid, r[0].prompt) for pid, r in rows.items()
               if pid in by_id and r[0].prompt is not None and by_id[pid].prompt not in r[0].prompt]
        if bad:
            pid, prompt = bad[0]
            raise OfftargetError(f"{log.path}: problem {pid!r} was prompted {prompt!r} but the suite's prompt is "
                                 f"{by_id[pid].prompt!r}; pass the --suite the log was made from")
        outside = [pid for pid in rows if pid not in by_id]
        if len(outside) == len(rows):
            raise OfftargetError(f"{log.path}: none of its {len(rows)} problem ids (e.g. {outside[0]!r}) is in the "
                                 "suite's selection; pass the --suite (and --splits/--problems) the log was made from")
        if outside:
            notes.append(f"{name}: {len(outside)} of the log's {len(rows)} problems are not in the suite's "
                         "selection and were left out")
        covered &= set(rows)
    kept = [p for p in problems if p.id in covered]
    if not kept:
        raise OfftargetError("the logs share no problem of the suite's selection; compare logs of the same problems")
    if len(kept) < len(problems):
        notes.append(f"{len(kept)} of the suite's {len(problems)} selected problems are in every log; "
                     "the audit compares those")
    counts = {name: min(len(rows[p.id]) for p in kept) for name, rows in grouped.items()}
    most = {name: max(len(rows[p.id]) for p in kept) for name, rows in grouped.items()}
    n = min([*counts.values(), *([direct_samples] if direct_samples else [])])
    for name in logs:
        if counts[name] != most[name]:
            notes.append(f"{name}: problems have {counts[name]} to {most[name]} samples in the log")
    if any(m > n for m in most.values()) or (direct_samples and direct_samples > n):
        notes.append(f"samples per problem truncated to {n}, the count every checkpoint has (first {n} by sample "
                     "index)")
    return kept, n, notes


def sampling_notes(settings: dict[str, LogSampling]) -> list[str]:
    """A note for each pair of checkpoints whose stated sampling settings differ."""
    names = list(settings)
    notes = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diff = settings[a].differences(settings[b])
            if diff:
                notes.append(f"sampling differs between {a} and {b} ({'; '.join(diff)}): a paired comparison of "
                             "different sampling settings is not like for like")
    return notes


# ---------------------------------------------------------------------------------------------
# One log → stored samples → Evidence


def _params_key(log: LogEvidence, tokens: str) -> str:
    material = {"log": log.fingerprint, "sampling": log.sampling.to_dict(), "tokens": tokens}
    return "log:" + hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:12]


def _finish(row: LogRow, n_tokens: int, max_tokens: int | None) -> str:
    if row.finish_reason in ("stop", "length"):
        return row.finish_reason
    return "length" if max_tokens is not None and n_tokens >= max_tokens else "stop"


def _char_sample(row: LogRow, max_tokens: int | None) -> StoredSample:
    ids = [ord(c) for c in row.completion]
    fin = _finish(row, len(ids), max_tokens)
    lps: list[float] = []
    if row.token_logprobs is not None and len(row.token_logprobs) == len(ids):
        lps = [np.nan if x is None else float(x) for x in row.token_logprobs]
    return StoredSample(row.completion, ids + ([END] if fin == "stop" else []), lps, [], fin,
                        problem_id=row.problem_id, sample_index=row.sample_index)


@torch.inference_mode()
def _scored_samples(ckpt, rows: list[LogRow], prompts: list[str], max_tokens: int | None,
                    chat_template: bool) -> list[StoredSample]:
    """Samples with the checkpoint's token ids, teacher-forced log-probs and entropies."""
    from offtarget.models.hf_engine import model_eos_ids
    from offtarget.models.scoring import ScoringConfig, _encode, _pad_id, _score, _vocab

    tok, eos = ckpt.tokenizer, model_eos_ids(ckpt)[0]
    ids, fins = [], []
    for r in rows:
        t = tok(r.completion, add_special_tokens=False)["input_ids"]
        fin = _finish(r, len(t), max_tokens)
        ids.append(t + ([eos] if fin == "stop" else []))
        fins.append(fin)
    seqs = _encode(tok, prompts, ids, chat_template)

    def both(logits, targets):  # _score passes float32 logits; normalise here
        lp = torch.log_softmax(logits[0], dim=-1)
        return torch.stack([lp.gather(1, targets[:, None]).squeeze(1), -(lp.exp() * lp).nan_to_num().sum(-1)], 1)

    scored = _score(seqs, [ckpt.model], _vocab(ckpt), ScoringConfig(), _pad_id(tok), both)
    return [StoredSample(r.completion, i, s[:, 0].tolist(), s[:, 1].tolist(), f,
                         problem_id=r.problem_id, sample_index=r.sample_index)
            for r, i, s, f in zip(rows, ids, scored, fins)]


def log_evidence(name: str, spec: ModelSpec, log: LogEvidence, task: Task, problems: list[Problem], n: int,
                 store: GenerationStore, cfg, notes: list[str] = ()) -> Evidence:
    """Import ``log`` into ``store`` (once) and return its :class:`Evidence` on ``problems`` × ``n``."""
    import time

    t0 = time.time()
    ckpt = None
    fp = log.fingerprint
    if spec.checkpoint is not None:
        from offtarget.models.loading import fingerprint

        fp = "log-" + hashlib.sha256(f"{fp}:{fingerprint(spec.checkpoint)}".encode()).hexdigest()[:20]
    tokens = "checkpoint tokenizer" if spec.checkpoint else "characters"
    key = _params_key(log, tokens)
    ids = [p.id for p in problems]
    have = store.have_counts(fp, key)
    imported = 0
    if any(have.get(i, 0) < n for i in ids):
        rows_of = log.by_problem()
        prompt_of = {p.id: p.prompt for p in problems}
        rows = [r for pid in ids for r in rows_of[pid]]
        if spec.checkpoint is not None:
            from offtarget.models.loading import load_checkpoint

            ckpt = load_checkpoint(spec.checkpoint, name, cfg.device, cfg.dtype, cfg.trust_remote_code)
            samples = _scored_samples(ckpt, rows, [prompt_of[r.problem_id] for r in rows], log.sampling.max_tokens,
                                      cfg.chat_template)
            del ckpt
        else:
            samples = [_char_sample(r, log.sampling.max_tokens) for r in rows]
        # sample indices in the store are contiguous from 0: renumber in sample order
        per: dict[str, int] = {}
        items = []
        for s in samples:
            k = per.get(s.problem_id, 0)
            per[s.problem_id] = k + 1
            items.append((s.problem_id, k, s))
        store.put(fp, key, items)
        imported = len(items)
    got = store.get(fp, key, ids, n)
    samples = [got[i] for i in ids]
    verdicts = [[task.verify(p, s.text) for s in row] for p, row in zip(problems, samples)]
    ev_notes = list(log.notes)
    from offtarget.evidence.harness_score import harness_note

    disagreement = harness_note(name, log, problems, n, np.array([[v.correct for v in row] for row in verdicts],
                                                                  dtype=float))
    if disagreement:
        ev_notes.append(disagreement)
    if spec.checkpoint is None:
        ev_notes.append(f"{name}: evidence from a {log.kind} log without its checkpoint: tokens are characters, "
                        "token entropy, KL, likelihood confidence and weights are unavailable (attach it with @PATH)")
    if log.sampling.max_tokens is None and not all(r.finish_reason for r in log.rows):
        ev_notes.append(f"{name}: the log states no max tokens; completions without a stop reason count as stopped")
    source = {**log.describe(), "checkpoint": spec.checkpoint, "tokens": tokens, "imported_rows": imported,
              "samples_used": n, "notes": [*ev_notes, *notes]}
    return Evidence(name, log.path, fp, problems, samples, verdicts,
                    seconds=time.time() - t0, generated=0, source=source)


def direct_sampling(cfg) -> LogSampling:
    """The settings offtarget samples a checkpoint directory with, in the logs' terms."""
    return LogSampling(temperature=cfg.temperature, top_p=cfg.top_p, top_k=0, max_tokens=cfg.max_new_tokens,
                       samples=cfg.samples)

