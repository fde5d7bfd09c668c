"""Paired comparison of two checkpoints on the same problems: paired bootstrap and McNemar.

Both checkpoints answer the same problems with the same sample budget, so the comparison is
paired: problem difficulty is shared and cancels in the difference. Ignoring the pairing (two
independent intervals that "overlap") throws that away and misses real regressions.

**Paired bootstrap** (Efron & Tibshirani 1993, ch. 15-16; for model comparison, Koehn 2004 and
Berg-Kirkpatrick et al. 2012). Each resample draws problems with replacement, *the same draw
for both checkpoints*, and records diff* = stat(tuned*) - stat(reference*). The interval is
the percentile interval of diff*. The two-sided p-value inverts that interval:

    p = min(1, 2 * min(#{diff* <= 0} + 1, #{diff* >= 0} + 1) / (B + 1))

so p < alpha exactly when about the central (1 - alpha) interval excludes 0; the +1 terms
(Davison & Hinkley 1997, eq. 4.11) keep p above zero: with B resamples no p is below
2 / (B + 1). Under a Holm correction over m tests, B must exceed 2m / alpha for anything to be
flaggable at all (:func:`offtarget.stats.min_resamples`). Identical checkpoints give
diff* = 0 on every resample, hence diff = 0, interval [0, 0] and p = 1.

**McNemar's exact test** (McNemar 1947; exact binomial form, Fagerland, Lydersen & Laake
2013, "The McNemar test for binary matched-pairs data: mid-p and asymptotic are better than
exact conditional"). For one binary outcome per problem per checkpoint (greedy correctness,
majority-vote correctness), only the discordant problems carry information: b = reference
right and tuned wrong, c = reference wrong and tuned right. Under H0, b ~ Binomial(b + c, 1/2):

    exact: p = min(1, 2 * P(X <= min(b, c)))
    mid-p: p = 2 * P(X <= min(b, c)) - P(X = min(b, c))       (``mid_p=True``)

The exact test is conservative (its true size is below alpha); the mid-p test is not
guaranteed to stay below alpha but in Fagerland et al.'s evaluation it did in all settings
they studied, with better power. Default is exact, the conservative choice for a tool whose
job is to not cry wolf. The interval on the accuracy difference is the paired bootstrap one.
With several samples per problem, use the paired bootstrap instead.

    >>> import numpy as np
    >>> from offtarget.stats import paired_bootstrap, mcnemar
    >>> ref = np.array([1, 1, 0, 0, 1, 0, 1, 0, 0, 1])
    >>> tuned = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 1])
    >>> d = paired_bootstrap(ref, tuned, metric="accuracy", n_resamples=500)
    >>> (d.reference, d.tuned, round(d.diff, 2), d.n)
    (0.5, 0.9, 0.4, 10)
    >>> m = mcnemar(ref, tuned)           # b = 0, c = 4: p = 2 * 0.5**4
    >>> (m.test, m.p_value)
    ('mcnemar_exact', 0.125)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binom

from offtarget.stats._checks import StrictRecord, as_binary
from offtarget.stats.bootstrap import (
    DEFAULT_RESAMPLES,
    NO_INTERVAL,
    ProblemLayout,
    batched_mean,
    draw_problems,
    percentile_interval,
    point_value,
    replicates,
)

# ---------------------------------------------------------------------------------------------
# Result record


@dataclass(frozen=True)
class PairedDiff(StrictRecord):
    """One metric compared between two checkpoints: tuned - reference, with interval and p.

    Strict JSON: numeric fields are finite floats or ``None``; ``reason`` says why when one is
    ``None`` or when resamples were dropped.
    """

    metric: str
    """Name of the metric compared (e.g. ``accuracy``, ``ece``, ``pass@8``)."""
    reference: float | None
    """The metric for the reference checkpoint (e.g. base)."""
    tuned: float | None
    """The metric for the tuned checkpoint (e.g. RL)."""
    diff: float | None
    """tuned - reference."""
    low: float | None
    """Lower end of the interval on ``diff``."""
    high: float | None
    """Upper end of the interval on ``diff``."""
    p_value: float | None
    """Two-sided p-value for diff = 0, before any multiple-comparison correction."""
    n: int
    """Number of paired problems."""
    test: str
    """``paired_bootstrap``, ``mcnemar_exact`` or ``mcnemar_midp``."""
    level: float = 0.95
    """Nominal coverage of [low, high]."""
    reason: str | None = None
    """Why a field is ``None`` or what was dropped; ``None`` when nothing needs saying."""

    _numbers: ClassVar[tuple[str, ...]] = ("reference", "tuned", "diff", "low", "high", "p_value")
    _required: ClassVar[tuple[str, ...]] = ("diff", "low", "high", "p_value")


# ---------------------------------------------------------------------------------------------
# Paired bootstrap


def _arm(x: ArrayLike | tuple[ArrayLike, ...]) -> list[np.ndarray]:
    arrays = [np.asarray(a) for a in (x if isinstance(x, tuple) else (x,))]
    n_rows = arrays[0].shape[0] if arrays[0].ndim else -1
    if n_rows < 0 or any(a.ndim == 0 or a.shape[0] != n_rows for a in arrays):
        raise ValueError(
            f"arrays of one checkpoint must be aligned on axis 0; got {[a.shape for a in arrays]}"
        )
    return arrays


def _undefined(
    metric: str, reference: float | None, tuned: float | None, n: int, level: float, reason: str
) -> PairedDiff:
    return PairedDiff(metric, reference, tuned, None, None, None, None, n, "paired_bootstrap", level, reason)


def bootstrap_p_value(diffs: np.ndarray) -> float:
    """Two-sided p-value for diff = 0 from paired-bootstrap replicates (NaNs ignored)."""
    d = diffs[np.isfinite(diffs)]
    if d.size == 0:
        return float("nan")
    below, above = int(np.sum(d <= 0.0)), int(np.sum(d >= 0.0))
    return min(1.0, 2.0 * (min(below, above) + 1) / (d.size + 1))


def paired_bootstrap(
    reference: ArrayLike | tuple[ArrayLike, ...],
    tuned: ArrayLike | tuple[ArrayLike, ...],
    statistic: Callable[..., Any] | None = None,
    *,
    metric: str = "mean",
    clusters: ArrayLike | None = None,
    tuned_clusters: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    vectorized: bool = False,
    max_undefined: float = 0.05,
    shared_replicates: tuple[Callable[[], np.ndarray], Callable[[], np.ndarray]] | None = None,
) -> PairedDiff:
    """Paired bootstrap of stat(tuned) - stat(reference) over the same problems.

    ``reference`` and ``tuned`` are each an array, or a tuple of aligned arrays passed to
    ``statistic`` as separate arguments (e.g. ``(confidence, correct)`` for ECE). Layouts are
    those of :func:`offtarget.stats.bootstrap`: rows are problems (same problems, same order
    for both), or pass ``clusters`` (problem id per sample) and, if the tuned checkpoint's
    samples are laid out differently, ``tuned_clusters``; both must cover the same problems.
    ``statistic`` defaults to the mean over all entries. ``vectorized`` and ``n_resamples=0`` (the
    difference alone, no interval) as in ``bootstrap``.
    ``shared_replicates``, if given, is (reference, tuned): functions returning each arm's
    replicates on this seed's draws, as :func:`~offtarget.stats.bootstrap.bootstrap_replicates`
    computes them (the same numbers ``bootstrap`` computes for each checkpoint alone).
    """
    ref_arrays, tuned_arrays = _arm(reference), _arm(tuned)
    if statistic is None:
        if len(ref_arrays) > 1 or len(tuned_arrays) > 1:
            raise ValueError("pass a statistic when a checkpoint is given as several arrays")
        statistic, vectorized = (np.mean, False) if clusters is not None else (batched_mean, True)
    ref_layout = ProblemLayout(ref_arrays[0].shape[0], clusters)
    tuned_layout = ProblemLayout(
        tuned_arrays[0].shape[0], clusters if tuned_clusters is None else tuned_clusters
    )
    if ref_layout.n_problems != tuned_layout.n_problems or (
        ref_layout.clustered and not np.array_equal(ref_layout.ids, tuned_layout.ids)
    ):
        raise ValueError(
            f"a paired comparison needs the same problems for both checkpoints; got "
            f"{ref_layout.n_problems} and {tuned_layout.n_problems} problems (or different problem ids)"
        )
    n = ref_layout.n_problems
    if n == 0:
        return _undefined(metric, None, None, 0, level, "no problems")
    ref_value = point_value(statistic, ref_arrays, vectorized)
    tuned_value = point_value(statistic, tuned_arrays, vectorized)
    diff = tuned_value - ref_value
    if not np.isfinite(diff):
        why = "statistic undefined on the full data for at least one checkpoint"
        return _undefined(metric, ref_value, tuned_value, n, level, why)
    if n_resamples == 0:
        return PairedDiff(metric, ref_value, tuned_value, diff, None, None, None, n, "paired_bootstrap", level,
                          NO_INTERVAL)
    if shared_replicates is not None:
        reps = shared_replicates[1]() - shared_replicates[0]()
    else:
        draws = draw_problems(n, n_resamples, seed)  # one draw, shared by both checkpoints: the pairing
        tuned_reps = replicates(statistic, tuned_arrays, tuned_layout, draws, vectorized)
        reps = tuned_reps - replicates(statistic, ref_arrays, ref_layout, draws, vectorized)
    low, high, reason = percentile_interval(reps, level, max_undefined)
    return PairedDiff(
        metric,
        reference=ref_value,
        tuned=tuned_value,
        diff=diff,
        low=low,
        high=high,
        p_value=bootstrap_p_value(reps),
        n=n,
        test="paired_bootstrap",
        level=level,
        reason=reason,
    )


# ---------------------------------------------------------------------------------------------
# McNemar


def mcnemar_p_value(b: int, c: int, mid_p: bool = False) -> float:
    """Two-sided exact (or mid-p) McNemar p-value from the discordant counts b and c."""
    m, k = b + c, min(b, c)
    if m == 0:
        return 1.0  # no discordant problems: no evidence of any difference
    if mid_p:  # not in statsmodels
        # 2 P(X < k) + P(X = k), the same as 2 P(X <= k) - P(X = k) without the cancellation
        return min(1.0, 2.0 * float(binom.cdf(k - 1, m, 0.5)) + float(binom.pmf(k, m, 0.5)))
    from statsmodels.stats.contingency_tables import mcnemar as exact_mcnemar

    return float(exact_mcnemar([[0, b], [c, 0]], exact=True).pvalue)  # min(1, 2 P(X <= k)), X ~ Bin(b + c, 1/2)


def mcnemar(
    reference_correct: ArrayLike,
    tuned_correct: ArrayLike,
    *,
    mid_p: bool = False,
    metric: str = "accuracy",
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> PairedDiff:
    """McNemar's test on one binary outcome per problem per checkpoint.

    ``p_value`` is the exact binomial test on the discordant pairs (``mid_p=True`` for the
    mid-p version); ``diff`` is the accuracy difference tuned - reference, (c - b) / n, and
    [low, high] its paired-bootstrap interval.
    """
    ref_arr, tuned_arr = np.asarray(reference_correct), np.asarray(tuned_correct)
    if ref_arr.ndim != 1 or tuned_arr.ndim != 1:
        raise ValueError(
            "McNemar needs one binary outcome per problem (1-D arrays); "
            "with several samples per problem use paired_bootstrap"
        )
    ref = as_binary(ref_arr, "reference_correct")
    tuned = as_binary(tuned_arr, "tuned_correct")
    if ref.size != tuned.size:
        raise ValueError(
            f"both checkpoints must be scored on the same problems; got {ref.size} and {tuned.size}"
        )
    test = "mcnemar_midp" if mid_p else "mcnemar_exact"
    boot = paired_bootstrap(ref, tuned, metric=metric, n_resamples=n_resamples, seed=seed, level=level)
    b = int(np.sum((ref == 1.0) & (tuned == 0.0)))  # reference right, tuned wrong
    c = int(np.sum((ref == 0.0) & (tuned == 1.0)))  # reference wrong, tuned right
    p_value = mcnemar_p_value(b, c, mid_p) if ref.size else None
    return replace(boot, p_value=p_value, test=test)
