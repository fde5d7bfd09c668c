"""The normalised row every evidence source maps to, and one log's worth of them.

An eval harness (lm-evaluation-harness, Inspect AI) or a user's own script already sampled a
checkpoint; offtarget reads its completions instead of sampling again. Whatever the source,
each completion becomes one :class:`LogRow` — (problem id, sample index, completion, optional
per-token log-probs, finish reason) — and a :class:`LogEvidence` holds the rows of one
checkpoint with the sampling settings the log states. offtarget's own task verifier judges
every completion: a score the harness stored is read only to say when the two graders disagree.

    >>> from offtarget.evidence import read_log
    >>> log = read_log("lmeval", "../shared/fixtures/eval-logs/sft_samples_offtarget_arith30.jsonl")
    >>> log.sampling.samples, len(log.rows), log.rows[0].completion
    (4, 120, 'd 28<c>7')
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from offtarget.errors import OfftargetError

SOURCES = ("lmeval", "inspect", "completions")
"""Evidence sources: ``lmeval`` (``samples_*.jsonl`` of lm-evaluation-harness), ``inspect``
(an Inspect AI ``.eval`` log) and ``completions`` (plain JSONL, see
:mod:`offtarget.evidence.completions_jsonl`)."""


@dataclass(frozen=True)
class LogSampling:
    """Sampling settings as the log states them; ``None`` where it does not say."""

    temperature: float | None = None
    """Softmax temperature (0 = greedy)."""
    top_p: float | None = None
    """Nucleus mass; ``None`` when the harness left its default (1)."""
    top_k: int | None = None
    """Top-k cut; 0 disables it."""
    max_tokens: int | None = None
    """Longest completion in tokens (lm-eval ``max_gen_toks``, Inspect ``max_tokens``)."""
    samples: int | None = None
    """Samples per problem (lm-eval ``repeats``, Inspect ``epochs``)."""
    seed: int | None = None
    """Sampling seed, when the log records one (informative only: never compared)."""

    def to_dict(self) -> dict:
        return asdict(self)

    def differences(self, other: LogSampling) -> list[str]:
        """``field: a vs b`` for every setting both state and that differ (the seed excepted)."""
        out = []
        for key in ("temperature", "top_p", "top_k", "max_tokens", "samples"):
            a, b = getattr(self, key), getattr(other, key)
            a, b = _default(key, a), _default(key, b)
            if a is not None and b is not None and float(a) != float(b):
                out.append(f"{key} {a} vs {b}")
        return out


def _default(key: str, value):
    """A harness's unstated default where it is unambiguous (top_p 1, top_k 0 = off)."""
    if value is None and key == "top_p":
        return 1.0
    if value is None and key == "top_k":
        return 0
    return value


@dataclass(frozen=True)
class LogRow:
    """One completion of one problem, as the log recorded it."""

    problem_id: str
    """The problem's id; matched against the suite's problems."""
    sample_index: int
    """0-based index among the samples of this problem (lm-eval repeat, Inspect epoch − 1)."""
    completion: str
    """The generated text, without the prompt."""
    prompt: str | None = None
    """The prompt the harness sent, when the log has it (checked against the suite's)."""
    token_logprobs: tuple[float | None, ...] | None = None
    """log p of each generated token, ``None`` where the log does not have it."""
    tokens: tuple[str, ...] | None = None
    """The generated tokens as strings, aligned with ``token_logprobs``."""
    finish_reason: str | None = None
    """``stop`` or ``length`` when the log says; ``None`` when it does not."""
    harness_score: float | None = None
    """The score the harness itself stored for this row (1 = correct), never used as a verdict: only
    compared with offtarget's (:mod:`offtarget.evidence.harness_score`)."""


@dataclass
class LogEvidence:
    """Every completion one log holds for one checkpoint."""

    kind: str
    """One of :data:`SOURCES`."""
    path: str
    """The log file."""
    digest: str
    """SHA-256 of the log file's bytes."""
    sampling: LogSampling
    """Settings the log states."""
    rows: list[LogRow]
    """The completions, in the log's order."""
    model: str | None = None
    """What the harness called the model (e.g. its ``pretrained=`` path), informative only."""
    harness: str | None = None
    """Harness and version, e.g. ``lm-eval 0.4.13``."""
    notes: list[str] = field(default_factory=list)
    """What the reader had to assume or drop."""
    chat_template: str | None = None
    """The chat template the harness was told to use, when the log records one (Inspect ``model_args``)."""
    harness_metric: str | None = None
    """The name of the score the harness stored with each row (e.g. ``lm-eval exact_match, filter first``)."""

    @property
    def fingerprint(self) -> str:
        """Identity in the run store: the source kind and the log's content, never a model's
        fingerprint, so stored log rows are never mixed with sampled generations."""
        return "log-" + hashlib.sha256(f"{self.kind}:{self.digest}".encode()).hexdigest()[:20]

    def by_problem(self) -> dict[str, list[LogRow]]:
        """Rows of each problem in sample order (problems in first-seen order)."""
        out: dict[str, list[LogRow]] = {}
        for r in self.rows:
            out.setdefault(r.problem_id, []).append(r)
        for pid, rows in out.items():
            rows.sort(key=lambda r: r.sample_index)
            seen = [r.sample_index for r in rows]
            if len(set(seen)) != len(seen):
                raise OfftargetError(f"{self.path}: problem {pid!r} has sample index {_dup(seen)} twice; "
                                     "one row per (problem, sample)")
        return out

    def describe(self) -> dict:
        """What results.json records about this evidence."""
        return {"source": self.kind, "log": self.path, "sha256": self.digest, "harness": self.harness,
                "model_in_log": self.model, "sampling": self.sampling.to_dict(), "rows": len(self.rows)}


def score_value(value) -> float | None:
    """A harness's stored score as a number: booleans and numbers as is, Inspect's ``C``/``P``/``I``/``N``
    as 1/0.5/0/0; ``None`` for anything else."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}.get(value) if isinstance(value, str) else None


def _dup(xs: list[int]) -> int:
    seen: set[int] = set()
    for x in xs:
        if x in seen:
            return x
        seen.add(x)
    return -1


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes; a one-line error when it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise OfftargetError(f"{path}: cannot read the log ({exc.strerror or exc}); check the path") from None
