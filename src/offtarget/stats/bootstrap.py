"""Percentile bootstrap intervals over problems, and the :class:`Estimate` every number carries.

Why problems and not samples: an audit draws several samples per problem, and samples of the
same problem are correlated (an easy problem is solved by all of them). Resampling samples
treats 8 draws of one problem as 8 independent observations and gives intervals that are too
narrow; the unit that was sampled from a population is the problem, so the problem is what we
resample (the cluster bootstrap; Davison & Hinkley 1997, "Bootstrap Methods and their
Application", sec. 3.8; Field & Welsh 2007). The interval is the percentile interval
(Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13): the (1-level)/2 and
(1+level)/2 quantiles of the statistic over resamples.

Data layouts. Every array passed to :func:`bootstrap` is aligned on axis 0, and either

- axis 0 is the problem axis: shape ``(problems,)`` for one value per problem (a pass rate, a
  pass@k) or ``(problems, samples)`` for a fixed number of samples each; or
- ``clusters`` is given: the arrays are per sample (ragged: any number of samples per
  problem) and ``clusters[i]`` names the problem of sample i. A resample draws problems with
  replacement and keeps all samples of each drawn problem (a problem drawn twice appears twice).

A statistic that is undefined on a resample (returns ``None`` or NaN, e.g. AUROC when the
resample has one class only) is dropped from the interval; when more than ``max_undefined``
of the resamples are undefined, the interval is withheld with a reason. The same ``seed``
gives the same interval; ``vectorized=True`` evaluates many resamples per call.

Not ``scipy.stats.bootstrap``: it resamples observations, not ragged clusters of samples, gives
NaN where some resamples are undefined instead of dropping them with a stated limit, and draws
its own indices, where a paired audit must reuse the same problem draws for both checkpoints.

    >>> import numpy as np
    >>> from offtarget.stats import bootstrap, bootstrap_mean
    >>> passed = np.array([[1, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 0, 1]])  # 4 problems x 4 samples
    >>> bootstrap_mean(passed, n_resamples=200).value
    0.5
    >>> e = bootstrap(np.mean, passed, n_resamples=200, seed=1)
    >>> (e.value, e.n, e.low <= e.value <= e.high)
    (0.5, 4, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from offtarget.stats._checks import StrictRecord

DEFAULT_RESAMPLES = 1000
"""Resamples per interval. Enough for a stable 95% percentile interval (Efron & Tibshirani
1993 suggest >= 1000 for percentiles); raise it when p-values must survive a Holm correction
(see :func:`offtarget.stats.min_resamples`)."""

_CHUNK_ELEMENTS = 1 << 22
"""Largest number of array elements materialised at once by the vectorised path (~32 MB)."""


NO_INTERVAL = "no interval asked for (n_resamples=0)"
"""The reason an estimate asked for with ``n_resamples=0`` gives for its missing interval."""

# ---------------------------------------------------------------------------------------------
# Result record


@dataclass(frozen=True)
class Estimate(StrictRecord):
    """A point value with its percentile-bootstrap interval over ``n`` problems.

    Strict JSON: ``value``/``low``/``high`` are finite floats or ``None``; whenever one is
    ``None`` (or resamples were dropped), ``reason`` says why.
    """

    value: float | None
    """The statistic on the full data."""
    low: float | None
    """Lower end of the interval."""
    high: float | None
    """Upper end of the interval."""
    n: int
    """Number of problems (the resampled unit)."""
    level: float = 0.95
    """Nominal coverage of [low, high]."""
    reason: str | None = None
    """Why a field is ``None`` or what was dropped; ``None`` when nothing needs saying."""

    _numbers: ClassVar[tuple[str, ...]] = ("value", "low", "high")
    _required: ClassVar[tuple[str, ...]] = ("value", "low", "high")


# ---------------------------------------------------------------------------------------------
# Which rows make up a resample


class ProblemLayout:
    """Maps drawn problem positions to the rows of an aligned group of arrays.

    Without clusters, row i is problem i. With clusters, the rows of each problem are found
    once (sorted by problem id) so that a resample is gathered with a few vectorised calls.
    """

    def __init__(self, n_rows: int, clusters: ArrayLike | None = None) -> None:
        self.clustered = clusters is not None
        if clusters is None:
            self.ids: np.ndarray | None = None
            self.n_problems = n_rows
            return
        cl = np.asarray(clusters).reshape(-1)
        if cl.size != n_rows:
            raise ValueError(f"clusters has {cl.size} entries but the arrays have {n_rows} rows")
        self.ids, inverse = np.unique(cl, return_inverse=True)
        inverse = inverse.reshape(-1)
        self.n_problems = int(self.ids.size)
        self._order = np.argsort(inverse, kind="stable")
        self._sizes = np.bincount(inverse, minlength=self.n_problems)
        self._starts = np.cumsum(self._sizes) - self._sizes

    def rows(self, picks: np.ndarray) -> np.ndarray:
        """Row indices for one resample given the drawn problem positions ``picks``."""
        if not self.clustered:
            return picks
        sizes = self._sizes[picks]
        offsets = np.cumsum(sizes) - sizes
        within = np.arange(int(sizes.sum())) - np.repeat(offsets, sizes)
        return self._order[np.repeat(self._starts[picks], sizes) + within]


def draw_problems(n_problems: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n_problems)`` problem positions drawn with replacement, seeded (read-only: the
    same draws serve every metric of a group, so they are drawn once, :func:`_seeded_draws`)."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1; got {n_resamples}")
    return _seeded_draws(int(n_problems), int(n_resamples), int(seed))


@lru_cache(maxsize=32)
def _seeded_draws(n_problems: int, n_resamples: int, seed: int) -> np.ndarray:
    draws = np.random.default_rng(seed).integers(0, n_problems, size=(n_resamples, n_problems))
    draws.flags.writeable = False
    return draws


def _scalar(x: Any) -> float:
    if x is None:
        return math.nan
    a = np.asarray(x, dtype=float)
    if a.size != 1:
        raise ValueError(f"the statistic must return one number; got shape {a.shape}")
    return float(a.reshape(()))


def point_value(statistic: Callable[..., Any], arrays: list[np.ndarray], vectorized: bool) -> float:
    """The statistic on the full data (a batch of one when ``vectorized``)."""
    if vectorized:
        return _scalar(np.asarray(statistic(*[a[None] for a in arrays]), dtype=float).reshape(-1)[0])
    return _scalar(statistic(*arrays))


def replicates(
    statistic: Callable[..., Any],
    arrays: list[np.ndarray],
    layout: ProblemLayout,
    draws: np.ndarray,
    vectorized: bool = False,
) -> np.ndarray:
    """The statistic on each resample given by ``draws``; NaN where it is undefined."""
    n_resamples = draws.shape[0]
    out = np.empty(n_resamples)
    if vectorized:
        if layout.clustered:
            raise ValueError("vectorized=True needs one row per problem; drop clusters= or vectorized=")
        weighted = _weighted_replicates(statistic, arrays, draws)
        if weighted is not None:
            return weighted
        per_resample = max(1, sum(a[:1].size for a in arrays) * draws.shape[1])
        step = max(1, _CHUNK_ELEMENTS // per_resample)
        for s in range(0, n_resamples, step):
            idx = draws[s : s + step]
            vals = np.asarray(statistic(*[a[idx] for a in arrays]), dtype=float).reshape(-1)
            if vals.size != idx.shape[0]:
                raise ValueError(
                    f"a vectorized statistic must return one value per resample ({idx.shape[0]}); "
                    f"got {vals.size}"
                )
            out[s : s + step] = vals
        return out
    for b in range(n_resamples):
        rows = layout.rows(draws[b])
        out[b] = _scalar(statistic(*[a[rows] for a in arrays]))
    return out


def resample_counts(draws: np.ndarray, n_problems: int) -> np.ndarray:
    """(resamples, problems): how many times each problem was drawn into each resample (read-only;
    counted once per set of draws, which an audit reuses for every metric of a group)."""
    known = _COUNTS.get(id(draws))
    if known is not None and known[0] is draws and known[1].shape[1] == n_problems:
        return known[1]
    b = draws.shape[0]
    flat = (draws + n_problems * np.arange(b)[:, None]).reshape(-1)
    counts = np.bincount(flat, minlength=b * n_problems).reshape(b, n_problems).astype(float)
    counts.flags.writeable = False
    if not draws.flags.writeable:  # the shared draws of draw_problems: remember (holding them keeps the id)
        if len(_COUNTS) >= 32:
            _COUNTS.pop(next(iter(_COUNTS)))
        _COUNTS[id(draws)] = (draws, counts)
    return counts


_COUNTS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _weighted_replicates(statistic, arrays: list[np.ndarray], draws: np.ndarray) -> np.ndarray | None:
    """Replicates from problem multiplicities instead of gathered copies, when the statistic allows.

    A resample is fully described by how often it holds each problem. The mean, and any
    statistic of additive per-sample sums (``unit_sums``/``from_sums``, see
    :class:`offtarget.stats.permutation.SumsRelabelling`), is then one matrix product of those
    counts with per-problem sums; a statistic with ``weighted(arrays, counts)`` computes its own.
    Same values as evaluating each gathered resample (up to the order of floating-point sums);
    ``None`` when none of this applies.
    """
    n = arrays[0].shape[0]
    if statistic is batched_mean and len(arrays) == 1 and np.all(np.isfinite(arrays[0])):
        a = arrays[0].astype(float)
        return resample_counts(draws, n) @ a.reshape(n, -1).sum(1) / a.size
    if hasattr(statistic, "unit_sums") and hasattr(statistic, "from_sums"):
        c = statistic.unit_sums(*arrays)
        per_problem = c.reshape(n, -1, c.shape[-1]).sum(1)
        return np.asarray(statistic.from_sums(resample_counts(draws, n) @ per_problem), dtype=float)
    if hasattr(statistic, "weighted"):
        counts = resample_counts(draws, n)
        out = np.empty(draws.shape[0])
        step = max(1, _CHUNK_ELEMENTS // max(1, 4 * sum(a.size for a in arrays)))
        for s in range(0, draws.shape[0], step):
            out[s : s + step] = statistic.weighted(arrays, counts[s : s + step])
        return out
    return None


def percentile_interval(
    reps: np.ndarray, level: float, max_undefined: float
) -> tuple[float | None, float | None, str | None]:
    """(low, high, reason) from bootstrap replicates; NaN replicates are dropped or fatal."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}")
    ok = np.isfinite(reps)
    undefined = int(reps.size - ok.sum())
    if undefined > max_undefined * reps.size or undefined == reps.size:
        return (
            None,
            None,
            (
                f"statistic undefined on {undefined} of {reps.size} resamples "
                f"(more than {max_undefined:.0%}); interval withheld"
            ),
        )
    low, high = np.quantile(reps[ok], [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    reason = None if undefined == 0 else f"{undefined} of {reps.size} resamples undefined and dropped"
    return float(low), float(high), reason


def batched_mean(a: np.ndarray) -> np.ndarray:
    """Mean over everything but the leading (resample) axis; a ``vectorized=True`` statistic."""
    return a.reshape(a.shape[0], -1).mean(axis=1)


# ---------------------------------------------------------------------------------------------
# Public entry points


def bootstrap(
    statistic: Callable[..., Any],
    *arrays: ArrayLike,
    clusters: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    vectorized: bool = False,
    max_undefined: float = 0.05,
    shared_replicates: Callable[[], np.ndarray] | None = None,
) -> Estimate:
    """Percentile bootstrap interval of ``statistic(*arrays)``, resampling problems.

    ``statistic`` takes the aligned arrays (rows of the resampled problems) and returns a
    number, or ``None``/NaN when undefined. With ``vectorized=True`` it instead receives
    arrays with an extra leading resample axis, ``(resamples, problems, ...)``, and returns
    one value per resample (e.g. ``lambda a: a.mean(axis=1)``); only without ``clusters``.
    ``n_resamples=0`` gives the value alone, without an interval (where only point values are read,
    as in the audit's split-half null audits).
    ``shared_replicates``, if given, returns the replicates already computed for these arrays
    and arguments (:func:`bootstrap_replicates`, e.g. memoised and shared with
    :func:`~offtarget.stats.paired_bootstrap`, which draws the same resamples for the same seed).
    """
    arrs = [np.asarray(a) for a in arrays]
    if not arrs:
        raise ValueError("bootstrap needs at least one array")
    n_rows = arrs[0].shape[0] if arrs[0].ndim else 1
    for a in arrs:
        if a.ndim == 0 or a.shape[0] != n_rows:
            raise ValueError(f"arrays must be aligned on axis 0; got shapes {[x.shape for x in arrs]}")
    layout = ProblemLayout(n_rows, clusters)
    if layout.n_problems == 0:
        return Estimate(None, None, None, 0, level, reason="no problems")
    value = point_value(statistic, arrs, vectorized)
    if not math.isfinite(value):
        return Estimate(
            None, None, None, layout.n_problems, level, reason="statistic undefined on the full data"
        )
    if n_resamples == 0:
        return Estimate(value, None, None, layout.n_problems, level, reason=NO_INTERVAL)
    if shared_replicates is not None:
        reps = shared_replicates()
    else:
        reps = replicates(
            statistic, arrs, layout, draw_problems(layout.n_problems, n_resamples, seed), vectorized
        )
    low, high, reason = percentile_interval(reps, level, max_undefined)
    return Estimate(value, low, high, layout.n_problems, level, reason)


def bootstrap_replicates(
    statistic: Callable[..., Any],
    *arrays: ArrayLike,
    clusters: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    vectorized: bool = False,
) -> np.ndarray:
    """The replicates :func:`bootstrap` (and each arm of ``paired_bootstrap``) computes for these
    arguments: ``statistic`` on the resamples ``draw_problems(problems, n_resamples, seed)``."""
    arrs = [np.asarray(a) for a in arrays]
    layout = ProblemLayout(arrs[0].shape[0], clusters)
    return replicates(statistic, arrs, layout, draw_problems(layout.n_problems, n_resamples, seed), vectorized)


def bootstrap_mean(
    values: ArrayLike,
    clusters: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> Estimate:
    """Mean of ``values`` with its interval over problems: the common case (accuracy, pass@k).

    ``values`` of shape ``(problems,)`` or ``(problems, samples)`` is averaged over all
    entries (vectorised); with ``clusters`` it is per sample and averaged over samples.
    """
    a = np.asarray(values, dtype=float)
    if clusters is None:
        return bootstrap(batched_mean, a, n_resamples=n_resamples, seed=seed, level=level, vectorized=True)
    return bootstrap(np.mean, a, clusters=clusters, n_resamples=n_resamples, seed=seed, level=level)
