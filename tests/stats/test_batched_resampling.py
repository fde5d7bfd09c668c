"""Batched relabellings and resamples give the p-values and intervals of recomputing each data set.

Permutation p-values: on data small enough to enumerate every relabelling (2^units), the exact
p is computed by recomputing the statistic on each relabelled data set; the batched Monte Carlo
paths (sums with binomial counts, sums with coin flips, AUROC by cumulative sums) must agree
with it within Monte Carlo error on fixed seeds. Bootstrap replicates from problem counts must
equal the statistic on the gathered resamples.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from scipy.stats import binom

from offtarget.metrics import calibration as cal
from offtarget.metrics.calibration_resampling import BatchedAuroc, BinSums, Coverage
from offtarget.stats import permutation_test
from offtarget.stats.bootstrap import ProblemLayout, batched_mean, draw_problems, replicates
from offtarget.stats.permutation import SumsRelabelling, _relabelled

DRAWS = 20_000


def exact_p(stat, ref, tuned) -> float:
    """#{|T*| ≥ |T|} / 2^units over every sample-level relabelling, each statistic recomputed."""
    shape = ref[0].shape
    masks = np.array(list(product((False, True), repeat=int(np.prod(shape)))), dtype=bool).reshape(-1, *shape)
    t_star = _relabelled(stat, ref, tuned, masks, vectorized=True)
    t = t_star[0]  # the all-False mask is the observed labelling
    ok = np.isfinite(t_star)
    return float(np.mean(np.abs(t_star[ok]) >= abs(t) * (1 - 1e-9) - 1e-15))


def within_mc(p_mc: float, p_exact: float, n: int = DRAWS) -> bool:
    """|p_mc − p| inside the binomial 99.99% band of n draws (plus the +1 of the estimator)."""
    lo, hi = binom.ppf([5e-5, 1 - 5e-5], n, p_exact) / n
    return lo - 2 / n <= p_mc <= hi + 2 / n


def grid_arms(rng, problems=3, samples=4, shift=0.25):
    """Confidence on a 0.25 grid (few distinct values) with some missing; correctness 0/1."""
    arms = []
    for d in (0.0, shift):
        q = np.round(np.clip(rng.random((problems, samples)) * 0.8 + d, 0, 1) * 4) / 4
        q[rng.random((problems, samples)) < 0.15] = np.nan
        arms.append((q, (rng.random((problems, samples)) < 0.6 - d).astype(float)))
    return arms


def continuous_arms(rng, problems=3, samples=4, shift=0.2):
    arms = []
    for d in (0.0, shift):
        q = np.clip(rng.random((problems, samples)) * 0.8 + d, 0, 1)
        q[rng.random((problems, samples)) < 0.15] = np.nan
        arms.append((q, (rng.random((problems, samples)) < 0.6 - d).astype(float)))
    return arms


STATS = {
    "ece": BinSums("ece", 10, cal.ece),
    "reliability": BinSums("reliability", 10, cal.murphy_reliability),
    "resolution": BinSums("resolution", 10, cal.murphy_resolution),
    "brier": BinSums("brier", 10, cal.brier),
    "overconfidence": BinSums("overconfidence", 10, cal.overconfidence),
    "auroc": BatchedAuroc(),
}


@pytest.mark.parametrize("name", list(STATS))
@pytest.mark.parametrize("arms", [grid_arms, continuous_arms])
def test_batched_permutation_p_matches_exact_enumeration(name, arms):
    ref, tuned = arms(np.random.default_rng(4))
    stat = STATS[name]
    exact = exact_p(stat, ref, tuned)
    r = permutation_test(ref, tuned, stat, vectorized=True, seed=1, n_permutations=DRAWS, stop_after_hits=None)
    assert r.p_value is not None and within_mc(r.p_value, exact), (name, r.p_value, exact)


def test_mean_and_coverage_match_exact_enumeration():
    rng = np.random.default_rng(9)
    ref, tuned = (rng.random((3, 4)) < 0.5).astype(float), (rng.random((3, 4)) < 0.8).astype(float)
    exact = exact_p(batched_mean, [ref], [tuned])
    r = permutation_test(ref, tuned, seed=3, n_permutations=DRAWS, stop_after_hits=None)
    assert within_mc(r.p_value, exact) or (r.bound and r.p_value >= exact)
    (q_r, _), (q_t, _) = grid_arms(rng)
    e_r, e_t = (rng.random((3, 4)) < 0.8).astype(float), (rng.random((3, 4)) < 0.8).astype(float)
    exact = exact_p(Coverage(), [q_r, e_r], [q_t, e_t])
    r = permutation_test((q_r, e_r), (q_t, e_t), Coverage(), vectorized=True, seed=3, n_permutations=DRAWS,
                         stop_after_hits=None)
    assert within_mc(r.p_value, exact)


