"""``offtarget train ssd``: simple self-distillation — sample from the model, keep what a rule accepts, SFT on it.

    offtarget train ssd --model models/lab/sft --out runs/ssd1 --problems 256 --samples 4 --steps 100
    offtarget train ssd --model models/lab/sft --out runs/ssd1 --keep all        # the paper's raw SSD
    offtarget train ssd --out runs/ssd1 --resume

Simple self-distillation (Zhang et al. 2026, "Embarrassingly Simple Self-Distillation Improves
Code Generation", arXiv 2604.01193) fine-tunes a model on its own samples with plain SFT; the
paper's gains come without a verifier and depend on the sampling temperature and truncation, so
``--temperature``/``--top-p``/``--top-k`` are flags. Which samples are kept is ``--keep``
(:mod:`offtarget.train.curation.self_distill`): ``correct`` by default (the task's strict
verifier: rejection sampling, STaR/RFT), ``all`` for the paper's recipe, or ``correct-formatted``,
``majority``, ``shortest-correct``.

Steps, in order:

1. Problems from the task's train split (``--problems``) or ``--train-file``.
2. ``--samples`` samples per problem from the start model with offtarget's own sampler
   (:class:`~offtarget.models.hf_engine.HFEngine`), stored in ``generations.sqlite`` exactly as
   ``offtarget audit`` stores them (a killed run re-samples only what is missing).
3. Each sample verified by the task; the ``--keep`` rule picks the training set, written to
   ``ssd_data.jsonl`` (``{"prompt", "completion", ...}``, usable by ``train sft --data``) with
   ``ssd_stats.json`` (problems, samples, kept, kept share, per-problem coverage). Nothing kept is
   a one-line error before any training.
4. SFT on the kept rows through the same path as ``offtarget train sft``
   (:func:`offtarget.train.sft.train_on_rows`: TRL's SFTTrainer, completion-only loss, ``--lora``,
   checkpoints, ``--resume``), then ``final/`` and ``summary.json``. A model sampled through its chat
   template is trained through it too (conversational rows), so it learns the prompts it was sampled on.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.train.config import SFTRunConfig, _choice, _positive, _validate_common
from offtarget.train.curation.self_distill import KEEP_RULES, SampleRecord, select_samples, selection_stats
from offtarget.train.defaults import fill_model_defaults

DATA_FILE = "ssd_data.jsonl"
STATS_FILE = "ssd_stats.json"


@dataclass
class SSDRunConfig(SFTRunConfig):
    """``offtarget train ssd``: the model's own samples, filtered, then SFT (every ``train sft`` option applies)."""

    out: str = "runs/ssd"
    """Run directory: config.yaml, generations.sqlite, ssd_data.jsonl, ssd_stats.json, checkpoints/, final/."""
    data: str | None = field(default=None, metadata={"cli": False})
    """Set by the run to OUT/ssd_data.jsonl: the kept samples are the training data."""
    problems: int = 64
    """Training problems drawn from --task's train split (ignored with --train-file)."""
    train_file: str | None = None
    """Instead of drawing from the task: a JSONL file of Problem records (id, prompt, answer, ...)."""
    samples: int = 4
    """Samples per problem from the start model."""
    temperature: float = 1.0
    """Sampling temperature. SSD's gains depend on it (the paper samples at tuned temperature and truncation):
    1 samples the model's own distribution."""
    top_p: float = 1.0
    """Nucleus sampling threshold (1: off)."""
    top_k: int = 0
    """Top-k truncation (0: off)."""
    max_new_tokens: int = 32
    """Token limit per sample; the lab's longest well-formed answer is 21 tokens with EOS."""
    keep: str = "correct"
    """Which samples become training data: correct (the task's verifier; default), all (the paper's raw SSD,
    no verifier), correct-formatted, majority (the problem's plurality answer, label-free) or shortest-correct."""
    formats: list[str] = field(default_factory=list)
    """With --keep correct-formatted: only these format labels (repeat the flag; empty: any well-formed one)."""
    keep_truncated: bool = False
    """Keep samples cut at --max-new-tokens. Off: TRL appends EOS to every completion, so the model would
    learn to stop mid-answer."""

    def validate(self) -> None:
        _validate_common(self)
        fill_model_defaults(self, "sft")
        _positive(self, "batch_size", "max_length", "problems", "samples", "max_new_tokens")
        _choice(self, "keep", KEEP_RULES)
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise OfftargetError(f"--temperature {self.temperature} / --top-p {self.top_p} / --top-k {self.top_k}: "
                                 "need temperature >= 0, 0 < top-p <= 1, top-k >= 0")
        if self.temperature == 0 and self.samples > 1:
            raise OfftargetError(f"--temperature 0 is greedy: --samples {self.samples} would repeat one sample; "
                                 "use --samples 1 or a temperature > 0")
        if self.formats and self.keep != "correct-formatted":
            raise OfftargetError(f"--formats applies to --keep correct-formatted, not --keep {self.keep}")
        if self.train_file and not Path(self.train_file).is_file():
            raise OfftargetError(f"--train-file {self.train_file}: file not found")


