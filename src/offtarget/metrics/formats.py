"""The output-format distribution and its collapse (Echo Chamber, Zhao et al. 2025, arXiv 2504.07912).

The format metrics read ``counts``, ``(resamples, problems, formats)``: answers to answerable
problems in each format; shares are pooled over the problems of a resample (NaN without answers).
"""

from __future__ import annotations

import numpy as np

from offtarget.metrics.definition import SHARE, define, metric

ECHO = "Echo Chamber, Zhao et al. 2025 (arXiv 2504.07912)"


def shares(counts: np.ndarray) -> np.ndarray:
    """(resamples, problems, formats) counts → (resamples, formats) pooled shares (NaN if no answers)."""
    pooled = counts.sum(1)
    total = pooled.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, pooled / np.where(total > 0, total, 1), np.nan)


def share_of(k: int):
    """The share of the ``k``-th format (the computation of ``format_share_<format>``)."""
    return lambda counts: shares(counts)[:, k]


define("format_share_<format>", "share of answers to answerable problems in that output format",
       "descriptive", "descriptive", SHARE, "formats", ECHO, pattern="format_share_*")


@metric("dominant_format_share", "share of answers to answerable problems in the most used format", "lower",
        "off_target", SHARE, "formats", ECHO)
def dominant_share(counts: np.ndarray) -> np.ndarray:
    return shares(counts).max(1)


@metric("format_entropy", "Shannon entropy of the answer formats", "higher", "off_target", "nats in [0, ln K]",
        "formats", ECHO)
def format_entropy(counts: np.ndarray) -> np.ndarray:
    p = shares(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0).sum(1)
    return np.where(np.isnan(p).any(1), np.nan, np.maximum(h, 0.0))


define("malformed_share", "share of all samples the verifier could not parse", "lower", "serving_veto", SHARE,
       "formats", "strict verifier")
