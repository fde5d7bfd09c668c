"""Paired permutation tests for tuned − reference: p-values whose false-alarm rate holds at alpha.

Why not the bootstrap. A z-test on the bootstrap standard error is anti-conservative in small
groups (5–10 problems): in simulation (binary correctness, heterogeneous per-problem rates, 12
samples each, identical checkpoints) it rejects about 14% of nulls at nominal 5% with 5 problems.
A permutation test is exact under its null whatever the group size (Fisher 1935; Good 2005,
"Permutation, Parametric and Bootstrap Tests of Hypotheses", ch. 3).

The null. Both checkpoints are scored on the same problems; under H0 ("the tuned checkpoint
samples from the same distribution as the reference on every problem") the checkpoint label
of a draw is exchangeable *within its problem*. Two schemes, both exact:

- ``unit="sample"`` — arrays are per sample, ``(problems, samples, ...)``, the same number of
  samples per problem for both checkpoints. Sample j of problem i of the reference and sample j
  of the tuned checkpoint are two i.i.d. draws from that problem's distribution under H0, so
  each pair's labels are swapped independently with probability ½. The statistic is
  recomputed on every relabelled data set, so this also serves statistics that are not a mean
  over problems (ECE, Brier, AUROC on pooled samples). 2^(problems × samples) relabellings:
  even a 5-problem slice can be tested.
- ``unit="problem"`` — arrays are one row per problem (a pass@k, a distinct-n, a per-problem
  mean): the two checkpoints' rows of a problem are swapped with probability ½ (the sign-flip
  test of per-problem differences for a mean). With ≤ :data:`EXACT_MAX_PROBLEMS` problems all
  2^problems relabellings are enumerated and p is exact.

Two-sided p. With T = stat(tuned) − stat(ref) and T*_b on B random relabellings,
``p = (1 + #{|T*_b| ≥ |T|}) / (1 + B)`` (Phipson & Smyth 2010, "Permutation p-values should
never be zero"): a valid p-value for any B. Enumerated: ``p = #{|T*| ≥ |T|} / 2^problems``
(the identity relabelling is one of them).

How many relabellings. A p that must survive Holm's first step in a family of m needs B ≥ m / alpha,
but most comparisons are nowhere near significance, so the test runs in two stages: :data:`STAGE1`
(999) for everything, then, when that p is at most :data:`REFINE_BELOW`, a fresh :data:`STAGE2`
(19 999) whose p is final. Valid: for t below the threshold P(p ≤ t) ≤ P(p₂ ≤ t) ≤ t, above it
{p ≤ t} ⊂ {p₁ ≤ t}. A report sizes the second stage to its Holm family and skips it where no Holm
step can change the decision (:mod:`offtarget.stats.refinement`).

Means: a tail bound instead of more relabellings. For the mean over all entries (accuracy,
rates), T* = Σ ε_u D_u / N with independent signs ε_u = ±1 over the swap units u and
D_u the unit's summed difference. Hoeffding's inequality for Rademacher sums bounds the
*exact* permutation p-value: P(|T*| ≥ |T|) ≤ 2 exp(−(N T)² / (2 Σ D_u²)). When no relabelling
reached |T|, p = min(floor, bound) is still valid (for t below the floor, {p ≤ t} implies the
exact p is ≤ t; at or above it the event is unchanged), so a large accuracy change gets the
tiny p it deserves for free. This bound is not an approximation and needs no normality.

Batched relabellings. The masks are fair coins drawn eight to a random byte. The mean, and any
statistic of additive per-sample sums (``unit_sums``/``from_sums``, e.g.
:class:`offtarget.stats.Additive`, the calibration probe's binned statistics), is relabelled
through those sums (:class:`SumsRelabelling`): a batch of relabellings is one matrix product, and
units with identical contributions are drawn as one binomial count, so 0/1 outcomes or
confidences on a grid cost the same for 100 samples or 100 000. A statistic may also supply its
own batched relabelling (``relabelling(ref, tuned, unit)``, e.g. AUROC by cumulative sums along
one sort); anything else is recomputed on each relabelled data set.

Too small to test: :attr:`PermutationTest.p_floor`, see :mod:`offtarget.stats.power`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = (rng.random((10, 8)) < 0.5).astype(float)
    >>> permutation_test(ref, ref.copy()).p_value   # identical: T = 0, every relabelling ties
    1.0
    >>> tuned = np.ones((10, 8))
    >>> permutation_test(ref, tuned).p_value < 1e-6  # all correct vs about half: the bound applies
    True
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
from offtarget.stats.coins import (
    TABLE_COLUMNS,
    binomial_halves,
    byte_tables,
    coin_flips,
    table_shifts,
    word_masks,
)
from offtarget.stats.power import p_floor

Unit = Literal["sample", "problem"]

METHOD = "permutation-v5"
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
_GROUPED_BELOW = 4
"""Sums relabelling draws binomial counts per distinct difference row when there are at most
1/4 as many distinct rows as units (one binomial costs a few coin flips) and the sums are few
enough for byte tables (:data:`~offtarget.stats.coins.TABLE_COLUMNS`); with more sums, from
:data:`_GROUPED_BELOW_WIDE`."""
_GROUPED_BELOW_WIDE = 2
"""The same for more sums than byte tables take (binned calibration statistics: 21–31), where the
alternative is a matrix product over every unit: measured on one core, 5,866 units with 2,933
distinct rows, 21 sums: 10.0 µs per relabelling by coins, 7.9 by counts; 31 sums: 14.5 vs 9.8."""
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


class SumsRelabelling:
    """T* for many relabellings at once when the statistic is a function of additive sums.

    With ``c_ref`` and ``c_tun`` each unit's contribution to the sums (units × K), swapping the
    set of units m moves Δ_m = Σ_{u∈m} (c_ref,u − c_tun,u) from one checkpoint to the other, so
    T* = f(S_tun + Δ_m) − f(S_ref − Δ_m): one matrix product for a batch of relabellings.
    Units whose two rows are equal change nothing and are dropped. Units with the same
    difference row are interchangeable: the number of them swapped is Binomial(n_g, ½), so when
    the rows take few distinct values (0/1 outcomes, confidences on a grid) the batch draws one
    binomial count per distinct row instead of one coin per unit. Same distribution of T*,
    exactly; the cost no longer grows with the number of samples.
    """

    def __init__(self, from_sums: Callable[[np.ndarray], np.ndarray], c_ref: np.ndarray, c_tun: np.ndarray):
        self.from_sums = from_sums
        self.s_ref, self.s_tun = c_ref.sum(0), c_tun.sum(0)
        delta = c_ref - c_tun
        delta = delta[np.any(delta != 0, axis=1)]
        rows, counts = few_distinct(delta)
        grouped = counts is not None
        self.rows = rows if grouped else delta
        self.counts = counts if grouped else None
        self.masks, owner = word_masks(counts) if grouped else (None, None)
        self.word_rows = self.rows[owner] if grouped else None
        self.tables = None if grouped else byte_tables(self.rows)

    def __call__(self, rng: np.random.Generator, b: int) -> np.ndarray:
        g, k = self.rows.shape
        shift = np.zeros((b, k))
        if g and self.masks is not None:
            step = max(1, _CHUNK_ELEMENTS // self.masks.size)
            for s in range(0, b, step):
                n = min(step, b - s)
                shift[s : s + n] = binomial_halves(rng, n, self.masks).astype(float) @ self.word_rows
        elif g and self.tables is not None:
            shift = table_shifts(self.tables, rng, b)
        elif g:
            step = max(1, _CHUNK_ELEMENTS // (4 * g))
            for s in range(0, b, step):
                n = min(step, b - s)
                shift[s : s + n] = coin_flips(rng, n, g).astype(float) @ self.rows
        return self.from_sums(self.s_tun + shift) - self.from_sums(self.s_ref - shift)


def few_distinct(delta: np.ndarray, below: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(distinct rows, their counts) when ``delta`` has at most 1 / ``below`` as many distinct rows
    as rows, else (``delta``, None); ``below`` defaults to :data:`_GROUPED_BELOW` (with more sums
    than byte tables take, :data:`_GROUPED_BELOW_WIDE`). Continuous values without repeats would pay
    for an exact lexicographic ``unique`` ten times what is checked first: the distinct values of
    one fixed random projection of the rows, never more than the distinct rows (equal rows project
    equally: the same products summed the same way)."""
    if not len(delta):
        return delta, None
    if below is None:
        below = _GROUPED_BELOW if delta.shape[1] <= TABLE_COLUMNS else _GROUPED_BELOW_WIDE
    direction = np.random.default_rng(0x9e37).standard_normal(delta.shape[1])
    if np.unique((delta * direction).sum(1)).size * below > delta.shape[0]:
        return delta, None
    rows, counts = np.unique(delta, axis=0, return_counts=True)
    return (rows, counts) if rows.shape[0] * below <= delta.shape[0] else (delta, None)


