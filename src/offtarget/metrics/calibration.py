"""Calibration of confidence against correctness: ECE, Brier, Murphy's decomposition, AUROC.

Arrays are ``q`` (confidence, NaN where a sample has none: it is not counted) and ``y``
(correctness, 0/1), both ``(resamples, problems, samples)``; every statistic pools the counted
samples of a resample. Definitions (RLCR, Damani et al. 2025, arXiv 2507.16806):

- ECE (Naeini et al. 2015): Σ_b |Σ_{i∈b} y_i − Σ_{i∈b} q_i| / N over bins b; 10 equal-width bins
  by default (bin i holds [i/B, (i+1)/B), the last also 1.0, a confidence within 1e-9 of an edge
  on the edge), or equal-mass bins (Nixon et al. 2019; tied confidences share a bin).
- Brier (1950): mean (q − y)². Murphy (1973): reliability Σ_b n_b (q̄_b − ȳ_b)² / N and
  resolution Σ_b n_b (ȳ_b − ȳ)² / N over the same bins.
- AUROC: P(q of a correct answer > q of a wrong one), ties ½ (Mann-Whitney U).

Each metric exists for two confidences, ``verbalized`` (stated) and ``likelihood`` (the model's
probability of its answer tokens); :mod:`offtarget.probes.calibration` extracts both.

    >>> q, y = np.array([[0.9, 0.9, 0.6, 0.2]]), np.array([[1.0, 0.0, 1.0, 0.0]])
    >>> round(float(brier(q, y)[0]), 4), round(float(ece(q, y)[0]), 4), float(auroc(q, y)[0])
    (0.255, 0.35, 0.625)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from offtarget.metrics.definition import SHARE, define, ratio
from offtarget.stats.calibration import quantile_bin_ids

KINDS = ("verbalized", "likelihood")
RLCR = "RLCR, Damani et al. 2025 (arXiv 2507.16806)"
BINNED = ("ece", "reliability", "resolution")
"""The statistics that depend on the binning."""


def pool(q: np.ndarray, y: np.ndarray):
    """Flatten each resample; zero the uncounted entries; their mask and count."""
    q = q.reshape(q.shape[0], -1)
    y = y.reshape(y.shape[0], -1)
    valid = np.isfinite(q)
    return np.where(valid, q, 0.0), np.where(valid, y, 0.0), valid, valid.sum(1)


def bin_ids(q0: np.ndarray, valid: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    """Bin of every sample: equal-width (``uniform``) or equal-mass (``quantile``)."""
    if strategy == "uniform":
        return np.clip(np.floor(q0 * n_bins + 1e-9), 0, n_bins - 1).astype(np.int64)
    return quantile_bin_ids(q0, valid, n_bins)  # tied confidences share a bin


def bin_sums(q, y, n_bins: int, strategy: str):
    """Per resample and bin: count, confidence sum, correct sum; plus N and overall accuracy."""
    q0, y0, valid, n = pool(q, y)
    ids = bin_ids(q0, valid, n_bins, strategy) + n_bins * np.arange(q0.shape[0])[:, None]
    size = q0.shape[0] * n_bins
    w = valid.astype(float)
    count = np.bincount(ids.ravel(), w.ravel(), size).reshape(-1, n_bins)
    conf = np.bincount(ids.ravel(), (q0 * w).ravel(), size).reshape(-1, n_bins)
    acc = np.bincount(ids.ravel(), (y0 * w).ravel(), size).reshape(-1, n_bins)
    return count, conf, acc, n, ratio(y0.sum(1), n)


def ece(q, y, n_bins: int = 10, strategy: str = "uniform") -> np.ndarray:
    _, conf, acc, n, _ = bin_sums(q, y, n_bins, strategy)
    return ratio(np.abs(acc - conf).sum(1), n)


def murphy_reliability(q, y, n_bins: int = 10, strategy: str = "uniform") -> np.ndarray:
    count, conf, acc, n, _ = bin_sums(q, y, n_bins, strategy)
    gap = ratio((conf - acc) ** 2, count)
    return ratio(np.where(count > 0, gap, 0.0).sum(1), n)


def murphy_resolution(q, y, n_bins: int = 10, strategy: str = "uniform") -> np.ndarray:
    count, _, acc, n, obar = bin_sums(q, y, n_bins, strategy)
    spread = count * (ratio(acc, count) - obar[:, None]) ** 2
    return ratio(np.where(count > 0, spread, 0.0).sum(1), n)


def brier(q, y) -> np.ndarray:
    q0, y0, valid, n = pool(q, y)
    return ratio((valid * (q0 - y0) ** 2).sum(1), n)


def mean_confidence(q, y) -> np.ndarray:
    q0, _, _, n = pool(q, y)
    return ratio(q0.sum(1), n)


def overconfidence(q, y) -> np.ndarray:
    q0, y0, _, n = pool(q, y)
    return ratio(q0.sum(1) - y0.sum(1), n)


def auroc(q, y) -> np.ndarray:
    """Mann-Whitney AUROC per resample; missing confidences are ranked below every real one,
    so subtracting their count gives the ranks among the counted samples."""
    q0, y0, valid, n = pool(q, y)
    pos = valid & (y0 == 1)
    n_pos = pos.sum(1)
    n_neg = n - n_pos
    ranks = rankdata(np.where(valid, q0, -1.0), axis=1)
    u = np.where(pos, ranks, 0.0).sum(1) - n_pos * (~valid).sum(1) - n_pos * (n_pos + 1) / 2
    return ratio(u, n_pos * n_neg)


def coverage(q, eligible) -> np.ndarray:
    """Share of the eligible (non-abstained) samples that carry a confidence."""
    q = q.reshape(q.shape[0], -1)
    e = eligible.reshape(eligible.shape[0], -1)
    return ratio((np.isfinite(q) & (e > 0)).sum(1), e.sum(1))


def _define_kind(kind: str, how: str) -> None:
    veto = "serving_veto" if kind == "verbalized" else "off_target"
    define(f"ece_{kind}", f"expected calibration error of {how}, non-abstained samples with a confidence "
           "(unanswerable ones count as wrong), 10 equal-width bins by default", "lower", veto, SHARE,
           "calibration", f"{RLCR}; Naeini et al. 2015", compute=ece)
    define(f"brier_{kind}", f"mean (q − correct)² of {how}, same samples as ECE", "lower", veto, SHARE,
           "calibration", f"Brier 1950; {RLCR}", compute=brier)
    define(f"reliability_{kind}", f"Murphy reliability (miscalibration) of {how}", "lower", "off_target",
           SHARE, "calibration", "Murphy 1973", compute=murphy_reliability)
    define(f"resolution_{kind}", f"Murphy resolution of {how} (bounded by the base rate's uncertainty)",
           "descriptive", "descriptive", SHARE, "calibration", "Murphy 1973", compute=murphy_resolution)
    define(f"auroc_{kind}", f"P(q of a correct answer > q of a wrong one), {how}, ties ½", "higher",
           "off_target", SHARE, "calibration", "Mann-Whitney U", compute=auroc)
    define(f"mean_confidence_{kind}", f"mean of {how} over the calibration samples", "descriptive",
           "descriptive", SHARE, "calibration", RLCR, compute=mean_confidence)
    define(f"overconfidence_{kind}", f"mean {how} minus accuracy on the same samples", "descriptive",
           "descriptive", "difference in [-1, 1]", "calibration", RLCR, compute=overconfidence)
    define(f"confidence_coverage_{kind}", f"share of non-abstained samples with {how}",
           "higher" if kind == "verbalized" else "descriptive",
           "off_target" if kind == "verbalized" else "descriptive", SHARE, "calibration", RLCR, compute=coverage)


_define_kind("verbalized", "the confidence the completion states")
_define_kind("likelihood", "the model's probability of the answer tokens it wrote")
