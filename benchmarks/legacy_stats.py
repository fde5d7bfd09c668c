"""The statistics before batching (``permutation-v2``), kept only to time against: ``make bench``.

A frozen copy of the paired permutation test as it was (uniform floats per relabelling mask;
sums statistics as one matrix product over every unit and all 34 bin sums; anything else, AUROC
included, recomputed and re-ranked on each relabelled data set) and of the calibration probe's
per-bin statistic. :func:`legacy_specs` turns the probe's metric specs back into these, so the
benchmark can run both on the same stored generations. Not used by the product.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import product
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from offtarget.stats.bootstrap import batched_mean

Unit = Literal["sample", "problem"]

METHOD = "permutation-v2"
"""Identifies how p-values are computed; part of the audit's probe-cache key, so results cached
under another method are recomputed."""

STAGE1 = 999
"""Relabellings for every comparison (p resolution 0.001)."""
STAGE2 = 19_999
"""Fresh relabellings when stage 1 gives p ≤ :data:`REFINE_BELOW` (floor 5e-5)."""
REFINE_BELOW = 0.1
"""Stage-1 p above this cannot pass Holm at any alpha ≤ 0.1, so it is final."""
STOP_AFTER_HITS = 20
"""A Monte Carlo stage stops once this many relabellings reached |T| (Besag & Clifford 1991):
p is then ≥ 20 / budget, and its relative Monte Carlo error about 1 / √20 ≈ 22%."""
EXACT_MAX_PROBLEMS = 10
"""Problem-level tests on at most this many problems enumerate all 2^problems relabellings."""
_CHUNK_ELEMENTS = 1 << 22
"""Largest relabelled array materialised at once (~32 MB of float64)."""
_TIE_RTOL = 1e-9
"""|T*| within this relative distance of |T| counts as reaching it (floating-point ties)."""


@dataclass(frozen=True)
class PermutationTest:
    """The outcome of one paired permutation test."""

    p_value: float | None
    """Two-sided p for H0: same distribution on every problem; ``None`` if the statistic is undefined."""
    statistic: float | None
    """T = stat(tuned) − stat(reference) on the observed labels."""
    n_permutations: int
    """Relabellings behind the final p (``2^problems`` when enumerated)."""
    unit: str
    """``sample`` or ``problem``: what had its labels swapped."""
    exact: bool
    """True when every relabelling was enumerated."""
    p_floor: float
    """Smallest p this design can give (2 / 2^units): the test's resolution limit."""
    bound: bool = False
    """True when p is the Hoeffding tail bound (a mean whose relabellings never reached |T|)."""
    reason: str | None = None
    """Why ``p_value`` is ``None``, or what was dropped."""

    @property
    def test(self) -> str:
        """Name for a report: ``permutation_sample``, ``permutation_problem`` or ``permutation_problem_exact``."""
        return f"permutation_{self.unit}" + ("_exact" if self.exact else "")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "test": self.test}


def _arm(x: ArrayLike | tuple[ArrayLike, ...]) -> list[np.ndarray]:
    return [np.asarray(a, dtype=float) for a in (x if isinstance(x, tuple) else (x,))]


def _point(statistic: Callable, arrays: list[np.ndarray], vectorized: bool) -> float:
    if vectorized:
        return float(np.asarray(statistic(*[a[None] for a in arrays]), dtype=float).reshape(-1)[0])
    v = statistic(*arrays)
    return math.nan if v is None else float(v)


