"""Paired bootstrap and McNemar: identical checkpoints, scipy's binomtest, pairing, strict JSON."""

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from offtarget.metrics.calibration import ece
from offtarget.stats import (
    PairedDiff,
    bootstrap_mean,
    flag,
    mcnemar,
    paired_bootstrap,
)
from offtarget.stats.paired import bootstrap_p_value, mcnemar_p_value


def outcomes(b, c, both_right=3, both_wrong=2):
    """Per-problem 0/1 outcomes with b problems ref-only right and c tuned-only right."""
    ref = [1] * b + [0] * c + [1] * both_right + [0] * both_wrong
    tuned = [0] * b + [1] * c + [1] * both_right + [0] * both_wrong
    return np.array(ref), np.array(tuned)


# ---------------------------------------------------------------------------------------------
# A checkpoint against itself flags nothing


@pytest.mark.parametrize("shape", [(50,), (50, 8)])
def test_identical_checkpoints_bootstrap(shape):
    x = np.random.default_rng(0).integers(0, 2, size=shape)
    d = paired_bootstrap(x, x.copy(), metric="accuracy", n_resamples=200)
    assert d.diff == 0.0 and d.low == 0.0 and d.high == 0.0
    assert d.p_value == 1.0
    assert flag(d.low, d.high, d.p_value) == "none"


def test_identical_checkpoints_ece_with_clusters():
    rng = np.random.default_rng(1)
    clusters = np.repeat(np.arange(25), 4)
    conf, correct = rng.uniform(size=100), rng.integers(0, 2, size=100)
    d = paired_bootstrap(
        (conf, correct),
        (conf, correct),
        lambda q, y: float(ece(q[None], y[None])[0]),
        metric="ece",
        clusters=clusters,
        n_resamples=100,
    )
    assert (d.diff, d.low, d.high, d.p_value, d.n) == (0.0, 0.0, 0.0, 1.0, 25)


