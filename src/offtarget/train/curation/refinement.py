"""Keep a teacher's refined example only when the student finds it likely enough: a likelihood band.

Selective Reflection-Tuning (Li et al. 2024, "Selective Reflection-Tuning: Student-Selected Data
Recycling for LLM Instruction-Tuning", arXiv 2402.10110) finds that a teacher's refinement can hurt
a student even when it is better in absolute terms: data beyond the student's current frontier is
not learned from, so the student itself should pick the refinements it can absorb, by statistics
computed *with its own weights* (the paper uses perplexity ratios, IFD and reversed IFD). offtarget
states the criterion as one number per example, the student's mean token log-probability of the
refined completion given its prompt (teacher-forced, :mod:`offtarget.models.scoring`), and keeps the
examples inside a band:

- **student quantiles** (default): the band's lower edge is the ``low_quantile`` (default 0.1) of
  the same statistic over the student's *own* samples on the same prompts. The student's samples
  are by construction inside its frontier, so "as likely as all but the least likely tenth of what
  the student writes itself" is a frontier relative to the student, as the paper asks (quality is
  relative to the student, not absolute), without a threshold that would need retuning for every
  model and tokenizer. The least likely tenth is left out so one stray low-probability sample does
  not set the edge. No upper edge by default (``high_quantile=None``): the paper's harm comes from
  refinements that are too far from the student, not from ones it already finds likely.
- **absolute**: ``min_logprob`` / ``max_logprob`` in nats per token.

Quantiles interpolate linearly between order statistics (numpy's default, Hyndman–Fan type 7).

    >>> band = band_from_reference([-2.0, -1.0, -0.5, -0.25, -0.1], low_quantile=0.25)
    >>> band.low, band.high
    (-1.0, None)
    >>> d = apply_band([-0.3, -1.0, -1.5], band)
    >>> d.kept, d.too_unlikely, d.too_likely
    ([0, 1], [2], [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from offtarget.errors import OfftargetError


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile of ``values`` (numpy's linear interpolation), with one-line errors for the
    cases a user can cause.

    >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5), quantile([1.0, 2.0, 3.0, 5.0], 0.75)
    (2.5, 3.5)
    """
    if not values:
        raise OfftargetError("a quantile of no values: the student produced no reference samples to score")
    if not 0.0 <= q <= 1.0:
        raise OfftargetError(f"quantile {q}: must lie in [0, 1]")
    return float(np.quantile(np.asarray(values, dtype=float), q))


@dataclass(frozen=True)
class LikelihoodBand:
    """Inclusive bounds on the student's mean token log-prob (nats); ``None`` is no bound."""

    low: float | None
    high: float | None
    source: str
    """``student-quantiles`` or ``absolute``."""
    low_quantile: float | None = None
    high_quantile: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def band_from_reference(reference: Sequence[float], low_quantile: float | None = 0.1,
                        high_quantile: float | None = None) -> LikelihoodBand:
    """The band whose edges are quantiles of the student's own samples' mean token log-probs."""
    if low_quantile is None and high_quantile is None:
        raise OfftargetError("the likelihood band needs --low-quantile or --high-quantile")
    if low_quantile is not None and high_quantile is not None and low_quantile > high_quantile:
        raise OfftargetError(f"--low-quantile {low_quantile} > --high-quantile {high_quantile}")
    low = quantile(reference, low_quantile) if low_quantile is not None else None
    high = quantile(reference, high_quantile) if high_quantile is not None else None
    return LikelihoodBand(low, high, "student-quantiles", low_quantile, high_quantile)


def absolute_band(min_logprob: float | None, max_logprob: float | None) -> LikelihoodBand:
    """A band stated in nats per token."""
    if min_logprob is not None and max_logprob is not None and min_logprob > max_logprob:
        raise OfftargetError(f"--min-logprob {min_logprob} > --max-logprob {max_logprob}")
    return LikelihoodBand(min_logprob, max_logprob, "absolute")


@dataclass(frozen=True)
class BandDecision:
    """Indices of the examples kept and dropped, by reason, in input order."""

    kept: list[int] = field(default_factory=list)
    too_unlikely: list[int] = field(default_factory=list)
    """Below the band: beyond the student's frontier."""
    too_likely: list[int] = field(default_factory=list)
    """Above the band (only with an upper edge)."""


def apply_band(scores: Sequence[float], band: LikelihoodBand) -> BandDecision:
    """Sort each example's mean token log-prob into kept / too unlikely / too likely."""
    kept, low, high = [], [], []
    for i, s in enumerate(scores):
        if band.low is not None and s < band.low:
            low.append(i)
        elif band.high is not None and s > band.high:
            high.append(i)
        else:
            kept.append(i)
    return BandDecision(kept, low, high)


def distribution(values: Sequence[float]) -> dict[str, Any]:
    """Count, mean, min, max and the 5/10/25/50/75/90/95 % quantiles, for the statistics file."""
    if not values:
        return {"n": 0}
    qs = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
    return {"n": len(values), "mean": sum(values) / len(values), "min": min(values), "max": max(values),
            "quantiles": {str(q): quantile(values, q) for q in qs}}


__all__ = ["BandDecision", "LikelihoodBand", "absolute_band", "apply_band", "band_from_reference",
           "distribution", "quantile"]
