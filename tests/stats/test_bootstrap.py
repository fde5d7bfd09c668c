"""Bootstrap over problems: reproducibility, layouts, clustering, undefined resamples, strict JSON."""

import json
import math

import numpy as np
import pytest

from offtarget.metrics.calibration import auroc, ece
from offtarget.stats import Estimate, bootstrap, bootstrap_mean


def expected_calibration_error(conf, correct):
    """ECE (10 equal-width bins) of one set of samples, as a plain statistic."""
    return float(ece(np.asarray(conf, dtype=float)[None], np.asarray(correct, dtype=float)[None])[0])
from offtarget.stats.bootstrap import ProblemLayout, batched_mean


def width(e: Estimate) -> float:
    return e.high - e.low


# ---------------------------------------------------------------------------------------------
# Estimate record


def test_estimate_is_strict_json():
    e = Estimate(float("nan"), 0.1, float("inf"), 12)
    assert e.value is None and e.high is None and e.low == 0.1
    assert e.reason == "value was not finite"
    text = json.dumps(e.to_dict(), allow_nan=False)
    assert Estimate.from_dict(json.loads(text)) == e


def test_estimate_converts_numpy_scalars_and_requires_reason():
    e = Estimate(np.float64(0.5), np.float32(0.25), np.float64(0.75), np.int64(9))
    assert type(e.value) is float and type(e.n) is int and e.reason is None
    assert Estimate(None, None, None, 0).reason == "not available"
    with pytest.raises(AttributeError):
        e.value = 1.0  # frozen


# ---------------------------------------------------------------------------------------------
# Values


def test_seeded_and_vectorised_paths_agree():
    x = np.random.default_rng(0).integers(0, 2, size=(60, 4)).astype(float)
    a = bootstrap(np.mean, x, n_resamples=300, seed=3)
    b = bootstrap(batched_mean, x, n_resamples=300, seed=3, vectorized=True)
    c = bootstrap_mean(x, n_resamples=300, seed=3)
    assert a.value == pytest.approx(x.mean())
    assert (a.low, a.high) == pytest.approx((b.low, b.high), rel=1e-12)
    assert (c.low, c.high) == pytest.approx((b.low, b.high), rel=1e-12)
    assert bootstrap(np.mean, x, n_resamples=300, seed=3) == a  # same seed, same interval
    assert bootstrap(np.mean, x, n_resamples=300, seed=4) != a


def test_width_matches_binomial_standard_error():
    # 400 independent 0/1 problems at p = .5: SE = sqrt(.25 / 400) = .025, 95% width ~ 2*1.96*.025 = .098
    x = np.random.default_rng(1).permutation(np.repeat([0.0, 1.0], 200))
    e = bootstrap_mean(x, n_resamples=1000, seed=0)
    assert e.value == 0.5
    assert width(e) == pytest.approx(2 * 1.959964 * 0.025, rel=0.15)
    assert e.low < 0.5 < e.high


def test_percentile_interval_covers_truth_about_95_percent():
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(200):
        x = (rng.uniform(size=60) < 0.3).astype(float)
        e = bootstrap_mean(x, n_resamples=200, seed=int(rng.integers(1 << 30)))
        hits += e.low <= 0.3 <= e.high
    assert 0.86 <= hits / 200 <= 0.99


# ---------------------------------------------------------------------------------------------
# Clustering


def correlated_problems(n_problems=40, n_samples=10, seed=5):
    """Each problem is either always solved or never: samples within a problem perfectly correlated."""
    solved = np.random.default_rng(seed).uniform(size=n_problems) < 0.5
    return np.repeat(solved[:, None], n_samples, axis=1).astype(float)


def test_interval_over_problems_is_wider_than_over_samples():
    x = correlated_problems()
    n_problems, n_samples = x.shape
    over_problems = bootstrap_mean(x, n_resamples=500)  # rows are problems
    clusters = np.repeat(np.arange(n_problems), n_samples)
    flat = x.reshape(-1)
    clustered = bootstrap_mean(flat, clusters=clusters, n_resamples=500)
    naive = bootstrap_mean(flat, clusters=np.arange(flat.size), n_resamples=500)  # wrong: samples as units
    assert over_problems.n == clustered.n == n_problems and naive.n == flat.size
    # same draws, same problems: the (problems, samples) layout and the clusters= layout agree
    assert (clustered.low, clustered.high) == pytest.approx((over_problems.low, over_problems.high))
    # with perfect correlation the honest interval is ~sqrt(10) ~ 3.2 times the naive one
    assert width(clustered) > 2 * width(naive)


