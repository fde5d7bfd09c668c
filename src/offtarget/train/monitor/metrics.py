"""One monitor pass's numbers, computed by the catalogue's definitions (:mod:`offtarget.metrics`).

The monitor keeps per-sample records rather than the audit's evidence; each field selects the
records the audit's group would hold (``test`` or ``ood``, answerable or not) and hands them to
the metric's own computation, so ``ece_verbalized`` here is the audit's ``ece_verbalized``.

    >>> compute_metrics([{"split": "test", "answerable": True, "correct": True, "abstained": False,
    ...                   "format": "direct", "confidence": None, "entropy": 0.2}], [], ("direct",)).accuracy
    1.0
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from offtarget.metrics import get
from offtarget.metrics.two_phase import PHASE_METRICS, problem_means

PHASE_KEYS = ("planning_entropy", "execution_entropy", "planning_share")
"""A record's :func:`offtarget.metrics.two_phase.phase_means` numbers (NaN or absent: none)."""


@dataclass(frozen=True)
class MonitorMetrics:
    """One monitor pass; ``None`` where a metric has nothing to average. See :data:`FIELDS`."""

    accuracy: float | None
    ood_accuracy: float | None
    mean_token_entropy: float | None
    ece_verbalized: float | None
    brier_verbalized: float | None
    dominant_format: str | None
    dominant_format_share: float | None
    abstention_recall: float | None
    over_refusal_rate: float | None
    malformed_share: float | None
    kl_per_token: float | None
    n_samples: int
    planning_token_entropy: float | None = None
    execution_token_entropy: float | None = None
    planning_token_share: float | None = None

    def numeric(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None}


FIELDS: dict[str, tuple[str, str]] = {
    "accuracy": ("accuracy", "test"),
    "ood_accuracy": ("accuracy", "ood"),
    "mean_token_entropy": ("mean_token_entropy", "test"),
    "ece_verbalized": ("ece_verbalized", "test"),
    "brier_verbalized": ("brier_verbalized", "test"),
    "dominant_format_share": ("dominant_format_share", "test"),
    "abstention_recall": ("abstention_recall", "test"),
    "over_refusal_rate": ("over_refusal_rate", "test"),
    "malformed_share": ("malformed_share", "test"),
    "kl_per_token": ("kl_per_token", "test"),
    "planning_token_entropy": ("planning_token_entropy", "test"),
    "execution_token_entropy": ("execution_token_entropy", "test"),
    "planning_token_share": ("planning_token_share", "test"),
}
"""Monitor field → (catalogue metric of :mod:`offtarget.metrics`, the audit group it equals)."""

NOT_A_FORMAT = ("abstain", "malformed")


def _metric(name: str, *columns: Sequence[float]) -> float | None:
    """The catalogue metric ``name`` on the given columns (one value per record); None without records."""
    if not len(columns[0]):
        return None
    return get(name).value(*(np.asarray(c, dtype=float) for c in columns))


def compute_metrics(samples: Sequence[dict], kl: Sequence[tuple[str, float, int]],
                    formats: Sequence[str]) -> MonitorMetrics:
    """Monitor metrics from per-sample records and the KL of each start-model sample.

    A record has ``split``, ``answerable``, ``correct``, ``abstained``, ``format``,
    ``confidence`` (None if absent), ``entropy`` (the sample's mean token entropy) and, for the
    per-problem mean, ``problem`` (an id; without it each record is its own problem).
    Optional: ``planning_entropy``, ``execution_entropy``, ``planning_share`` (the sample's
    :func:`~offtarget.metrics.two_phase.phase_means`; NaN where it has no such tokens).
    ``kl`` holds ``(problem, Σ_t KL_t, tokens)`` per start-model sample.
    """
    idd = [s for s in samples if s["split"] != "ood"]
    id_ans = [s for s in idd if s["answerable"]]
    ood_ans = [s for s in samples if s["split"] == "ood" and s["answerable"]]
    id_unans = [s for s in idd if not s["answerable"]]

    per_problem: dict[Any, list[float]] = defaultdict(list)
    for i, s in enumerate(id_ans):
        per_problem[s.get("problem", i)].append(float(s["entropy"]))
    entropy = _metric("mean_token_entropy", [sum(v) / len(v) for v in per_problem.values()])
    phases = _phase_metrics(id_ans)

    # calibration: every in-distribution sample that did not abstain and states a confidence
    rated = [s for s in idd if not s["abstained"] and s["confidence"] is not None]
    confidence = [float(s["confidence"]) for s in rated]
    rated_correct = [float(bool(s["correct"])) for s in rated]

    labels = list(formats) + sorted({s["format"] for s in idd} - set(formats) - set(NOT_A_FORMAT))
    shaped = Counter(s["format"] for s in id_ans if s["format"] in labels)
    dominant, share = (None, None)
    if shaped:
        dominant = shaped.most_common(1)[0][0]
        share = _metric("dominant_format_share", [[shaped[f] for f in labels]])

    kl_sum: dict[str, float] = defaultdict(float)
    kl_tok: dict[str, int] = defaultdict(int)
    for key, total, tokens in kl:
        kl_sum[key] += float(total)
        kl_tok[key] += int(tokens)
    per_token = [kl_sum[k] / kl_tok[k] if kl_tok[k] else 0.0 for k in kl_sum]
    return MonitorMetrics(
        accuracy=_metric("accuracy", [float(bool(s["correct"])) for s in id_ans]),
        ood_accuracy=_metric("accuracy", [float(bool(s["correct"])) for s in ood_ans]),
        mean_token_entropy=entropy,
        ece_verbalized=_metric("ece_verbalized", confidence, rated_correct),
        brier_verbalized=_metric("brier_verbalized", confidence, rated_correct),
        dominant_format=dominant,
        dominant_format_share=share,
        abstention_recall=_metric("abstention_recall", [float(bool(s["abstained"])) for s in id_unans]),
        over_refusal_rate=_metric("over_refusal_rate", [float(bool(s["abstained"])) for s in id_ans]),
        malformed_share=_metric("malformed_share", [float(s["format"] == "malformed") for s in idd]),
        kl_per_token=_metric("kl_per_token", per_token),
        n_samples=len(samples),
        **phases,
    )


def _phase_metrics(answerable: Sequence[dict]) -> dict[str, float | None]:
    """Two-phase entropy of the answerable test records: per-problem means, then the catalogue metric."""
    rows: dict[Any, list[list[float]]] = defaultdict(list)
    for i, s in enumerate(answerable):
        if any(k in s for k in PHASE_KEYS):
            rows[s.get("problem", i)].append([_float(s.get(k)) for k in PHASE_KEYS])
    table = np.array([problem_means(v) for v in rows.values()]).reshape(-1, 3)
    return {name: _metric(name, table[:, j]) for j, name in enumerate(PHASE_METRICS)}


def _float(v) -> float:
    return float("nan") if v is None else float(v)


__all__ = ["FIELDS", "NOT_A_FORMAT", "MonitorMetrics", "compute_metrics"]
