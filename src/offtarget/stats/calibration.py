"""Calibration of confidence against correctness: Brier, Murphy decomposition, ECE, AUROC.

A model is calibrated when, of the answers it gives with confidence q, a fraction q is
correct. RL on a correctness-only reward tends to push stated confidence up regardless of
accuracy (Damani et al. 2025, "Beyond Binary Rewards: Training LMs to Reason About Their
Uncertainty" (RLCR), arXiv 2507.16806), so we score it four ways:

- **Brier score** (Brier 1950): mean (q - y)^2, a proper scoring rule; lower is better.
- **Murphy decomposition** (Murphy 1973, "A new vector partition of the probability score"):
  with the samples grouped into bins b of size n_b, mean confidence qbar_b, accuracy obar_b,
  and overall accuracy obar,

      reliability = sum_b n_b (qbar_b - obar_b)^2 / N      (miscalibration; lower is better)
      resolution  = sum_b n_b (obar_b - obar)^2 / N        (discrimination; higher is better)
      uncertainty = obar (1 - obar)                        (base rate; not the model's doing)

  and Brier = reliability - resolution + uncertainty **exactly only when every confidence in
  a bin is the same** (e.g. verbalized confidences on a 0.1 grid with ``strategy="unique"``).
  With wider bins the identity is off by within-bin terms, reported as ``residual``.
- **ECE** (Naeini et al. 2015; Guo et al. 2017): sum_b (n_b / N) |obar_b - qbar_b| over
  non-empty bins. Default 10 equal-width bins, the RLCR convention; ``n_bins=15`` and
  ``strategy="quantile"`` (equal-mass bins, Nixon et al. 2019) are options. ECE depends on the
  binning, so the binning is part of the metric's name in a report.
- **AUROC** of confidence for correctness: the probability that a random correct answer got
  higher confidence than a random wrong one, ties counting one half (the Mann-Whitney U
  statistic; Hanley & McNeil 1982). Undefined, and returned as ``None`` with a reason, when
  all answers are correct or all are wrong.

Binning. ``"uniform"``: bin i holds confidences in [i/B, (i+1)/B), the last bin also holds
1.0; a confidence within 1e-9 of an edge counts as on the edge, so a stated 0.3 lands in
[0.3, 0.4) despite floating point. ``"quantile"``: samples sorted by confidence and split into
B groups of sizes differing by at most one, then every sample takes the bin of the *first*
sample with its confidence, so tied confidences share a bin and the result does not depend on
the order of the samples (a bin can then hold more, and a later one fewer or none; with
verbalized confidences on a 0.1 grid ties are the rule). ``"unique"``: one bin per distinct
confidence value (makes the Murphy identity exact).

    >>> from offtarget.stats import brier_score, expected_calibration_error, auroc
    >>> conf, correct = [0.9, 0.9, 0.6, 0.2], [1, 0, 1, 0]
    >>> round(brier_score(conf, correct), 4)            # (.01 + .81 + .16 + .04) / 4
    0.255
    >>> round(expected_calibration_error(conf, correct), 4)   # (2*|.5-.9| + |1-.6| + |0-.2|) / 4
    0.35
    >>> auroc(conf, correct).value                       # pairs (c, w): (.9,.9) tie, .9>.2, .6<.9, .6>.2
    0.625
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

from offtarget.stats._checks import as_binary, as_probability, finite_or_none, same_length

Binning = Literal["uniform", "quantile", "unique"]
"""How samples are grouped: equal-width, equal-mass, or one bin per distinct confidence."""

_EDGE_TOL = 1e-9


def _inputs(confidence: ArrayLike, correct: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    q = as_probability(confidence, "confidence")
    y = as_binary(correct, "correct")
    if same_length(confidence=q, correct=y) == 0:
        raise ValueError("calibration metrics need at least one (confidence, correct) pair")
    return q, y


def _bin_ids(q: np.ndarray, n_bins: int, strategy: Binning) -> tuple[np.ndarray, int]:
    """Bin index per sample and the number of bins (some may be empty)."""
    if strategy == "unique":
        _, ids = np.unique(q, return_inverse=True)
        return ids.reshape(-1), int(ids.max()) + 1
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1; got {n_bins}")
    if strategy == "uniform":
        return np.clip(np.floor(q * n_bins + _EDGE_TOL), 0, n_bins - 1).astype(np.int64), n_bins
    if strategy == "quantile":
        return quantile_bin_ids(q[None], np.ones((1, q.size), dtype=bool), n_bins)[0], n_bins
    raise ValueError(f"unknown binning strategy {strategy!r}; use 'uniform', 'quantile' or 'unique'")


def quantile_bin_ids(q: np.ndarray, valid: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-mass bin of every entry, row by row: ``q`` and ``valid`` are ``(rows, samples)``.

    Within a row, the valid entries sorted by confidence are split as ``np.array_split`` would
    (the first ``n % n_bins`` bins one larger); a tied confidence then takes the bin of its
    first occurrence in that order, so ties never straddle a bin edge. Invalid entries get bin
    0 (give them no weight). Vectorised over rows, for bootstrap resamples.
    """
    q = np.asarray(q, dtype=float)
    rows, width = q.shape
    key = np.where(valid, q, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    n = valid.sum(1, keepdims=True)
    base, rem = n // n_bins, n % n_bins
    big = rem * (base + 1)
    pos = np.arange(width)[None]
    by_pos = np.where(pos < big, pos // (base + 1), rem + (pos - big) // np.maximum(base, 1))
    sorted_q = np.take_along_axis(key, order, axis=1)
    # first position of each run of equal confidences, carried forward along the sorted row
    starts = np.concatenate([np.ones((rows, 1), dtype=bool), sorted_q[:, 1:] != sorted_q[:, :-1]], axis=1)
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    tied = np.take_along_axis(by_pos, first, axis=1)
    ids = np.empty_like(order)
    np.put_along_axis(ids, order, tied, axis=1)
    return np.where(valid, np.minimum(ids, n_bins - 1), 0).astype(np.int64)


def _bin_stats(
    q: np.ndarray, y: np.ndarray, n_bins: int, strategy: Binning
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per bin: count, sum of confidence, sum of correctness, and bin id per sample."""
    ids, nb = _bin_ids(q, n_bins, strategy)
    count = np.bincount(ids, minlength=nb).astype(float)
    conf_sum = np.bincount(ids, weights=q, minlength=nb)
    acc_sum = np.bincount(ids, weights=y, minlength=nb)
    return count, conf_sum, acc_sum, ids


# ---------------------------------------------------------------------------------------------
# Brier and its decomposition


def brier_score(confidence: ArrayLike, correct: ArrayLike) -> float:
    """Mean squared error of confidence against 0/1 correctness (Brier 1950); lower is better."""
    q, y = _inputs(confidence, correct)
    return float(np.mean((q - y) ** 2))


@dataclass(frozen=True)
class MurphyDecomposition:
    """Brier score split into reliability, resolution and uncertainty (Murphy 1973)."""

    brier: float
    """The Brier score itself, computed per sample (not from the bins)."""
    reliability: float
    """Weighted squared gap between bin confidence and bin accuracy; 0 when calibrated."""
    resolution: float
    """Weighted squared spread of bin accuracies around the overall accuracy; higher is better."""
    uncertainty: float
    """Base-rate variance obar(1 - obar); a property of the data, not the model."""
    n_bins: int
    """Number of bins used (including empty ones for ``uniform``)."""

    @property
    def residual(self) -> float:
        """brier - (reliability - resolution + uncertainty); exactly 0 when bins hold one confidence."""
        return self.brier - (self.reliability - self.resolution + self.uncertainty)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "residual": self.residual}


def murphy_decomposition(
    confidence: ArrayLike, correct: ArrayLike, n_bins: int = 10, strategy: Binning = "uniform"
) -> MurphyDecomposition:
    """Binned Murphy decomposition of the Brier score.

    Brier = reliability - resolution + uncertainty holds exactly when all confidences within
    each bin are equal (always true with ``strategy="unique"``); otherwise ``residual`` holds
    the within-bin terms the binned form leaves out.
    """
    q, y = _inputs(confidence, correct)
    count, conf_sum, acc_sum, _ = _bin_stats(q, y, n_bins, strategy)
    full = count > 0
    qbar = conf_sum[full] / count[full]
    obar_b = acc_sum[full] / count[full]
    obar = float(y.mean())
    n = float(q.size)
    return MurphyDecomposition(
        brier=float(np.mean((q - y) ** 2)),
        reliability=float(np.sum(count[full] * (qbar - obar_b) ** 2) / n),
        resolution=float(np.sum(count[full] * (obar_b - obar) ** 2) / n),
        uncertainty=obar * (1.0 - obar),
        n_bins=int(count.size),
    )


# ---------------------------------------------------------------------------------------------
# ECE and the reliability diagram


def expected_calibration_error(
    confidence: ArrayLike, correct: ArrayLike, n_bins: int = 10, strategy: Binning = "uniform"
) -> float:
    """ECE: sum over non-empty bins of (n_b / N) * |accuracy_b - mean confidence_b|.

    Defaults follow RLCR (10 equal-width bins). Empty bins contribute nothing.
    """
    q, y = _inputs(confidence, correct)
    _, conf_sum, acc_sum, _ = _bin_stats(q, y, n_bins, strategy)
    # sum_b (n_b/N) |acc_sum_b/n_b - conf_sum_b/n_b| = sum_b |acc_sum_b - conf_sum_b| / N;
    # empty bins have both sums 0, so no division by zero and no special case.
    return float(np.sum(np.abs(acc_sum - conf_sum)) / q.size)


@dataclass(frozen=True)
class ReliabilityBin:
    """One bar of a reliability diagram."""

    low: float | None
    """Lower edge (uniform) or smallest confidence in the bin (quantile; ``None`` if empty)."""
    high: float | None
    """Upper edge (uniform) or largest confidence in the bin (quantile; ``None`` if empty)."""
    count: int
    """Number of samples in the bin."""
    mean_confidence: float | None
    """Mean stated confidence in the bin; ``None`` for an empty bin."""
    accuracy: float | None
    """Fraction correct in the bin; ``None`` for an empty bin."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reliability_diagram(
    confidence: ArrayLike, correct: ArrayLike, n_bins: int = 10, strategy: Binning = "uniform"
) -> list[ReliabilityBin]:
    """Per bin: edges, count, mean confidence and accuracy, in bin order (empty bins kept)."""
    q, y = _inputs(confidence, correct)
    count, conf_sum, acc_sum, ids = _bin_stats(q, y, n_bins, strategy)
    bins = []
    for b in range(count.size):
        if strategy == "uniform":
            low, high = b / count.size, (b + 1) / count.size
        else:
            members = q[ids == b]
            low, high = (float(members.min()), float(members.max())) if members.size else (None, None)
        n_b = int(count[b])
        bins.append(
            ReliabilityBin(
                low=low,
                high=high,
                count=n_b,
                mean_confidence=finite_or_none(conf_sum[b] / n_b) if n_b else None,
                accuracy=finite_or_none(acc_sum[b] / n_b) if n_b else None,
            )
        )
    return bins


# ---------------------------------------------------------------------------------------------
# AUROC


@dataclass(frozen=True)
class Auroc:
    """AUROC of confidence for correctness, or ``None`` with the reason it is undefined."""

    value: float | None
    """P(conf of a random correct > conf of a random wrong) + 0.5 P(tie); 0.5 is chance."""
    n_positive: int
    """Number of correct samples."""
    n_negative: int
    """Number of wrong samples."""
    reason: str | None = None
    """Why ``value`` is ``None`` (e.g. only one class present)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def auroc(confidence: ArrayLike, correct: ArrayLike) -> Auroc:
    """AUROC of confidence as a score for correctness, ties counted as one half (Mann-Whitney).

    U = R_pos - n_pos (n_pos + 1) / 2, with R_pos the sum of the correct samples' midranks;
    AUROC = U / (n_pos n_neg). Equals ``sklearn.metrics.roc_auc_score(correct, confidence)``.
    """
    q, y = _inputs(confidence, correct)
    pos = y == 1.0
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        which = "correct" if n_neg == 0 else "wrong"
        return Auroc(None, n_pos, n_neg, reason=f"AUROC undefined: all {q.size} samples are {which}")
    ranks = rankdata(q, method="average")
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return Auroc(float(u / (n_pos * n_neg)), n_pos, n_neg)