def test_cluster_gather_is_exact():
    layout = ProblemLayout(5, ["b", "a", "b", "c", "a"])  # sorted ids: a -> rows 1,4; b -> 0,2; c -> 3
    assert layout.n_problems == 3
    assert layout.rows(np.array([0, 0, 2])).tolist() == [1, 4, 1, 4, 3]
    assert layout.rows(np.array([1])).tolist() == [0, 2]


def test_ragged_clusters_and_several_arrays():
    rng = np.random.default_rng(4)
    sizes = rng.integers(1, 6, size=30)
    clusters = np.repeat(np.arange(30), sizes)
    conf = rng.uniform(size=clusters.size)
    correct = (rng.uniform(size=clusters.size) < conf).astype(int)
    e = bootstrap(expected_calibration_error, conf, correct, clusters=clusters, n_resamples=200)
    assert e.value == pytest.approx(expected_calibration_error(conf, correct))
    assert e.n == 30 and e.low <= e.high and e.reason is None


# ---------------------------------------------------------------------------------------------
# Undefined statistics and bad input


def auroc_value(conf, correct):
    """AUROC of one set of samples; NaN (undefined) with one class."""
    return float(auroc(np.asarray(conf, dtype=float)[None], np.asarray(correct, dtype=float)[None])[0])


def test_interval_withheld_when_many_resamples_undefined():
    # one correct problem out of 20: a resample misses it with prob (19/20)^20 = 36% -> AUROC undefined
    conf = np.linspace(0.05, 0.95, 20)
    correct = np.zeros(20)
    correct[-1] = 1
    e = bootstrap(auroc_value, conf, correct, n_resamples=200)
    assert e.value == 1.0
    assert e.low is None and e.high is None and "withheld" in e.reason
    assert json.dumps(e.to_dict(), allow_nan=False)


def test_few_undefined_resamples_are_dropped_and_reported():
    conf = np.linspace(0.05, 0.95, 20)
    correct = np.zeros(20)
    correct[-3:] = 1  # miss all three: (17/20)^20 = 3.9% of resamples
    e = bootstrap(auroc_value, conf, correct, n_resamples=400, max_undefined=0.1)
    assert e.low is not None and "dropped" in e.reason


def test_undefined_point_and_empty():
    e = bootstrap(auroc_value, [0.2, 0.3], [1, 1], n_resamples=50)
    assert e.value is None and e.reason == "statistic undefined on the full data"
    assert bootstrap_mean(np.array([])).reason == "no problems"


def test_bad_input():
    with pytest.raises(ValueError, match="aligned"):
        bootstrap(np.mean, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="one value per resample"):
        bootstrap(np.mean, np.zeros(3), vectorized=True, n_resamples=10)
    with pytest.raises(ValueError, match="clusters"):
        bootstrap(np.mean, np.zeros(3), clusters=[0, 1])
    with pytest.raises(ValueError):
        bootstrap(np.mean, np.zeros(3), n_resamples=-1)  # 0 is allowed: the value alone
    assert math.isclose(bootstrap(np.mean, np.ones(3), n_resamples=10).value, 1.0)


# ---------------------------------------------------------------------------------------------
# Shared replicates (probes compute each checkpoint's once, for its interval and every comparison)


def test_shared_replicates_give_the_same_interval_and_paired_diff():
    from offtarget.stats import paired_bootstrap
    from offtarget.stats.bootstrap import bootstrap_replicates

    rng = np.random.default_rng(3)
    q, y = rng.random((40, 8)), (rng.random((40, 8)) < 0.6).astype(float)
    q2 = np.clip(q + 0.1 * rng.standard_normal(q.shape), 0, 1)

    def ece(a, b):
        return expected_calibration_error(a.ravel(), b.ravel())

    kw = {"n_resamples": 200, "seed": 7}
    calls = []

    def reps(*arrays):
        calls.append(1)
        return bootstrap_replicates(ece, *arrays, **kw)

    assert bootstrap(ece, q, y, **kw) == bootstrap(ece, q, y, shared_replicates=lambda: reps(q, y), **kw)
    plain = paired_bootstrap((q, y), (q2, y), ece, **kw)
    shared = paired_bootstrap((q, y), (q2, y), ece, shared_replicates=(lambda: reps(q, y), lambda: reps(q2, y)),
                              **kw)
    assert plain == shared and calls == [1, 1, 1]
