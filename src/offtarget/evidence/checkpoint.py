"""What probes read about one checkpoint: its samples and verdicts, aligned with the problems.

The evidence of a checkpoint is the same record whether offtarget sampled the model
(:func:`offtarget.audit.evidence.collect`) or read an eval log (:mod:`offtarget.evidence.importer`);
probes depend on this module only, never on the audit that builds it.

    >>> ev = collect(cfg, task, problems, store)["sft"]
    >>> ev.correct.mean(), ev.model_path, ev.has_entropies
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from offtarget.store import StoredSample
from offtarget.tasks.problem import Problem, Verdict


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
    source: dict | None = None
    """For evidence read from a log: what :meth:`LogEvidence.describe` records, plus ``checkpoint``
    (the attached model directory or ``None``) and ``notes``; ``None`` for sampled evidence."""
    tokenizer_fingerprint: str | None = None
    """:func:`offtarget.models.loading.tokenizer_fingerprint` of the checkpoint: token-level numbers
    compare only between checkpoints where it is equal; ``None`` when unknown."""
    sampling: dict | None = None
    """The sampling parameters this checkpoint was sampled with and which came from its
    generation_config (:func:`offtarget.audit.evidence.checkpoint_sampling`); ``None`` for a log."""

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
        # a log without the model has no distributions: entropy is unknown, not 0
        empty = np.nan if self.source is not None else 0.0
        self.mean_entropy = np.array(
            [[float(np.mean(s.entropies)) if s.entropies else empty for s in row] for row in self.samples]
        )
        if self.greedy_verdicts is not None:
            self.greedy_correct = np.array([x.correct for x in self.greedy_verdicts], dtype=float)

    @property
    def n_samples(self) -> int:
        return self.correct.shape[1]

    @property
    def from_log(self) -> bool:
        return self.source is not None

    @property
    def model_path(self) -> str | None:
        """The model directory behind this evidence; ``None`` for a log given without one."""
        return self.path if self.source is None else self.source.get("checkpoint")

    @property
    def has_entropies(self) -> bool:
        """Whether every sample carries the per-token entropies of the model's distribution."""
        return bool(np.isfinite(self.mean_entropy).all())

    def unavailable(self, what: str = "") -> str:
        """The reason a model-needing probe cannot run on this evidence."""
        return f"unavailable: no checkpoint for {self.name} (evidence from a log){what}"
