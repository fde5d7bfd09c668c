"""Token entropy from the top-k log-probabilities an inference server returns, with its bounds.

vLLM, SGLang and the OpenAI-compatible servers return the log-probs of the ``k`` most likely
tokens at each step (plus the sampled one), never the whole vocabulary, so the exact entropy
H = −Σ_v p(v) log p(v) that the HF engine records is out of reach unless ``k`` covers the
vocabulary. What the top ``k`` do fix:

- ``H_top = −Σ_{top k} p log p`` and the tail mass ``r = 1 − Σ_{top k} p``;
- every tail token has ``p ≤ p_k`` (the k-th largest), so its ``−log p ≥ −log p_k``, hence
  ``H ≥ H_top + r·log(1/p_k)`` (**lower**, the stored estimate);
- the tail entropy is largest when ``r`` spreads evenly over the ``V − k`` other tokens, hence
  ``H ≤ H_top + r·log((V − k)/r)`` (**upper**).

Both bounds meet (the entropy is exact) when ``k ≥ V`` or the top ``k`` hold all the mass. The
engines store the lower bound: it is exact for the small vocabularies the lab uses (the
engines ask for the whole vocabulary when it has at most 128 tokens) and, on real models, it
undercounts only the entropy of the tail beyond the k-th token, which at k = 20 is a small
share of a sharpened policy's entropy. Comparisons of entropy between two checkpoints sampled
by the same engine stay like with like; comparing an HF-engine entropy with a top-k one
compares an exact value with a lower bound.

    >>> lower, upper = entropy_bounds([-0.1, -2.5, -4.0], vocab=60)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FULL_VOCAB_MAX = 128
"""Vocabularies up to this size are requested whole, so the entropy is exact."""
DEFAULT_TOPK = 20
"""vLLM's default ``max_logprobs``: the top-k used for larger vocabularies."""


def topk_for_vocab(vocab: int, requested: int | None = None) -> int:
    """How many log-probs to ask for per step: ``requested``, else the whole small vocabulary, else 20."""
    if requested is not None:
        return max(1, min(int(requested), vocab))
    return vocab if vocab <= FULL_VOCAB_MAX else DEFAULT_TOPK


def entropy_bounds(top_logprobs: Sequence[float], vocab: int) -> tuple[float, float]:
    """(lower, upper) bounds in nats on the entropy of a distribution known by its top-k log-probs."""
    lps = [float(x) for x in top_logprobs if x is not None and math.isfinite(float(x))]
    if not lps:
        return 0.0, math.log(max(vocab, 1))
    h_top = -sum(math.exp(lp) * lp for lp in lps)
    rest = 1.0 - sum(math.exp(lp) for lp in lps)
    others = vocab - len(lps)
    if rest <= 0 or others <= 0:
        return h_top, h_top
    lower = h_top + rest * -min(lps)
    upper = h_top + rest * math.log(others / rest)
    return lower, max(lower, upper)


def entropy_estimate(top_logprobs: Sequence[float], vocab: int) -> float:
    """The stored estimate: the lower bound (exact when the top-k cover the distribution)."""
    return entropy_bounds(top_logprobs, vocab)[0]


def entropy_estimates(top_logprobs, vocab: int):
    """:func:`entropy_estimate` of every row of a (positions × k) array at once, as a float64 array.

    An engine gets k log-probs for every generated token; one Python call per token costs about a
    tenth of vLLM's own sampling time on a small model, this costs a few array passes."""
    import numpy as np

    lps = np.asarray(top_logprobs, dtype=np.float64)
    finite = np.isfinite(lps)
    safe = np.where(finite, lps, 0.0)
    p = np.where(finite, np.exp(safe), 0.0)
    h_top = -(p * safe).sum(axis=1)
    rest = 1.0 - p.sum(axis=1)
    smallest = np.where(finite, lps, np.inf).min(axis=1)
    others = vocab - finite.sum(axis=1)
    with np.errstate(invalid="ignore"):
        lower = np.where((rest > 0) & (others > 0), h_top + rest * -smallest, h_top)
    return np.where(finite.any(axis=1), lower, 0.0)