@pytest.mark.parametrize("mid_p", [False, True])
def test_identical_checkpoints_mcnemar(mid_p):
    ref, _ = outcomes(0, 0)
    d = mcnemar(ref, ref.copy(), mid_p=mid_p, n_resamples=100)
    assert (d.diff, d.low, d.high, d.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert d.test == ("mcnemar_midp" if mid_p else "mcnemar_exact")


# ---------------------------------------------------------------------------------------------
# McNemar


@pytest.mark.parametrize(("b", "c"), [(0, 1), (1, 5), (3, 3), (10, 2), (0, 12), (7, 20), (40, 25)])
def test_mcnemar_exact_matches_scipy_binomtest(b, c):
    want = binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert mcnemar_p_value(b, c) == pytest.approx(want, rel=1e-12)
    ref, tuned = outcomes(b, c)
    d = mcnemar(ref, tuned, n_resamples=100)
    assert d.p_value == pytest.approx(want, rel=1e-12)
    assert d.diff == pytest.approx((c - b) / ref.size)  # accuracy difference tuned - reference


def test_mcnemar_hand_values():
    # b=1, c=5, m=6: P(X<=1) = (1 + 6)/64 ; exact p = 2 * 7/64 = 0.21875
    # mid-p = 2 P(X<=1) - P(X=1) = 14/64 - 6/64 = 0.125
    assert mcnemar_p_value(1, 5) == pytest.approx(0.21875, rel=1e-12)
    assert mcnemar_p_value(1, 5, mid_p=True) == pytest.approx(0.125, rel=1e-12)
    # b=0, c=4: exact 2 * (1/16) = 0.125 ; mid-p 2/16 - 1/16 = 0.0625
    assert mcnemar_p_value(0, 4) == pytest.approx(0.125, rel=1e-12)
    assert mcnemar_p_value(0, 4, mid_p=True) == pytest.approx(0.0625, rel=1e-12)
    # b = c: exact is capped at 1 and mid-p is exactly 1 by symmetry
    assert mcnemar_p_value(4, 4) == 1.0 and mcnemar_p_value(4, 4, mid_p=True) == pytest.approx(1.0)
    assert mcnemar_p_value(0, 0) == 1.0


def test_mcnemar_rejects_several_samples_per_problem():
    with pytest.raises(ValueError, match="paired_bootstrap"):
        mcnemar(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError):
        mcnemar([1, 0, 1], [1, 0])
    with pytest.raises(ValueError):
        mcnemar([1, 0, 2], [1, 0, 1])


# ---------------------------------------------------------------------------------------------
# Paired bootstrap


def test_sure_improvement_has_smallest_possible_p():
    ref, tuned = np.zeros(50), np.ones(50)
    d = paired_bootstrap(ref, tuned, n_resamples=999)
    assert (d.reference, d.tuned, d.diff, d.low, d.high) == (0.0, 1.0, 1.0, 1.0, 1.0)
    assert d.p_value == pytest.approx(2 / 1000)  # (0 + 1) * 2 / (999 + 1)
    d = paired_bootstrap(tuned, ref, n_resamples=999)  # the other direction
    assert d.diff == -1.0 and d.high == -1.0 and d.p_value == pytest.approx(2 / 1000)


def test_bootstrap_p_value_hand():
    # 10 replicates, 2 <= 0 and 8 >= 0: p = 2 * (2 + 1) / 11 = 6/11
    reps = np.array([-0.2, 0.0, 0.1, 0.3, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8])
    assert bootstrap_p_value(reps) == pytest.approx(6 / 11)


def test_pairing_removes_shared_difficulty():
    # per-problem pass rates vary a lot; tuned is uniformly 0.05 better on every problem
    rng = np.random.default_rng(2)
    ref = rng.uniform(0.0, 0.9, size=80)
    tuned = ref + 0.05
    d = paired_bootstrap(ref, tuned, n_resamples=300)
    assert d.diff == pytest.approx(0.05)
    assert d.low > 0 and d.p_value < 0.01
    # unpaired: two independent intervals overlap heavily and would call it nothing
    r, t = bootstrap_mean(ref, n_resamples=300, seed=1), bootstrap_mean(tuned, n_resamples=300, seed=2)
    assert r.high > t.low
    assert (d.high - d.low) < 0.1 * ((r.high - r.low) + (t.high - t.low))


def test_regression_detected_and_interval_consistent_with_p():
    rng = np.random.default_rng(3)
    ref = (rng.uniform(size=(200, 4)) < 0.7).astype(float)
    tuned = ref * (rng.uniform(size=(200, 4)) < 0.8)  # tuned loses ~20% of ref's successes
    d = paired_bootstrap(ref, tuned, metric="accuracy", n_resamples=500)
    assert d.diff < 0 and d.high < 0 and d.p_value < 0.05
    assert flag(d.low, d.high, d.p_value) == "regression"
    assert d.low <= d.diff <= d.high


def test_clusters_with_different_sample_order():
    rng = np.random.default_rng(4)
    clusters = np.repeat(np.arange(30), 3)
    ref, tuned = rng.integers(0, 2, size=90), rng.integers(0, 2, size=90)
    aligned = paired_bootstrap(ref, tuned, clusters=clusters, n_resamples=200)
    perm = rng.permutation(90)
    shuffled = paired_bootstrap(
        ref, tuned[perm], clusters=clusters, tuned_clusters=clusters[perm], n_resamples=200
    )
    assert shuffled.diff == pytest.approx(aligned.diff)
    assert (shuffled.low, shuffled.high) == pytest.approx((aligned.low, aligned.high))
    # rows as problems ((30, 3) layout) gives the same answer as clusters=
    grid = paired_bootstrap(ref.reshape(30, 3), tuned.reshape(30, 3), n_resamples=200)
    assert (grid.low, grid.high) == pytest.approx((aligned.low, aligned.high))


def test_different_problems_rejected():
    with pytest.raises(ValueError, match="same problems"):
        paired_bootstrap(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="same problems"):
        paired_bootstrap(np.zeros(4), np.zeros(4), clusters=[0, 0, 1, 1], tuned_clusters=[0, 0, 2, 2])


def test_paired_diff_strict_json():
    d = PairedDiff("ece", 0.1, float("nan"), None, None, None, None, 10, "paired_bootstrap")
    assert d.tuned is None and d.reason == "tuned was not finite"
    text = json.dumps(d.to_dict(), allow_nan=False)
    assert PairedDiff.from_dict(json.loads(text)) == d
    ok = paired_bootstrap(np.array([1, 0, 1]), np.array([1, 1, 1]), n_resamples=50)
    assert json.dumps(ok.to_dict(), allow_nan=False)
    assert all(
        type(getattr(ok, f)) is float for f in ("reference", "tuned", "diff", "low", "high", "p_value")
    )


def test_default_statistic_needs_single_array():
    x = np.array([0.2, 0.4, 0.9])
    with pytest.raises(ValueError, match="pass a statistic"):
        paired_bootstrap((x, x), (x, x))


def test_no_resamples_gives_values_without_intervals():
    """n_resamples=0: the same point values as a full bootstrap, no interval, and a reason for it."""
    from offtarget.stats import bootstrap
    from offtarget.stats.bootstrap import NO_INTERVAL

    rng = np.random.default_rng(3)
    ref, tuned = (rng.random((12, 4)) < 0.4).astype(float), (rng.random((12, 4)) < 0.7).astype(float)
    full, bare = (paired_bootstrap(ref, tuned, n_resamples=n, seed=1) for n in (200, 0))
    assert (bare.reference, bare.tuned, bare.diff) == (full.reference, full.tuned, full.diff)
    assert full.low is not None and (bare.low, bare.high, bare.p_value, bare.reason) == (None, None, None, NO_INTERVAL)
    est = bootstrap(np.mean, tuned, n_resamples=0)
    assert est.value == tuned.mean() and (est.low, est.high, est.reason) == (None, None, NO_INTERVAL)
