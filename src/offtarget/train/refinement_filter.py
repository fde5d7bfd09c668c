"""``offtarget train filter-refinements``: keep the teacher-refined examples the student can absorb.

    offtarget train filter-refinements --student models/lab/sft --data refined.jsonl --out runs/rf1
    offtarget train filter-refinements --student models/lab/sft --data refined.jsonl --out runs/rf1 --min-logprob -1.5
    offtarget train sft --model models/lab/sft --data runs/rf1/kept.jsonl --out runs/sft-rf1

A teacher's refinement beyond the student's frontier hurts it even when it is better in absolute
terms (Li et al. 2024, Selective Reflection-Tuning, arXiv 2402.10110); the student should choose.
Each example's statistic is the student's mean token log-probability of the refined completion
(plus the EOS TRL appends when training on it) given its prompt, teacher-forced with
:func:`offtarget.models.scoring.completion_logprobs`. The band and its default are explained in
:mod:`offtarget.train.curation.refinement`: by default the lower edge is the 10 % quantile of the
same statistic over ``--reference-samples`` of the student's own samples per prompt (offtarget's
sampler at T = 1, stored in ``generations.sqlite``); ``--min-logprob``/``--max-logprob`` state an
absolute band instead (no sampling).

The output directory:

    config.yaml          the resolved options
    kept.jsonl           the kept rows, every input field plus ``student_logprob`` (``train sft --data`` reads it)
    dropped.jsonl        the dropped rows, plus ``student_logprob`` and ``reason`` (too_unlikely / too_likely)
    filter_stats.json    counts, the band (edges and how they were set), the log-prob distributions of the
                         refined examples and of the student's own samples
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from offtarget.errors import OfftargetError


@dataclass
class RefinementFilterConfig:
    """``offtarget train filter-refinements``: the student's likelihood band over teacher-refined data."""

    student: str | None = None
    """The student checkpoint (the model that will be fine-tuned on the data): a directory, a known model's
    name, a .gguf file or a LoRA adapter."""
    data: str | None = None
    """Teacher-refined examples: a JSONL file of {"prompt", "completion"} rows (other fields are carried along)."""
    out: str = "runs/filter-refinements"
    """Output directory: config.yaml, kept.jsonl, dropped.jsonl, filter_stats.json, generations.sqlite."""
    low_quantile: float | None = 0.1
    """Lower band edge: this quantile of the student's own samples' mean token log-probs (see the module
    docstring of offtarget.train.curation.refinement for why 0.1). Ignored with --min-logprob/--max-logprob."""
    high_quantile: float | None = None
    """Upper band edge as a quantile of the student's own samples (unset: no upper edge)."""
    min_logprob: float | None = None
    """Absolute lower edge in nats per token; with it (or --max-logprob) the band is absolute and no
    reference samples are drawn."""
    max_logprob: float | None = None
    """Absolute upper edge in nats per token."""
    reference_samples: int = 4
    """The student's own samples per prompt that set the quantile band."""
    max_new_tokens: int = 64
    """Token limit of the student's reference samples."""
    temperature: float = 1.0
    """Temperature of the reference samples: 1 is the student's own distribution."""
    chat_template: bool = True
    """Render prompts through the student tokenizer's chat template when it has one (as the sampler does)."""
    seed: int = 0
    """Seed of the reference samples."""
    device: str = "auto"
    """auto (CUDA if present, else CPU), cpu or cuda."""
    overwrite: bool = False
    """Replace an existing, non-empty --out directory."""

    @property
    def absolute(self) -> bool:
        return self.min_logprob is not None or self.max_logprob is not None

    def validate(self) -> None:
        if not self.student:
            raise OfftargetError("--student: give the student checkpoint, e.g. --student models/lab/sft")
        from offtarget.models.registry import resolve_model_path

        self.student = resolve_model_path(self.student)
        if not self.data or not Path(self.data).is_file():
            raise OfftargetError(f"--data {self.data}: give an existing JSONL file of {{\"prompt\", \"completion\"}} rows")
        for name in ("low_quantile", "high_quantile"):
            q = getattr(self, name)
            if q is not None and not 0.0 <= q <= 1.0:
                raise OfftargetError(f"--{name.replace('_', '-')} {q}: must lie in [0, 1]")
        if not self.absolute and self.low_quantile is None and self.high_quantile is None:
            raise OfftargetError("no band: give --low-quantile/--high-quantile or --min-logprob/--max-logprob")
        if self.reference_samples < 1 or self.max_new_tokens < 1:
            raise OfftargetError("--reference-samples and --max-new-tokens must be at least 1")
        if self.temperature <= 0:
            raise OfftargetError(f"--temperature {self.temperature}: reference samples need a temperature > 0")
        if self.device not in ("auto", "cpu", "cuda"):
            raise OfftargetError(f"--device {self.device!r}: choose one of auto, cpu, cuda")


def read_rows(path: str) -> list[dict]:
    """The JSONL rows, each with string ``prompt`` and ``completion``."""
    from offtarget.jsonlines import read_objects

    rows = []
    for i, d in read_objects(path, "--data"):
        if not isinstance(d.get("prompt"), str) or not isinstance(d.get("completion"), str):
            raise OfftargetError(f"{path}:{i}: each line needs string fields 'prompt' and 'completion'")
        rows.append(d)
    if not rows:
        raise OfftargetError(f"{path}: no rows")
    return rows


