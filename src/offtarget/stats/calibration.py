"""The reliability diagram of confidence against correctness, and the binning it shares with ECE.

A model is calibrated when, of the answers it gives with confidence q, a fraction q is
correct. The calibration *metrics* (ECE, Brier, Murphy's decomposition, AUROC) are defined once,
with their computation, in :mod:`offtarget.metrics.calibration`; this module draws the diagram
the report shows beside them and holds the equal-mass bin rule both use.

Binning. ``"uniform"``: bin i holds confidences in [i/B, (i+1)/B), the last bin also holds
1.0; a confidence within 1e-9 of an edge counts as on the edge, so a stated 0.3 lands in
[0.3, 0.4) despite floating point. ``"quantile"``: samples sorted by confidence and split into
B groups of sizes differing by at most one, then every sample takes the bin of the *first*
sample with its confidence, so tied confidences share a bin and the result does not depend on
the order of the samples (a bin can then hold more, and a later one fewer or none; with
verbalized confidences on a 0.1 grid ties are the rule). ``"unique"``: one bin per distinct
confidence value.

    >>> [b.count for b in reliability_diagram([0.9, 0.9, 0.6, 0.2], [1, 0, 1, 0])]
    [0, 0, 1, 0, 0, 0, 1, 0, 0, 2]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

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
# The reliability diagram


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