def sample_records(cfg: SSDRunConfig, task: Any, ckpt: Any, root: Path) -> tuple[list[SampleRecord], dict]:
    """Steps 1–2 and the verdicts of step 3: one record per sample, plus the samples' texts and the sampling."""
    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.sampling import SamplingParams
    from offtarget.store import sample_stored
    from offtarget.train.data import training_problems

    problems = list({p.store_key: p for p in training_problems(task, cfg.problems, cfg.seed, cfg.train_file)}.values())
    params = SamplingParams(n=cfg.samples, temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k,
                            max_new_tokens=cfg.max_new_tokens, chat_template=cfg.chat_template)
    got = sample_stored(root / "generations.sqlite", HFEngine(ckpt), ckpt.fingerprint, problems, params, cfg.seed)
    records, texts = [], {}
    for p in problems:
        for s in got[p.store_key]:
            v = task.verify(p, s.text)
            records.append(SampleRecord(p.store_key, s.sample_index, len(s.token_ids), s.finish_reason, v.correct,
                                        None if v.abstained else v.answer, v.format, v.steps_ok))
            texts[(p.store_key, s.sample_index)] = (p, s.text)
    return records, {"texts": texts, "params": params.describe()}


def build_data(cfg: SSDRunConfig, task: Any, ckpt: Any, root: Path, say: Callable[[str], None]) -> dict:
    """Steps 1–3: sample, verify, keep; writes ssd_data.jsonl and ssd_stats.json; returns the statistics."""
    from offtarget.train.rundir import write_json_atomic, write_text_atomic

    t0 = time.perf_counter()
    say(f"sampling {cfg.samples} per problem for self-distillation")
    records, extra = sample_records(cfg, task, ckpt, root)
    kept = select_samples(records, cfg.keep, formats=cfg.formats, keep_truncated=cfg.keep_truncated)
    stats = {"kind": "offtarget_ssd_data", "version": 1, "keep": cfg.keep, "formats": list(cfg.formats),
             "keep_truncated": cfg.keep_truncated, "sampling": extra["params"],
             **selection_stats(records, kept), "seconds": round(time.perf_counter() - t0, 2)}
    write_json_atomic(root / STATS_FILE, stats)
    if not kept:
        raise OfftargetError(
            f"nothing kept: 0 of {stats['samples']} samples of {stats['problems']} problems passed --keep {cfg.keep} "
            f"({stats['correct']} correct, {stats['truncated']} truncated; see {root / STATS_FILE}); "
            + ("raise --max-new-tokens, " if stats["truncated"] else "")
            + "draw more --samples or --problems" + (", or use --keep all" if cfg.keep != "all" else ""))
    rows = []
    for r in kept:
        p, text = extra["texts"][(r.problem_id, r.index)]
        rows.append({"prompt": p.prompt, "completion": text, "problem_id": p.id, "sample_index": r.index,
                     "correct": r.correct, "format": r.format})
    write_text_atomic(root / DATA_FILE, "".join(json.dumps(row) + "\n" for row in rows))
    say(f"kept {stats['kept']} of {stats['samples']} samples (--keep {cfg.keep}); {stats['problems_covered']} of "
        f"{stats['problems']} problems covered; see {root / STATS_FILE}")
    return stats


def run_ssd(cfg: SSDRunConfig, log: Callable[[str], None] | None = None) -> dict:
    """Run simple self-distillation as ``cfg`` says; returns the summary also written to ``summary.json``."""
    from accelerate import PartialState

    from offtarget.models.loading import load_checkpoint
    from offtarget.tasks import get_task
    from offtarget.train.data import sft_rows
    from offtarget.train.session import resolve_device, start
    from offtarget.train.sft import train_on_rows

    cfg.validate()
    device = resolve_device(cfg.device)
    state = PartialState(cpu=device == "cpu")  # before anything else touches the distributed state
    say = log or (lambda msg: print(f"[offtarget] {msg}", file=sys.stderr, flush=True))
    run = start(cfg, state)
    cfg.data = str(run.root / DATA_FILE)
    task = get_task(cfg.task)
    ckpt = load_checkpoint(cfg.model, device=str(state.device) if device == "cuda" else "cpu")
    with state.main_process_first():
        if not Path(cfg.data).exists():  # only the main process gets here: the others read its file
            build_data(cfg, task, ckpt, run.root, say if state.is_main_process else (lambda msg: None))
        elif state.is_main_process:
            say(f"reusing {cfg.data} (delete it to sample again)")
    stats = json.loads((run.root / STATS_FILE).read_text())
    rows = sft_rows(cfg.data)  # made conversational by train_on_rows when the model has a chat template
    short = {k: stats[k] for k in ("keep", "problems", "samples", "kept", "kept_share", "correct", "coverage")}
    return train_on_rows(cfg, rows, run, state, device, say, ckpt=ckpt, extra={"ssd": short})


__all__ = ["SSDRunConfig", "build_data", "run_ssd", "sample_records"]
