"""The paired permutation test: hand-worked p-values, its size at alpha in 5-, 10- and 50-problem
groups (simulated null data sets), power on a real difference, and the old z-test's failure."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from offtarget.probes.base import normal_p
from offtarget.probes.calibration import ece as vector_ece
from offtarget.stats import paired_bootstrap, permutation_test
from offtarget.stats.bootstrap import batched_mean

ALPHA = 0.05
N_NULL = 300


def tolerance(n: int, alpha: float = ALPHA) -> float:
    """Largest rejection rate still consistent with size <= alpha: the binomial 99.9% upper quantile."""
    return binom.ppf(0.999, n, alpha) / n


def null_data(rng, problems: int, samples: int):
    """Binary correctness, per-problem rates spread over (0, 1), both checkpoints the same model."""
    rates = rng.beta(0.6, 0.6, problems)
    def draw():
        return (rng.random((problems, samples)) < rates[:, None]).astype(float)

    return draw(), draw()


def test_exact_enumeration_hand_value():
    # 3 problems, tuned +1 on each: of the 8 sign patterns only all-plus and all-minus reach |T| = 1
    r = permutation_test(np.zeros(3), np.ones(3), unit="problem")
    assert r.exact and r.n_permutations == 8
    assert r.p_value == pytest.approx(2 / 8)
    assert r.p_floor == pytest.approx(2 / 8)
    assert r.test == "permutation_problem_exact"


def test_exact_enumeration_with_unequal_differences():
    # d = (3, 1, 1): |T*| = |±3 ± 1 ± 1| / 3 >= 5/3 only for (+,+,+) and (-,-,-): p = 2/8;
    # T of d = (3, -1, 1) is 1: |±3 ± 1 ± 1| >= 3 for all but (±3, ∓1, ∓1) patterns -> 6/8
    assert permutation_test(np.zeros(3), np.array([3.0, 1, 1]), unit="problem").p_value == pytest.approx(2 / 8)
    assert permutation_test(np.zeros(3), np.array([3.0, -1, 1]), unit="problem").p_value == pytest.approx(6 / 8)


def test_identical_data_gives_p_one():
    x = (np.random.default_rng(0).random((20, 8)) < 0.4).astype(float)
    assert permutation_test(x, x.copy()).p_value == 1.0


def test_monte_carlo_p_is_never_zero_and_the_bound_is_valid():
    rng = np.random.default_rng(3)
    ref = (rng.random((12, 8)) < 0.3).astype(float)
    tuned = np.ones((12, 8))
    r = permutation_test(ref, tuned, n_permutations=199, seed=1)
    assert 0 < r.p_value <= 1 / 200 and r.bound  # no relabelling reached |T|: Hoeffding
    # the bound is never below the exact p: enumerate a problem-level case and compare
    ref_p, tuned_p = rng.random(10), rng.random(10) + 0.6
    exact = permutation_test(ref_p, tuned_p, unit="problem").p_value
    d = tuned_p - ref_p
    hoeffding = 2 * np.exp(-(d.sum() ** 2) / (2 * (d**2).sum()))
    assert hoeffding >= exact


def test_two_stages_refine_small_p():
    rng = np.random.default_rng(5)
    rates = rng.uniform(0.2, 0.6, 30)
    ref = (rng.random((30, 8)) < rates[:, None]).astype(float)
    tuned = (rng.random((30, 8)) < rates[:, None] + 0.25).astype(float)
    # a non-mean statistic (no tail bound): the first stage's p <= 0.1 triggers 19 999 more
    r = permutation_test(ref, tuned, lambda a: a.reshape(a.shape[0], -1).mean(1) ** 2, vectorized=True, seed=2)
    assert r.n_permutations == 19_999 and r.p_value < 1e-3


def _size(stat, problems, samples_range, unit="sample", n=N_NULL, seed=0, permutations=199):
    rng = np.random.default_rng(seed)
    rejections = 0
    for i in range(n):
        ref, tuned = null_data(rng, problems, int(rng.integers(*samples_range)))
        if unit == "problem":
            ref, tuned = ref.mean(1), tuned.mean(1)
        r = permutation_test(ref, tuned, stat, unit=unit, vectorized=stat is not None, seed=i,
                             n_permutations=permutations)
        rejections += r.p_value <= ALPHA
    return rejections / n


@pytest.mark.parametrize("problems", [5, 10, 50])
def test_size_holds_at_alpha_for_accuracy(problems):
    assert _size(None, problems, (8, 17)) <= tolerance(N_NULL)


@pytest.mark.parametrize("problems", [5, 10, 50])
def test_size_holds_at_alpha_for_ece_on_pooled_samples(problems):
    rng = np.random.default_rng(problems)
    rejections = 0
    for i in range(N_NULL // 2):
        s = int(rng.integers(8, 17))
        rates = rng.beta(0.6, 0.6, problems)
        # verbalized confidence on a 0.1 grid, loosely related to the problem's rate
        arms = [(np.clip(np.round(rates[:, None] + rng.normal(0, 0.2, (problems, s)), 1), 0, 1),
                 (rng.random((problems, s)) < rates[:, None]).astype(float)) for _ in range(2)]
        r = permutation_test(arms[0], arms[1], vector_ece, vectorized=True, seed=i, n_permutations=199)
        rejections += r.p_value <= ALPHA
    assert rejections / (N_NULL // 2) <= tolerance(N_NULL // 2)


@pytest.mark.parametrize("problems", [10, 50])
def test_size_holds_at_alpha_for_per_problem_values(problems):
    # one value per problem (a pass@k, a distinct-n): whole problems swapped (sign flip)
    assert _size(batched_mean, problems, (8, 17), unit="problem") <= tolerance(N_NULL)


def test_power_detects_a_real_difference():
    rng = np.random.default_rng(11)
    detected = 0
    for i in range(50):
        rates = rng.uniform(0.2, 0.6, 10)
        ref = (rng.random((10, 16)) < rates[:, None]).astype(float)
        tuned = (rng.random((10, 16)) < rates[:, None] + 0.3).astype(float)
        detected += permutation_test(ref, tuned, seed=i, n_permutations=199).p_value <= ALPHA
    assert detected >= 45


def test_the_bootstrap_z_test_it_replaces_is_anti_conservative_on_5_problems():
    rng = np.random.default_rng(1)
    z = perm = 0
    for i in range(N_NULL):
        ref, tuned = null_data(rng, 5, 12)
        d = paired_bootstrap(ref, tuned, n_resamples=500, seed=i)
        z += normal_p(d.diff, d.low, d.high) < ALPHA
        perm += permutation_test(ref, tuned, seed=i, n_permutations=199).p_value <= ALPHA
    assert z / N_NULL > tolerance(N_NULL)  # the old flags' p: false alarms above alpha
    assert perm / N_NULL <= tolerance(N_NULL)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same shapes"):
        permutation_test(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="unit='problem'"):
        permutation_test(np.zeros(3), np.zeros(3), unit="sample")


def test_few_distinct_rows_decides_as_the_exact_unique():
    """The projection check only skips the exact unique where it could not group anyway."""
    from offtarget.stats.permutation import _GROUPED_BELOW, _GROUPED_BELOW_WIDE, few_distinct

    rng = np.random.default_rng(5)
    grid = rng.integers(-1, 2, size=(400, 3)).astype(float)  # 0/±1 rows: at most 27 distinct
    rows, counts = few_distinct(grid)
    want_rows, want_counts = np.unique(grid, axis=0, return_counts=True)
    assert np.array_equal(rows, want_rows) and np.array_equal(counts, want_counts)
    continuous = rng.random((400, 21))
    rows, counts = few_distinct(continuous)
    assert counts is None and rows is continuous
    for distinct in (99, 100, 101):  # 400 rows: grouped up to 100 distinct (1 / _GROUPED_BELOW of them)
        base = rng.random((distinct, 2))
        data = base[np.arange(400) % distinct]
        assert (few_distinct(data)[1] is not None) == (distinct * _GROUPED_BELOW <= 400)
    for distinct in (199, 200, 201):  # 21 sums (no byte tables): grouped up to half as many distinct rows
        base = rng.random((distinct, 21))
        data = base[np.arange(400) % distinct]
        assert (few_distinct(data)[1] is not None) == (distinct * _GROUPED_BELOW_WIDE <= 400)