def _per_unit(c: np.ndarray, n_problems: int, unit: Unit) -> np.ndarray:
    """Rows of per-entry sums (problem-major) summed to the swap unit: a problem or a sample."""
    return c.reshape(n_problems, -1, c.shape[-1]).sum(1) if unit == "problem" else c


def _count(t_star: np.ndarray, t: float) -> tuple[int, int]:
    """(#{|T*| ≥ |T|}, #finite T*), ties within :data:`_TIE_RTOL` counted as reaching |T|."""
    ok = np.isfinite(t_star)
    thr = abs(t) * (1 - _TIE_RTOL) - 1e-15
    return int(np.sum(np.abs(t_star[ok]) >= thr)), int(ok.sum())


def _exceeds(t_star: np.ndarray, t: float) -> np.ndarray:
    """Per finite T*, in draw order: whether it reaches |T| (ties as in :func:`_count`)."""
    t_star = t_star[np.isfinite(t_star)]
    return np.abs(t_star) >= abs(t) * (1 - _TIE_RTOL) - 1e-15


def _stage(draw, rng, budget: int, t: float, hits_to_stop: int | None, settled=None):
    """One Monte Carlo stage of at most ``budget`` relabellings, drawn in growing chunks.

    ``draw(rng, b)`` returns T* on b fresh random relabellings. Sequential stopping (Besag &
    Clifford 1991, "Sequential Monte Carlo p-values"): once ``hits_to_stop`` relabellings have
    reached |T| after L finite ones, p = h / L is a valid p-value and further draws could only
    refine a p that is already far from any decision (p ≥ h / budget). Otherwise all ``budget``
    are drawn, or fewer once ``settled(hits, finite)`` says more cannot change the decision
    (:mod:`offtarget.stats.refinement`), and p = (1 + hits) / (1 + finite). Returns (p, hits, finite, dropped).
    """
    hits = ok = drawn = 0
    chunk = 64 if hits_to_stop else budget
    while drawn < budget:
        b = min(chunk, budget - drawn)
        t_star = draw(rng, b)
        drawn += b
        exceed = _exceeds(t_star, t)
        if hits_to_stop and hits + int(exceed.sum()) >= hits_to_stop:
            at = int(np.flatnonzero(np.cumsum(exceed) + hits >= hits_to_stop)[0])
            return hits_to_stop / (ok + at + 1), hits_to_stop, ok + at + 1, drawn - ok - exceed.size
        hits += int(exceed.sum())
        ok += exceed.size
        chunk = min(chunk * 2, 4096)
        if settled is not None and ok and settled(hits, ok):
            break
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
    relabellings (for simulations); by default two stages, :data:`STAGE1` then :data:`STAGE2`
    (a report refines with :mod:`offtarget.stats.refinement` instead, sized to its Holm family).
    """
    done, run = prepare(reference, tuned, statistic, unit=unit, vectorized=vectorized, seed=seed,
                        stop_after_hits=stop_after_hits)
    if done is not None:
        return done
    stages = [n_permutations] if n_permutations else [STAGE1, STAGE2]
    for i, b in enumerate(stages):
        p, hits, ok, dropped = run.stage(b)
        if not refine or i + 1 == len(stages) or not p <= REFINE_BELOW:
            break
    return run.finish(p, hits, ok, dropped)


@dataclass
class Run:
    """A Monte Carlo permutation test under way: its relabellings, random stream and observed T."""

    draw: Callable[[np.random.Generator, int], np.ndarray]
    rng: np.random.Generator
    t: float
    unit: str
    floor: float
    stop_after_hits: int | None
    bound: Callable[[], float] | None
    """The Hoeffding bound on the exact p (means only)."""

    def stage(self, budget: int, settled: Callable[[int, int], bool] | None = None) -> tuple[float, int, int, int]:
        """One stage of at most ``budget`` fresh relabellings: (p, hits, finite, dropped)."""
        return _stage(self.draw, self.rng, budget, self.t, self.stop_after_hits, settled)

    def finish(self, p: float, hits: int, ok: int, dropped: int) -> PermutationTest:
        """The result of a stage, with the tail bound where no relabelling reached |T|."""
        bound = False
        if self.bound is not None and hits == 0 and ok:
            h = self.bound()
            if h < p:
                p, bound = h, True
        return _result(p, self.t, ok, self.unit, False, self.floor, dropped, bound)


def prepare(reference, tuned, statistic=None, *, unit: Unit = "sample", vectorized: bool = False, seed: int = 0,
            stop_after_hits: int | None = STOP_AFTER_HITS) -> tuple[PermutationTest | None, Run | None]:
    """(the result, None) when no Monte Carlo is needed (no difference, undefined, enumerated);
    else (None, the :class:`Run` that draws relabellings). Arguments as :func:`permutation_test`."""
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
    floor = p_floor(units)
    if n_problems == 0:
        return PermutationTest(None, None, 0, unit, False, 1.0, reason="no problems"), None
    t = _point(statistic, tun, vectorized) - _point(statistic, ref, vectorized)
    if not math.isfinite(t):
        return PermutationTest(None, None, 0, unit, False, floor,
                               reason="statistic undefined on the full data for at least one checkpoint"), None
    if t == 0.0:
        return PermutationTest(1.0, 0.0, 0, unit, False, floor,
                               reason="no difference: every relabelling reaches it"), None
    shape = (n_problems,) if unit == "problem" else ref[0].shape[:2]
    if unit == "problem" and n_problems <= EXACT_MAX_PROBLEMS:
        masks = np.array(list(product((False, True), repeat=n_problems)), dtype=bool)
        hits, ok = _count(_relabelled(statistic, ref, tun, masks, vectorized), t)
        p = hits / ok if ok else math.nan
        return _result(p, t, ok, unit, True, floor, masks.shape[0] - ok), None
    rng = np.random.default_rng([seed, 0x5eed])
    draw = _relabelling(statistic, ref, tun, unit, vectorized, is_mean, shape)
    bound = (lambda: _hoeffding(ref, tun, unit, t)) if is_mean else None
    return None, Run(draw, rng, t, unit, floor, stop_after_hits, bound)


def _relabelling(statistic, ref, tun, unit: Unit, vectorized: bool, is_mean: bool, shape: tuple):
    """``draw(rng, b)``: T* on b random relabellings, by the cheapest exact route the statistic allows.

    The mean and statistics with ``unit_sums``/``from_sums`` go through :class:`SumsRelabelling`;
    a statistic with a ``relabelling(ref_arrays, tuned_arrays, unit)`` method may supply its
    own batched T* (``None`` when it cannot); anything else is recomputed on relabelled arrays.
    """
    n_problems = ref[0].shape[0]
    if is_mean:
        c_ref, c_tun = (_per_unit(a.reshape(n_problems, *shape[1:], -1).sum(-1).reshape(-1, 1), n_problems, unit)
                        for a in (ref[0], tun[0]))
        n = ref[0].size
        return SumsRelabelling(lambda s: s[:, 0] / n, c_ref, c_tun)
    if hasattr(statistic, "unit_sums"):
        c_ref, c_tun = (_per_unit(statistic.unit_sums(*arrays), n_problems, unit) for arrays in (ref, tun))
        return SumsRelabelling(statistic.from_sums, c_ref, c_tun)
    custom = getattr(statistic, "relabelling", None)
    if custom is not None and (draw := custom(ref, tun, unit)) is not None:
        return draw
    n_units = int(np.prod(shape))

    def generic(rng, b):
        return _relabelled(statistic, ref, tun, coin_flips(rng, b, n_units).reshape(b, *shape), vectorized)

    return generic


def _result(p, t, ok, unit, exact, floor, dropped, bound=False) -> PermutationTest:
    if not math.isfinite(p):
        return PermutationTest(None, t, 0, unit, exact, floor, reason="statistic undefined on every relabelling")
    why = f"statistic undefined on {dropped} relabelling(s), dropped" if dropped else None
    return PermutationTest(float(min(1.0, p)), float(t), int(ok), unit, exact, floor, bound, why)