def test_an_additive_f1_matches_exact_enumeration_and_its_gathered_bootstrap():
    from offtarget.stats import Additive
    from offtarget.stats.additive import ratio

    f1 = Additive(lambda a, s: (a * s, a * (1 - s), (1 - a) * s),
                  lambda t: ratio(2 * t[:, 0], 2 * t[:, 0] + t[:, 1] + t[:, 2]))
    rng = np.random.default_rng(12)
    should = np.repeat((rng.random(3) < 0.5).astype(float)[:, None], 4, axis=1)
    ref, tuned = (rng.random((3, 4)) < 0.3).astype(float), (rng.random((3, 4)) < 0.7).astype(float)
    exact = exact_p(f1, [ref, should], [tuned, should])
    r = permutation_test((ref, should), (tuned, should), f1, vectorized=True, seed=2, n_permutations=DRAWS,
                         stop_after_hits=None)
    assert within_mc(r.p_value, exact)
    draws = draw_problems(3, 200, seed=1)
    np.testing.assert_allclose(replicates(f1, [ref, should], ProblemLayout(3), draws, vectorized=True),
                               f1(ref[draws], should[draws]), rtol=1e-12)


def test_sums_relabelling_is_the_statistic_on_the_relabelled_data():
    # a fixed relabelling through the sums equals re-binning the relabelled arrays
    (q_r, y_r), (q_t, y_t) = continuous_arms(np.random.default_rng(2), problems=6, samples=5)
    m = np.random.default_rng(0).random((7, 6, 5)) < 0.5
    for stat in list(STATS.values())[:5]:
        c_ref, c_tun = stat.unit_sums(q_r, y_r), stat.unit_sums(q_t, y_t)
        delta = m.reshape(7, -1).astype(float) @ (c_ref - c_tun)
        got = stat.from_sums(c_tun.sum(0) + delta) - stat.from_sums(c_ref.sum(0) - delta)
        want = _relabelled(stat, [q_r, y_r], [q_t, y_t], m, vectorized=True)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("unit", ["sample", "problem"])
def test_auroc_relabelling_is_the_statistic_on_the_relabelled_data(unit):
    # more than 64 distinct confidences (the cumulative-sum route), with ties and missing ones:
    # the same coin flips give T* equal to ranking each relabelled data set afresh
    from offtarget.stats.permutation import coin_flips

    rng = np.random.default_rng(8)
    q_r, q_t = (np.round(rng.random((30, 6)), 2) for _ in range(2))
    y_r, y_t = ((rng.random((30, 6)) < q + s).astype(float) for q, s in ((q_r, 0.0), (q_t, 0.2)))
    q_r[0, :3] = np.nan
    stat = BatchedAuroc()
    got = stat.relabelling((q_r, y_r), (q_t, y_t), unit)(np.random.default_rng(4), 300)
    shape = (30,) if unit == "problem" else (30, 6)
    m = coin_flips(np.random.default_rng(4), 300, int(np.prod(shape))).reshape(300, *shape)
    want = _relabelled(cal.auroc, [q_r, y_r], [q_t, y_t], m, vectorized=True)
    assert len(np.unique(np.concatenate([q_r.ravel(), q_t.ravel()]))) > 65
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_binomial_counts_stand_in_for_interchangeable_units():
    # 0/1 data: two distinct difference rows, so counts are drawn per row, not per unit
    rng = np.random.default_rng(6)
    ref, tuned = (rng.random((40, 16)) < 0.5).astype(float), (rng.random((40, 16)) < 0.5).astype(float)
    draw = SumsRelabelling(lambda s: s[:, 0], ref.reshape(-1, 1), tuned.reshape(-1, 1))
    assert draw.counts is not None and draw.rows.shape[0] == 2
    t_star = draw(np.random.default_rng(0), 40_000)
    # T* = Σ ε_u D_u with independent signs: mean 0, variance Σ D_u²
    d = (tuned - ref).reshape(-1)
    assert abs(t_star.mean()) < 5 * np.sqrt((d**2).sum() / 40_000)
    assert np.var(t_star) == pytest.approx((d**2).sum(), rel=0.05)


