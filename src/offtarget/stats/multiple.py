"""Holm correction across one report's comparisons, and the rule that flags a change.

An audit compares two checkpoints on many metrics and slices at once; at alpha = 0.05, twenty
honest null comparisons flag one "regression" by chance. The Holm-Bonferroni step-down
procedure (Holm 1979, "A simple sequentially rejective multiple test procedure") controls the
family-wise error rate at alpha under any dependence between the tests, and is uniformly more
powerful than plain Bonferroni. Adjusted p-values (Wright 1992, "Adjusted p-values for
simultaneous inference"): with p sorted ascending p_(1) <= ... <= p_(m),

    adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))

returned in the original order; reject H_(i) iff adj_(i) < alpha. ``None`` p-values (a test
that could not be run) are left out of the family and stay ``None``.

**Flag rule.** A comparison is flagged as a ``gain`` or a ``regression`` only when its
Holm-adjusted p-value is below alpha *and* its interval on tuned - reference excludes zero on
that side (low > 0 or high < 0; an end exactly at zero does not exclude it). Which side is bad
depends on the metric: ``higher_is_better=False`` for ECE, Brier, over-refusal rate and the
like. Everything else is ``none``, so auditing a checkpoint against itself (diff = 0, p = 1)
flags nothing.

**Intervals.** Reported intervals are marginal 95% intervals, one per comparison; the
family-wise guarantee comes from the Holm-adjusted p-value, and the interval condition of the
flag only makes the direction unambiguous. For intervals that hold *simultaneously* across a
family of m comparisons, compute them at :func:`bonferroni_level` (1 - (1 - level) / m; e.g.
m = 10 gives 99.5%); those are wider and optional.

    >>> from offtarget.stats import holm, flag
    >>> holm([0.01, 0.04, 0.03, 0.005])
    [0.03, 0.06, 0.06, 0.02]
    >>> flag(diff_low=-0.12, diff_high=-0.03, adjusted_p=0.02, alpha=0.05, higher_is_better=True)
    'regression'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

import numpy as np

from offtarget.stats.paired import PairedDiff

FlagLabel = Literal["gain", "regression", "none"]


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values, in the input order, monotone and capped at 1."""
    present = [i for i, p in enumerate(p_values) if p is not None]
    p = np.array([float(p_values[i]) for i in present], dtype=float)  # type: ignore[arg-type]
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("p-values must be finite numbers in [0, 1] (or None for a test that was not run)")
    # The step-down written as one cumulative maximum. statsmodels' ``multipletests(method="holm")``
    # gives the same numbers (tests/stats/test_multiple.py) but runs a full ``gc.collect()`` on
    # every call: 0.28 s in an audit process holding its evidence, four times per report.
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1)))
    out: list[float | None] = [None] * len(p_values)
    for i, a in zip(present, adjusted, strict=True):
        out[i] = float(a)
    return out


def flag(
    diff_low: float | None,
    diff_high: float | None,
    adjusted_p: float | None,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> FlagLabel:
    """``gain``/``regression`` when adjusted p < alpha and the interval excludes 0 on that side."""
    if diff_low is None or diff_high is None or adjusted_p is None or not adjusted_p < alpha:
        return "none"
    if diff_low > 0.0:
        return "gain" if higher_is_better else "regression"
    if diff_high < 0.0:
        return "regression" if higher_is_better else "gain"
    return "none"


def flag_family(
    diffs: Sequence[PairedDiff],
    higher_is_better: bool | Sequence[bool] = True,
    alpha: float = 0.05,
) -> list[tuple[float | None, FlagLabel]]:
    """Holm-adjust the p-values of one report's comparisons and flag each: (adjusted p, flag)."""
    hib = [higher_is_better] * len(diffs) if isinstance(higher_is_better, bool) else list(higher_is_better)
    if len(hib) != len(diffs):
        raise ValueError(f"higher_is_better has {len(hib)} entries for {len(diffs)} comparisons")
    adjusted = holm([d.p_value for d in diffs])
    return [(a, flag(d.low, d.high, a, alpha, h)) for d, a, h in zip(diffs, adjusted, hib, strict=True)]


def bonferroni_level(level: float, m: int) -> float:
    """Per-interval level giving simultaneous coverage >= ``level`` across ``m`` intervals."""
    if m < 1:
        raise ValueError(f"m (number of comparisons) must be >= 1; got {m}")
    return 1.0 - (1.0 - level) / m


def min_resamples(n_tests: int, alpha: float = 0.05) -> int:
    """Fewest bootstrap resamples B whose smallest p-value, 2 / (B + 1), is below alpha / n_tests.

    Below this, Holm cannot flag anything however large the effect. It is a floor, not a
    target: use several times more so that p-values near the threshold are resolved.
    """
    if n_tests < 1 or not 0.0 < alpha < 1.0:
        raise ValueError("n_tests must be >= 1 and alpha in (0, 1)")
    # exact rational arithmetic: 2m/alpha is often a whole number, where float rounding would
    # decide between B and B - 1 (the smallest B strictly above 2m/alpha - 1)
    return math.floor(2 * n_tests / Fraction(repr(alpha)) - 1) + 1
