"""The reliability probe's relabellings by binomial counts: the same distribution of T* as a coin per draw.

Checked against the exact permutation distribution (all 2^9 relabellings of a 3 × 3 case, each
data set rebuilt and its statistic recomputed), and through the permutation test's p-values
against the statistic recomputed on every relabelled data set.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from scipy.stats import chisquare

from offtarget.probes import reliability
from offtarget.probes.reliability import icc_single, omega_parallel
from offtarget.stats import coins
from offtarget.stats.permutation import permutation_test

DRAWS = 20_000

CASES = {
    # 0/1 correctness: discordant draws of both signs within a problem, one always-equal pair
    "correctness": ([[0, 0, 0], [1, 0, 0], [1, 1, 0]], [[1, 1, 1], [0, 1, 0], [1, 0, 1]]),
    # a score on a grid: equal differences with different moves of the sum of squares
    "grid": ([[0, .5, 1], [.5, 0, 0], [1, .5, 0]], [[.5, 1, 1], [0, .5, .5], [.5, 0, .5]]),
}


def _exact(stat, ref, tuned):
    """Support and probabilities of T* over all 2^(problems × draws) relabellings, recomputed
    (NaN, where omega's MSB is 0, is a value of its own)."""
    values = []
    for mask in product((False, True), repeat=ref.size):
        m = np.array(mask).reshape(ref.shape)
        r, t = np.where(m, tuned, ref), np.where(m, ref, tuned)
        values.append(stat(t[None])[0] - stat(r[None])[0])
    support, counts = np.unique(np.nan_to_num(np.round(values, 9), nan=np.inf), return_counts=True)
    return support, counts / counts.sum()


def _routes(stat, ref, tuned):
    fn = reliability._icc_from if stat is icc_single else reliability._omega_from
    rc, tc = reliability._centred(ref, tuned)
    return (reliability._by_coins(ref, tuned, fn),
            reliability._by_counts(rc, tc, reliability._swap_groups(rc, tc, force=True), fn))


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("stat", [icc_single, omega_parallel], ids=["icc", "omega"])
def test_both_routes_draw_the_exact_permutation_distribution(case, stat):
    ref, tuned = (np.array(a, dtype=float) for a in CASES[case])
    support, prob = _exact(stat, ref, tuned)
    assert support.size >= 8
    for seed, draw in enumerate(_routes(stat, ref, tuned)):
        t_star = np.nan_to_num(draw(np.random.default_rng(seed), DRAWS), nan=np.inf)
        at = np.searchsorted(support, t_star - 1e-9)
        assert np.allclose(support[np.minimum(at, support.size - 1)], t_star, rtol=0, atol=1e-9,
                           equal_nan=True)  # on the support
        observed = np.bincount(at, minlength=support.size)
        # a fixed seed: passes when the law is right; a wrong count law (e.g. Binomial(c, ⅓), a sign
        # slip in the offsets) moves thousands of draws and gives p ≪ 1e-6
        assert chisquare(observed, prob * DRAWS).pvalue > 1e-4


def test_counts_are_used_for_correctness_and_coins_for_continuous_scores():
    rng = np.random.default_rng(0)
    rate = rng.uniform(0, 1, (30, 1))
    ref, tuned = ((rng.random((30, 16)) < rate).astype(float) for _ in range(2))
    assert reliability._swap_groups(*reliability._centred(ref, tuned)) is not None
    assert reliability._swap_groups(*reliability._centred(ref * rng.random((30, 16)), tuned)) is None


@pytest.mark.parametrize("stat", [icc_single, omega_parallel], ids=["icc", "omega"])
def test_p_values_match_recomputing_every_relabelled_data_set(stat):
    """Same p within Monte Carlo error as the statistic without its batched relabelling (each
    relabelled data set rebuilt and reduced), on fixed seeds: 0/1 draws, 30 problems × 16."""
    rng = np.random.default_rng(7)
    rate = rng.beta(0.7, 0.7, (30, 1))
    ref = (rng.random((30, 16)) < rate).astype(float)
    tuned = (rng.random((30, 16)) < np.clip(rate + 0.15 * (rate > 0.5), 0, 1)).astype(float)
    b = 4999
    fast = permutation_test(ref, tuned, stat, vectorized=True, seed=1, n_permutations=b, stop_after_hits=None)
    slow = permutation_test(ref, tuned, lambda x: stat(x), vectorized=True, seed=2, n_permutations=b,
                            stop_after_hits=None)
    assert fast.statistic == pytest.approx(slow.statistic, abs=1e-12)
    assert 0.005 < slow.p_value < 0.5   # a p with Monte Carlo error worth comparing
    se = np.sqrt(2 * slow.p_value * (1 - slow.p_value) / b)
    assert abs(fast.p_value - slow.p_value) < 4 * se


def test_large_groups_split_into_words_and_counts_are_binomial_halves():
    """A problem with 150 discordant draws is three words (64 + 64 + 22 bits); every word width
    gives Binomial(c, ½) counts: mean c/2, variance c/4."""
    ref = np.zeros((2, 150))
    tuned = np.vstack([np.ones(150), np.r_[np.ones(9), np.zeros(141)]])
    groups = reliability._swap_groups(*reliability._centred(ref, tuned))
    assert groups.problem.tolist() == [0, 0, 0, 1] and groups.count.tolist() == [64, 64, 22, 9]
    for count in ([3, 8], [9, 16], [17, 30], [33, 64]):
        c = np.array(count)
        x = coins.binomial_halves(np.random.default_rng(0), 20_000, coins.word_masks(c)[0])
        assert x.max() <= c.max()
        assert np.all(np.abs(x.mean(0) - c / 2) < 4 * np.sqrt(c / 4 / 20_000))
        np.testing.assert_allclose(x.var(0), c / 4, rtol=0.06)
