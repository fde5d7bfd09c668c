"""Diversity of a set of outputs: distinct-n, distinct final answers, Shannon entropy.

RL sharpens the output distribution: samples of one prompt converge on the same wording, the
same answer and the same format (Yue et al. 2025, arXiv 2504.13837; format collapse in
"Echo Chamber", Zhao et al. 2025, arXiv 2504.07912). These are the small pure measures used
to see it.

- **distinct-n** (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural
  Conversation Models"): number of unique n-grams divided by the total number of n-grams,
  pooled over a list of texts (e.g. the samples of one prompt). N-grams never span two texts.
  ``level="token"`` splits on whitespace; ``level="char"`` uses characters.
- **distinct answers**: how many different final answers the samples reached.
- **Shannon entropy** H = -sum p_i log p_i of a categorical distribution (Shannon 1948), in
  nats (natural log) or bits (log 2); 0 when one category holds everything, log K when K
  categories are equally likely. Format entropy is this over the format labels of the samples.

    >>> from offtarget.stats import distinct_n, distinct_answers, entropy, label_entropy
    >>> distinct_n(["a b a", "a b c"], n=1)      # unigrams: 6 in all, unique {a, b, c}
    0.5
    >>> distinct_answers(["12", "12", "13", None])
    2
    >>> entropy([1, 1], unit="bits")             # a fair coin
    1.0
    >>> round(label_entropy(["steps", "steps", "direct", "direct"]), 4)   # ln 2
    0.6931
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike


def _ngrams(text: str, n: int, level: Literal["token", "char"]) -> list[tuple[str, ...]]:
    units: Sequence[str] = text.split() if level == "token" else text
    return [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]


def distinct_n(texts: Sequence[str], n: int = 1, level: Literal["token", "char"] = "token") -> float | None:
    """Unique n-grams / total n-grams pooled over ``texts``; ``None`` if there are no n-grams."""
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    if level not in ("token", "char"):
        raise ValueError(f"level must be 'token' or 'char'; got {level!r}")
    grams = [g for t in texts for g in _ngrams(t, n, level)]
    return len(set(grams)) / len(grams) if grams else None


def distinct_answers(answers: Iterable[Hashable | None], count_none: bool = False) -> int:
    """Number of different final answers; unparsed answers (``None``) are ignored unless ``count_none``."""
    return len({a for a in answers if count_none or a is not None})


def entropy(counts: ArrayLike | Mapping[Hashable, float], unit: Literal["nats", "bits"] = "nats") -> float:
    """Shannon entropy of the distribution proportional to ``counts`` (counts or probabilities)."""
    values = list(counts.values()) if isinstance(counts, Mapping) else counts
    w = np.asarray(values, dtype=float).reshape(-1)
    if w.size == 0 or not np.all(np.isfinite(w)) or w.min() < 0.0 or w.sum() <= 0.0:
        raise ValueError("entropy needs non-negative finite counts with a positive total")
    if unit not in ("nats", "bits"):
        raise ValueError(f"unit must be 'nats' or 'bits'; got {unit!r}")
    p = w[w > 0] / w.sum()
    h = float(-np.sum(p * np.log(p)))
    h = max(h, 0.0)  # a single category can round to -0.0
    return h / math.log(2.0) if unit == "bits" else h


def label_entropy(labels: Iterable[Hashable], unit: Literal["nats", "bits"] = "nats") -> float:
    """Entropy of the empirical distribution of ``labels`` (e.g. the format label of each sample)."""
    return entropy(Counter(labels), unit=unit)