@pytest.mark.parametrize("stat", [*list(STATS.values()), Coverage(), batched_mean])
def test_bootstrap_replicates_from_problem_counts_equal_gathered_resamples(stat):
    (q, y), _ = continuous_arms(np.random.default_rng(8), problems=12, samples=6)
    if stat is batched_mean:
        arrays = [y]
    elif isinstance(stat, Coverage):
        arrays = [q, (np.random.default_rng(1).random(q.shape) < 0.9).astype(float)]
    else:
        arrays = [q, y]
    draws = draw_problems(12, 300, seed=5)
    got = replicates(stat, arrays, ProblemLayout(12), draws, vectorized=True)
    want = np.asarray(stat(*[a[draws] for a in arrays]), dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_sums_relabelling_of_identical_contributions_moves_nothing():
    draw = SumsRelabelling(lambda s: s[:, 0] / s[:, 1], np.ones((6, 2)), np.ones((6, 2)))
    assert draw(np.random.default_rng(0), 5).tolist() == [0.0] * 5


def repeated_arms(rng, problems=3, samples=4):
    """Each problem's sample pairs repeat (a model repeating its completions): 2 distinct pairs per
    problem, continuous confidences, one pair without a confidence."""
    q_r, q_t = rng.random((problems, 2)), np.clip(rng.random((problems, 2)) + 0.2, 0, 1)
    y_r, y_t = (rng.random((problems, 2)) < 0.6).astype(float), (rng.random((problems, 2)) < 0.4).astype(float)
    q_r[0, 1] = np.nan
    pick = np.arange(samples) % 2
    return [(q_r[:, pick], y_r[:, pick]), (q_t[:, pick], y_t[:, pick])]


def test_repeated_pairs_relabelling_is_the_statistic_on_the_relabelled_data():
    """Swapping k of a group's interchangeable pairs gives T* equal to ranking that data set afresh."""
    from offtarget.metrics.calibration_resampling import RepeatedPairs

    rng = np.random.default_rng(3)
    (q_r, y_r), (q_t, y_t) = repeated_arms(rng, problems=40, samples=8)
    for a in (q_r, y_r, q_t, y_t):  # 20 problems alike: groups of 80 pairs (two random words each) and ties
        a[1:20] = a[20]
    route = RepeatedPairs.of(q_r, y_r, q_t, y_t)
    assert route is not None
    pairs = np.column_stack([np.where(np.isfinite(q_r), q_r, -1.0).ravel(), y_r.ravel(),
                             np.where(np.isfinite(q_t), q_t, -1.0).ravel(), y_t.ravel()])
    rows, inverse, counts = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
    assert len(rows) * 4 <= len(pairs) and counts.max() > 64  # groups span problems and random words
    k = rng.integers(0, counts + 1, size=(25, len(rows)))
    masks = np.zeros((25, pairs.shape[0]), dtype=bool)
    for r in range(25):  # swap the first k[r, g] pairs of each group g
        for g in range(len(rows)):
            masks[r, np.flatnonzero(inverse.ravel() == g)[: k[r, g]]] = True
    want = _relabelled(cal.auroc, [q_r, y_r], [q_t, y_t], masks.reshape(25, *q_r.shape), vectorized=True)
    np.testing.assert_allclose(route.t_star(k), want, rtol=1e-12, atol=1e-12)
    t_star = route(np.random.default_rng(0), 4000)  # counts of several words summed per group
    assert np.isfinite(t_star).all() and abs(t_star.mean()) < 5 * t_star.std() / np.sqrt(4000)  # symmetric about 0


def test_repeated_pairs_p_matches_exact_enumeration():
    from offtarget.metrics.calibration_resampling import RepeatedPairs

    class Repeated:  # AUROC whose relabellings always take the repeated-pairs route
        def __call__(self, q, y):
            return cal.auroc(q, y)

        def relabelling(self, ref, tuned, unit):
            return RepeatedPairs.of(*ref, *tuned)

    ref, tuned = repeated_arms(np.random.default_rng(22), problems=2, samples=8)  # 16 pairs in 4 groups, p ≈ 0.055
    assert RepeatedPairs.of(*ref, *tuned) is not None
    exact = exact_p(cal.auroc, ref, tuned)
    r = permutation_test(ref, tuned, Repeated(), vectorized=True, seed=1, n_permutations=DRAWS, stop_after_hits=None)
    assert r.p_value is not None and within_mc(r.p_value, exact), (r.p_value, exact)