def _relabelled(statistic, ref, tuned, masks: np.ndarray, vectorized: bool) -> np.ndarray:
    """T* per mask: ``masks`` is (B, problems) or (B, problems, samples); True swaps that unit."""
    out = np.empty(masks.shape[0])
    step = max(1, _CHUNK_ELEMENTS // max(1, 2 * sum(a.size for a in ref)))
    for s in range(0, masks.shape[0], step):
        m = masks[s : s + step]
        r_star, t_star = [], []
        for r, t in zip(ref, tuned):
            mm = m.reshape(m.shape + (1,) * (r.ndim - (m.ndim - 1)))
            r_star.append(np.where(mm, t[None], r[None]))
            t_star.append(np.where(mm, r[None], t[None]))
        if vectorized:
            vals = (np.asarray(statistic(*t_star), dtype=float).reshape(-1)
                    - np.asarray(statistic(*r_star), dtype=float).reshape(-1))
        else:
            vals = np.array([_point(statistic, [a[b] for a in t_star], False)
                             - _point(statistic, [a[b] for a in r_star], False) for b in range(m.shape[0])])
        out[s : s + step] = vals
    return out


def _unit_differences(ref: list[np.ndarray], tuned: list[np.ndarray], unit: Unit) -> np.ndarray:
    """D_u: the summed tuned − reference difference of each swap unit (flattened), for a mean."""
    d = tuned[0] - ref[0]
    keep = 1 if unit == "problem" else 2
    return d.reshape(int(np.prod(d.shape[:keep])), -1).sum(1)


def _relabelled_mean(d_units: np.ndarray, n: int, masks: np.ndarray) -> np.ndarray:
    """T* of the mean as a matrix product: swapping unit u flips the sign of D_u, so
    T* = (Σ_u D_u − 2 Σ_u m_u D_u) / N for each mask row m."""
    flat = masks.reshape(masks.shape[0], -1)
    return (d_units.sum() - 2.0 * (flat @ d_units)) / n


def _relabelled_sums(from_sums, c_ref: np.ndarray, c_tun: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """T* of a statistic of per-sample sums: swapping unit u moves its contribution between the
    checkpoints, so both relabelled sums are the observed ones plus one matrix product."""
    flat = masks.reshape(masks.shape[0], -1).astype(float)
    delta = flat @ (c_ref - c_tun)
    return from_sums(c_tun.sum(0) + delta) - from_sums(c_ref.sum(0) - delta)


def _count(t_star: np.ndarray, t: float) -> tuple[int, int]:
    """(#{|T*| ≥ |T|}, #finite T*), ties within :data:`_TIE_RTOL` counted as reaching |T|."""
    ok = np.isfinite(t_star)
    thr = abs(t) * (1 - _TIE_RTOL) - 1e-15
    return int(np.sum(np.abs(t_star[ok]) >= thr)), int(ok.sum())


def _exceeds(t_star: np.ndarray, t: float) -> np.ndarray:
    """Per finite T*, in draw order: whether it reaches |T| (ties as in :func:`_count`)."""
    t_star = t_star[np.isfinite(t_star)]
    return np.abs(t_star) >= abs(t) * (1 - _TIE_RTOL) - 1e-15


def _stage(relabel, rng, budget: int, shape: tuple, t: float, hits_to_stop: int | None):
    """One Monte Carlo stage of at most ``budget`` relabellings, drawn in growing chunks.

    Sequential stopping (Besag & Clifford 1991, "Sequential Monte Carlo p-values"): once
    ``hits_to_stop`` relabellings have reached |T| after L finite ones, p = h / L is a valid
    p-value and further draws could only refine a p that is already far from any decision
    (p ≥ h / budget). Otherwise all ``budget`` are drawn and p = (1 + hits) / (1 + finite).
    Returns (p, hits, finite, dropped).
    """
    hits = ok = drawn = 0
    chunk = 64 if hits_to_stop else budget
    while drawn < budget:
        b = min(chunk, budget - drawn)
        t_star = relabel(rng.random((b, *shape)) < 0.5)
        drawn += b
        exceed = _exceeds(t_star, t)
        if hits_to_stop and hits + int(exceed.sum()) >= hits_to_stop:
            at = int(np.flatnonzero(np.cumsum(exceed) + hits >= hits_to_stop)[0])
            return hits_to_stop / (ok + at + 1), hits_to_stop, ok + at + 1, drawn - ok - exceed.size
        hits += int(exceed.sum())
        ok += exceed.size
        chunk = min(chunk * 2, 4096)
    p = (1 + hits) / (1 + ok) if ok else math.nan
    return p, hits, ok, drawn - ok


def _hoeffding(ref: list[np.ndarray], tuned: list[np.ndarray], unit: Unit, t: float) -> float:
    """2 exp(−(N T)² / (2 Σ D_u²)) for the mean over all entries of a single array."""
    d = tuned[0] - ref[0]
    n = d.size
    units = d.reshape(d.shape[0], -1).sum(1) if unit == "problem" else d.reshape(d.shape[0], d.shape[1], -1).sum(2)
    ss = float(np.sum(units**2))
    if ss <= 0:
        return 1.0
    return float(min(1.0, 2.0 * math.exp(-((n * t) ** 2) / (2.0 * ss))))


def permutation_test(
    reference: ArrayLike | tuple[ArrayLike, ...],
    tuned: ArrayLike | tuple[ArrayLike, ...],
    statistic: Callable[..., Any] | None = None,
    *,
    unit: Unit = "sample",
    vectorized: bool = False,
    seed: int = 0,
    n_permutations: int | None = None,
    refine: bool = True,
    stop_after_hits: int | None = STOP_AFTER_HITS,
) -> PermutationTest:
    """Two-sided paired permutation test of stat(tuned) − stat(reference), relabelling within problems.

    ``reference`` and ``tuned`` are an array or a tuple of aligned arrays (passed to
    ``statistic`` as separate arguments), problems on axis 0; with ``unit="sample"`` axis 1
    is the sample axis and both checkpoints need the same shape. ``statistic`` defaults to the
    mean over all entries (and then gets the Hoeffding bound); ``vectorized`` as in
    :func:`offtarget.stats.bootstrap`. ``n_permutations`` fixes a single stage of that many
    relabellings (for simulations); by default two stages, :data:`STAGE1` then :data:`STAGE2`.
    """
    ref, tun = _arm(reference), _arm(tuned)
    if len(ref) != len(tun) or any(r.shape != t.shape for r, t in zip(ref, tun)):
        raise ValueError(f"both checkpoints need arrays of the same shapes; got {[r.shape for r in ref]} "
                         f"and {[t.shape for t in tun]}")
    is_mean = statistic is None
    if is_mean:
        if len(ref) > 1:
            raise ValueError("pass a statistic when a checkpoint is given as several arrays")
        statistic, vectorized = batched_mean, True
    n_problems = ref[0].shape[0]
    if unit == "sample" and any(r.ndim < 2 for r in ref):
        raise ValueError("unit='sample' needs (problems, samples, ...) arrays; use unit='problem'")
    units = n_problems * (ref[0].shape[1] if unit == "sample" else 1)
    floor = min(1.0, 2.0 / 2.0 ** min(units, 1000))
    if n_problems == 0:
        return PermutationTest(None, None, 0, unit, False, 1.0, reason="no problems")
    t = _point(statistic, tun, vectorized) - _point(statistic, ref, vectorized)
    if not math.isfinite(t):
        return PermutationTest(None, None, 0, unit, False, floor,
                               reason="statistic undefined on the full data for at least one checkpoint")
    if t == 0.0:
        return PermutationTest(1.0, 0.0, 0, unit, False, floor, reason="no difference: every relabelling reaches it")
    shape = (n_problems,) if unit == "problem" else ref[0].shape[:2]
    if unit == "problem" and n_problems <= EXACT_MAX_PROBLEMS:
        masks = np.array(list(product((False, True), repeat=n_problems)), dtype=bool)
        hits, ok = _count(_relabelled(statistic, ref, tun, masks, vectorized), t)
        p = hits / ok if ok else math.nan
        return _result(p, t, ok, unit, True, floor, masks.shape[0] - ok)
    rng = np.random.default_rng([seed, 0x5eed])
    if is_mean:
        d_units, n_entries = _unit_differences(ref, tun, unit), ref[0].size
        def relabel(masks):
            return _relabelled_mean(d_units, n_entries, masks)
    elif unit == "sample" and hasattr(statistic, "unit_sums"):
        c_ref, c_tun = statistic.unit_sums(*ref), statistic.unit_sums(*tun)
        def relabel(masks):
            return _relabelled_sums(statistic.from_sums, c_ref, c_tun, masks)
    else:
        def relabel(masks):
            return _relabelled(statistic, ref, tun, masks, vectorized)
    stages = [n_permutations] if n_permutations else [STAGE1, STAGE2]
    p, ok, hits, dropped = math.nan, 0, 0, 0
    for i, b in enumerate(stages):
        p, hits, ok, dropped = _stage(relabel, rng, b, shape, t, stop_after_hits)
        if not refine or i + 1 == len(stages) or not p <= REFINE_BELOW:
            break
    bound = False
    if is_mean and hits == 0 and ok:
        h = _hoeffding(ref, tun, unit, t)
        if h < p:
            p, bound = h, True
    return _result(p, t, ok, unit, False, floor, dropped, bound)


def _result(p, t, ok, unit, exact, floor, dropped, bound=False) -> PermutationTest:
    if not math.isfinite(p):
        return PermutationTest(None, t, 0, unit, exact, floor,
                               reason="statistic undefined on every relabelling")
    why = f"statistic undefined on {dropped} relabelling(s), dropped" if dropped else None
    return PermutationTest(float(min(1.0, p)), float(t), int(ok), unit, exact, floor, bound, why)


def testable(p_floor: float | None, level: float) -> bool:
    """Whether a test whose smallest attainable p is ``p_floor`` can pass ``level`` at all."""
    return p_floor is None or p_floor < level


# ---------------------------------------------------------------------------------------------
# The calibration probe's statistics as they were


from offtarget.metrics.calibration import (
    auroc,
    coverage,
    ece,
    mean_confidence,
    murphy_reliability,
    murphy_resolution,
    overconfidence,
)
from offtarget.metrics.calibration import bin_ids as _bin_ids
from offtarget.metrics.calibration import brier as _brier
from offtarget.metrics.calibration import pool as _pool
from offtarget.metrics.definition import ratio as _ratio

_BINNED = ("ece", "reliability", "resolution")
_FNS = {"ece": ece, "brier": _brier, "reliability": murphy_reliability, "resolution": murphy_resolution,
        "mean_confidence": mean_confidence, "overconfidence": overconfidence}


class BinSums:
    """A calibration statistic that is a function of per-bin sums, with equal-width bins.

    Each sample's bin depends only on its own confidence, so every such statistic is a function
    of sums over samples: count, confidence and correctness per bin, plus N, Σq, Σy, Σ(q − y)².
    :func:`offtarget.stats.permutation_test` uses :meth:`unit_sums` and :meth:`from_sums` to
    compute all relabellings of a comparison as one matrix product instead of re-binning each.
    """

    def __init__(self, name: str, n_bins: int, fn):
        self.name, self.n_bins, self.fn = name, n_bins, fn

    def __call__(self, q, y) -> np.ndarray:
        return self.fn(q, y, self.n_bins, "uniform") if self.name in _BINNED else self.fn(q, y)

    def unit_sums(self, q, y) -> np.ndarray:
        """(samples, 4 + 3·bins): each sample's contribution to the sums."""
        q0, y0, valid, _ = _pool(q.reshape(1, -1), y.reshape(1, -1))
        q0, y0, w = q0[0], y0[0], valid[0].astype(float)
        ids = _bin_ids(q0, valid[0], self.n_bins, "uniform")
        onehot = np.zeros((q0.size, self.n_bins))
        onehot[np.arange(q0.size), ids] = w
        return np.column_stack([w, q0 * w, y0 * w, (q0 - y0) ** 2 * w,
                                onehot, onehot * q0[:, None], onehot * y0[:, None]])

    def from_sums(self, s: np.ndarray) -> np.ndarray:
        k = self.n_bins
        n, qs, ys, sq = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
        count, conf, acc = s[:, 4:4 + k], s[:, 4 + k:4 + 2 * k], s[:, 4 + 2 * k:4 + 3 * k]
        if self.name == "ece":
            return _ratio(np.abs(acc - conf).sum(1), n)
        if self.name == "reliability":
            return _ratio(np.where(count > 0, _ratio((conf - acc) ** 2, count), 0.0).sum(1), n)
        if self.name == "resolution":
            spread = count * (_ratio(acc, count) - _ratio(ys, n)[:, None]) ** 2
            return _ratio(np.where(count > 0, spread, 0.0).sum(1), n)
        if self.name == "brier":
            return _ratio(sq, n)
        if self.name == "mean_confidence":
            return _ratio(qs, n)
        return _ratio(qs - ys, n)  # overconfidence




def legacy_specs(specs):
    """The same metric specs with the statistics of ``permutation-v2`` (no batched hooks)."""
    from dataclasses import replace

    out = []
    for s in specs:
        stat = s.statistic
        name = getattr(stat, "name", None)
        if name in _FNS:
            stat = BinSums(name, stat.n_bins, _FNS[name])
        elif type(stat).__name__ == "BatchedAuroc":
            stat = auroc
        elif type(stat).__name__ == "Coverage":
            stat = coverage
        out.append(replace(s, statistic=stat))
    return out