def mean_logprobs(ckpt, prompts: list[str], completions: list[list[int]], chat_template: bool) -> list[float]:
    """The student's mean token log-prob of each completion (token ids) given its prompt, teacher-forced."""
    from offtarget.models.scoring import completion_logprobs

    return [float(t.mean()) for t in completion_logprobs(ckpt, prompts, completions, chat_template)]


def completion_ids(tokenizer, text: str) -> list[int]:
    """The completion's token ids as SFT trains on them: the text, then EOS (TRL appends it)."""
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    return ids


def reference_logprobs(cfg: RefinementFilterConfig, ckpt, prompts: list[str], out: Path) -> list[float]:
    """Mean token log-probs of the student's own samples on ``prompts`` (sampled once, stored, then scored)."""
    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.sampling import SamplingParams
    from offtarget.store import sample_stored
    from offtarget.tasks.problem import Problem

    problems = [Problem(id=f"prompt-{i}", prompt=p, answer=None) for i, p in enumerate(prompts)]
    params = SamplingParams(n=cfg.reference_samples, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens,
                            chat_template=cfg.chat_template)
    got = sample_stored(out / "generations.sqlite", HFEngine(ckpt), ckpt.fingerprint, problems, params, cfg.seed)
    pairs = [(p.prompt, s.token_ids) for p in problems for s in got[p.store_key] if s.token_ids]
    return mean_logprobs(ckpt, [a for a, _ in pairs], [b for _, b in pairs], cfg.chat_template)


def run_filter(cfg: RefinementFilterConfig, log: Callable[[str], None] | None = None) -> dict:
    """Score, band, split; writes the output directory and returns the statistics."""
    from offtarget.models.loading import load_checkpoint
    from offtarget.train.config import config_to_yaml
    from offtarget.train.curation.refinement import (
        absolute_band,
        apply_band,
        band_from_reference,
        distribution,
    )
    from offtarget.train.rundir import write_json_atomic, write_text_atomic
    from offtarget.train.session import resolve_device

    cfg.validate()
    say = log or (lambda msg: print(f"[offtarget] {msg}", file=sys.stderr, flush=True))
    out = Path(cfg.out)
    if out.exists() and any(out.iterdir()):
        if not cfg.overwrite:
            raise OfftargetError(f"--out {out}: the directory exists and is not empty; pass --overwrite to replace it")
        shutil.rmtree(out)
    rows = read_rows(cfg.data)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "config.yaml", config_to_yaml(cfg))
    t0 = time.perf_counter()
    ckpt = load_checkpoint(cfg.student, device=resolve_device(cfg.device))
    scores = mean_logprobs(ckpt, [r["prompt"] for r in rows],
                           [completion_ids(ckpt.tokenizer, r["completion"]) for r in rows], cfg.chat_template)
    reference: list[float] = []
    if cfg.absolute:
        band = absolute_band(cfg.min_logprob, cfg.max_logprob)
    else:
        prompts = list(dict.fromkeys(r["prompt"] for r in rows))
        say(f"scoring {cfg.reference_samples} of the student's own samples on each of {len(prompts)} prompts")
        reference = reference_logprobs(cfg, ckpt, prompts, out)
        band = band_from_reference(reference, cfg.low_quantile, cfg.high_quantile)
    decision = apply_band(scores, band)
    reasons = {i: "too_unlikely" for i in decision.too_unlikely} | {i: "too_likely" for i in decision.too_likely}
    kept_lines, dropped_lines = [], []
    for i, (row, s) in enumerate(zip(rows, scores, strict=True)):
        if i in reasons:
            dropped_lines.append(json.dumps({**row, "student_logprob": s, "reason": reasons[i]}) + "\n")
        else:
            kept_lines.append(json.dumps({**row, "student_logprob": s}) + "\n")
    write_text_atomic(out / "kept.jsonl", "".join(kept_lines))
    write_text_atomic(out / "dropped.jsonl", "".join(dropped_lines))
    stats = {
        "kind": "offtarget_refinement_filter", "version": 1, "student": cfg.student, "data": cfg.data,
        "statistic": "mean token log-prob (nats) of completion + EOS given the prompt, under the student",
        "counts": {"total": len(rows), "kept": len(decision.kept), "too_unlikely": len(decision.too_unlikely),
                   "too_likely": len(decision.too_likely)},
        "kept_share": len(decision.kept) / len(rows),
        "band": band.to_dict(),
        "refined_logprobs": distribution(scores),
        "reference_logprobs": distribution(reference),
        "config": asdict(cfg),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_json_atomic(out / "filter_stats.json", stats)
    edges = f"[{'-inf' if band.low is None else f'{band.low:.3f}'}, {'inf' if band.high is None else f'{band.high:.3f}'}]"
    say(f"kept {len(decision.kept)} of {len(rows)} refined examples (band {edges} nats/token, {band.source}); "
        f"{len(decision.too_unlikely)} too unlikely, {len(decision.too_likely)} too likely; see {out / 'filter_stats.json'}")
    return stats


__all__ = ["RefinementFilterConfig", "completion_ids", "mean_logprobs", "read_rows", "reference_logprobs",
           "run_filter"]
