"""The output-format distribution and its collapse (Echo Chamber, Zhao et al. 2025, arXiv 2504.07912).

The format metrics read ``counts``, ``(resamples, problems, formats)``: answers to answerable
problems in each format; shares are pooled over the problems of a resample (NaN without answers).
"""

from __future__ import annotations

import numpy as np

from offtarget.metrics.definition import SHARE, define
from offtarget.stats.additive import Additive, additive

ECHO = "Echo Chamber, Zhao et al. 2025 (arXiv 2504.07912)"


def _per_format(counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """One column per format: each problem's count of answers in it (summed over problems)."""
    return tuple(counts[..., k] for k in range(counts.shape[-1]))


def pooled_shares(pooled: np.ndarray) -> np.ndarray:
    """(rows, formats) counts pooled over problems → shares (NaN where there are no answers)."""
    total = pooled.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, pooled / np.where(total > 0, total, 1), np.nan)


def shares(counts: np.ndarray) -> np.ndarray:
    """(resamples, problems, formats) counts → (resamples, formats) pooled shares (NaN if no answers)."""
    return pooled_shares(counts.sum(1))


def share_of(k: int) -> Additive:
    """The share of the ``k``-th format (the computation of ``format_share_<format>``)."""
    return Additive(_per_format, lambda pooled: pooled_shares(pooled)[:, k])


define("format_share_<format>", "share of answers to answerable problems in that output format",
       "descriptive", "descriptive", SHARE, "formats", ECHO, pattern="format_share_*")


@additive(_per_format)
def dominant_share(pooled: np.ndarray) -> np.ndarray:
    """The largest pooled share."""
    return pooled_shares(pooled).max(1)


define("dominant_format_share", "share of answers to answerable problems in the most used format", "lower",
       "off_target", SHARE, "formats", ECHO, compute=dominant_share)


@additive(_per_format)
def format_entropy(pooled: np.ndarray) -> np.ndarray:
    """Shannon entropy of the pooled shares."""
    p = pooled_shares(pooled)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0).sum(1)
    return np.where(np.isnan(p).any(1), np.nan, np.maximum(h, 0.0))


define("format_entropy", "Shannon entropy of the answer formats", "higher", "off_target", "nats in [0, ln K]",
       "formats", ECHO, compute=format_entropy)


define("malformed_share", "share of all samples the verifier could not parse", "lower", "serving_veto", SHARE,
       "formats", "strict verifier")
