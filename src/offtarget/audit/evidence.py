"""Sample every checkpoint once into the run store and read back verdicts for the probes.

Data flows one way: problems → generations (stored once) → verdicts → probes. Checkpoints
are loaded one at a time and released, so an audit of several 7B models needs the memory of
one.

    >>> evidence = collect(cfg, task, problems, console)
    >>> evidence["sft"].correct.mean()
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

import numpy as np
import torch

from offtarget.audit.config import AuditConfig
from offtarget.models.loading import fingerprint, load_checkpoint
from offtarget.models.sampling import HFBackend, SamplingParams
from offtarget.store import GenerationStore, StoredSample, fill, plan
from offtarget.tasks.problem import Problem, Task, Verdict


@dataclass
class Evidence:
    """Everything probes read about one checkpoint, aligned with ``problems``.

    Arrays are ``(problems, samples)``; greedy arrays are ``(problems,)``.
    """

    name: str
    path: str
    fingerprint: str
    problems: list[Problem]
    samples: list[list[StoredSample]]
    verdicts: list[list[Verdict]]
    greedy: list[StoredSample] | None = None
    greedy_verdicts: list[Verdict] | None = None
    seconds: float = 0.0
    generated: int = 0
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = self.verdicts
        self.correct = np.array([[x.correct for x in row] for row in v], dtype=float)
        self.abstained = np.array([[x.abstained for x in row] for row in v], dtype=float)
        self.confidence = np.array(
            [[np.nan if x.confidence is None else x.confidence for x in row] for row in v], dtype=float
        )
        self.formats = np.array([[x.format for x in row] for row in v], dtype=object)
        self.lengths = np.array([[len(s.token_ids) for s in row] for row in self.samples], dtype=float)
        self.truncated = np.array([[s.finish_reason == "length" for s in row] for row in self.samples], dtype=float)
        self.mean_entropy = np.array(
            [[float(np.mean(s.entropies)) if s.entropies else 0.0 for s in row] for row in self.samples]
        )
        if self.greedy_verdicts is not None:
            self.greedy_correct = np.array([x.correct for x in self.greedy_verdicts], dtype=float)

    @property
    def n_samples(self) -> int:
        return self.correct.shape[1]


def sampling_params(cfg: AuditConfig) -> tuple[SamplingParams, SamplingParams | None]:
    sampled = SamplingParams(
        n=cfg.samples, temperature=cfg.temperature, top_p=cfg.top_p,
        max_new_tokens=cfg.max_new_tokens, chat_template=cfg.chat_template,
    )
    greedy = (
        SamplingParams(n=1, temperature=0.0, max_new_tokens=cfg.max_new_tokens, chat_template=cfg.chat_template)
        if cfg.greedy
        else None
    )
    return sampled, greedy


def collect(cfg: AuditConfig, task: Task, problems: list[Problem], store: GenerationStore, progress=None) -> dict[str, Evidence]:
    """Fill the store for every checkpoint (only what is missing) and build :class:`Evidence`."""
    import time

    sampled, greedy = sampling_params(cfg)
    out: dict[str, Evidence] = {}
    for name, path in cfg.models.items():
        t0 = time.time()
        fp = fingerprint(path) if _is_dir(path) else None
        todo = 0
        if fp is not None:
            for params in filter(None, (sampled, greedy)):
                todo += sum(k * len(g) for k, g in plan(store, fp, problems, params).items())
        generated = 0
        if fp is None or todo:
            ckpt = load_checkpoint(path, name, cfg.device, cfg.dtype, cfg.trust_remote_code)
            fp = ckpt.fingerprint
            backend = HFBackend(ckpt, cfg.batch_sequences)
            task_id = progress.add_task(f"sampling {name}", total=todo) if progress else None
            for params in filter(None, (sampled, greedy)):
                generated += fill(
                    store, backend, fp, problems, params, seed=cfg.seed, max_batch_sequences=cfg.batch_sequences,
                    on_batch=(lambda k: progress.advance(task_id, k)) if progress else None,
                )
            del backend, ckpt
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        ids = [p.id for p in problems]
        got = store.get(fp, sampled.key(), ids, sampled.n)
        samples = [got[i] for i in ids]
        verdicts = [[task.verify(p, s.text) for s in row] for p, row in zip(problems, samples)]
        g_samples = g_verdicts = None
        if greedy is not None:
            g = store.get(fp, greedy.key(), ids, 1)
            g_samples = [g[i][0] for i in ids]
            g_verdicts = [task.verify(p, s.text) for p, s in zip(problems, g_samples)]
        out[name] = Evidence(name, path, fp, problems, samples, verdicts, g_samples, g_verdicts,
                             seconds=time.time() - t0, generated=generated)
    return out


def _is_dir(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_dir() and (Path(path) / "config.json").exists()
