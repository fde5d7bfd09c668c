"""The calibration metrics as offtarget computes them (offtarget.metrics.calibration) against
scikit-learn, textbook loops and hand-worked values."""

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from offtarget.metrics.calibration import auroc, brier, ece, murphy_reliability, murphy_resolution


def one(fn, q, y, *options):
    """The statistic on one set of samples (a single resample)."""
    return float(fn(np.asarray(q, dtype=float)[None], np.asarray(y, dtype=float)[None], *options)[0])


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    q = rng.uniform(size=500)
    y = (rng.uniform(size=500) < q**1.5).astype(int)  # overconfident on purpose
    return q, y


def naive_bins(q, n_bins):
    """Textbook loop: bin i holds [i/B, (i+1)/B), the last bin also holds 1.0."""
    q = np.asarray(q)
    for i in range(n_bins):
        lo, hi = i / n_bins, (i + 1) / n_bins
        yield (q >= lo) & ((q < hi) if i < n_bins - 1 else (q <= hi))


def naive_ece(q, y, n_bins):
    return sum(m.sum() / len(q) * abs(y[m].mean() - q[m].mean()) for m in naive_bins(q, n_bins) if m.any())


def naive_murphy(q, y, n_bins):
    rel = sum(m.sum() * (q[m].mean() - y[m].mean()) ** 2 for m in naive_bins(q, n_bins) if m.any()) / len(q)
    res = sum(m.sum() * (y[m].mean() - y.mean()) ** 2 for m in naive_bins(q, n_bins) if m.any()) / len(q)
    return rel, res


def test_brier_matches_sklearn(data):
    q, y = data
    assert one(brier, q, y) == pytest.approx(brier_score_loss(y, q), rel=1e-12)
    # (0.9-1)^2 + (0.9-0)^2 + (0.6-1)^2 + (0.2-0)^2 = .01 + .81 + .16 + .04 = 1.02; / 4
    assert one(brier, [0.9, 0.9, 0.6, 0.2], [1, 0, 1, 0]) == pytest.approx(0.255)


def test_murphy_hand():
    # bins: q=0.2 -> {0, 1} (n=2, obar=.5); q=0.8 -> {1, 1, 0} (n=3, obar=2/3); obar = 3/5
    # REL = (2 (.2-.5)^2 + 3 (.8-2/3)^2) / 5 = 7/150 ; RES = (2 (.5-.6)^2 + 3 (2/3-.6)^2) / 5 = 1/150
    # UNC = .6 * .4 = .24 ; Brier = .28 = 7/150 - 1/150 + .24 (one confidence per bin: exact)
    q, y = [0.2, 0.2, 0.8, 0.8, 0.8], [0, 1, 1, 1, 0]
    assert one(murphy_reliability, q, y) == pytest.approx(7 / 150, rel=1e-12)
    assert one(murphy_resolution, q, y) == pytest.approx(1 / 150, rel=1e-12)
    assert one(brier, q, y) == pytest.approx(7 / 150 - 1 / 150 + 0.24, rel=1e-12)


@pytest.mark.parametrize("n_bins", [10, 15])
def test_murphy_matches_naive_loop(data, n_bins):
    q, y = data
    rel, res = naive_murphy(q, y, n_bins)
    assert one(murphy_reliability, q, y, n_bins) == pytest.approx(rel, rel=1e-10)
    assert one(murphy_resolution, q, y, n_bins) == pytest.approx(res, rel=1e-10)


def test_ece_hand_with_empty_bins():
    # bins 0: {.05 -> 0}; 3: {.35 -> 1}; 9: {.95 -> 1, .95 -> 0}; bins 1,2,4..8 empty
    # ECE = (|0-.05| + |1-.35| + 2 |.5-.95|) / 4 = (.05 + .65 + .9) / 4 = 0.4
    assert one(ece, [0.05, 0.95, 0.95, 0.35], [0, 1, 0, 1]) == pytest.approx(0.4, rel=1e-12)


def test_ece_15_bins_differs_from_10():
    # 10 bins: .62 and .68 share bin 6: |.5 - .65| = 0.15
    # 15 bins: .62*15 = 9.3 -> bin 9, .68*15 = 10.2 -> bin 10: (|1-.62| + |0-.68|) / 2 = 0.53
    assert one(ece, [0.62, 0.68], [1, 0]) == pytest.approx(0.15)
    assert one(ece, [0.62, 0.68], [1, 0], 15) == pytest.approx(0.53)


def test_ece_equal_mass():
    # 2 equal-mass bins: {.1, .2} acc 0 conf .15; {.3, .9} acc 1 conf .6
    # ECE = (2 * .15 + 2 * .4) / 4 = 0.275 ; equal-width: {.1,.2,.3} acc 1/3 conf .2, {.9} acc 1
    # -> (3 * (1/3 - .2) + 1 * .1) / 4 = 0.125
    q, y = [0.3, 0.1, 0.9, 0.2], [1, 0, 1, 0]
    assert one(ece, q, y, 2, "quantile") == pytest.approx(0.275)
    assert one(ece, q, y, 2) == pytest.approx(0.125)


def test_equal_mass_bins_keep_tied_confidences_together():
    # [.2]*4 in 2 equal-mass bins: the order of the labels must not matter
    for labels in ([1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]):
        assert one(ece, [0.2] * 4, labels, 2, "quantile") == pytest.approx(abs(2 - 0.8) / 4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        qq = rng.integers(0, 11, 30) / 10
        yy = (rng.random(30) < qq).astype(float)
        perm = rng.permutation(30)
        assert one(ece, qq[perm], yy[perm], 10, "quantile") == pytest.approx(one(ece, qq, yy, 10, "quantile"))


@pytest.mark.parametrize("n_bins", [10, 15])
def test_ece_matches_naive_loop(data, n_bins):
    q, y = data
    assert one(ece, q, y, n_bins) == pytest.approx(naive_ece(q, y, n_bins), rel=1e-12)


def test_stated_confidences_on_bin_edges():
    # 0.1 + 0.2 is 0.300...04 and 0.7 - 0.4 is 0.299...93: all three are a stated 0.3, bin [0.3, 0.4)
    q = [0.3, 0.1 + 0.2, 0.7 - 0.4]
    assert one(ece, q, [1, 1, 1]) == pytest.approx(0.7)  # one bin: |1 - .3|
    assert one(ece, q + [0.39], [1, 1, 1, 1]) == pytest.approx((3 * 0.7 + 0.61) / 4)


def test_perfectly_calibrated_has_zero_ece():
    q = [0.25] * 4 + [0.75] * 4
    y = [1, 0, 0, 0] + [1, 1, 1, 0]
    assert one(ece, q, y) == pytest.approx(0.0, abs=1e-15)
    assert one(murphy_reliability, q, y) == pytest.approx(0.0, abs=1e-15)


def test_auroc_hand_and_sklearn(data):
    # correct: .9, .6 ; wrong: .9, .2 ; pairs: (.9,.9) tie = .5, (.9,.2) = 1, (.6,.9) = 0, (.6,.2) = 1
    assert one(auroc, [0.9, 0.9, 0.6, 0.2], [1, 0, 1, 0]) == pytest.approx(2.5 / 4)
    q, y = data
    q = q.round(1)  # 11 distinct values: heavy ties
    assert one(auroc, q, y) == pytest.approx(roc_auc_score(y, q), rel=1e-12)
    assert one(auroc, np.full(10, 0.7), [0, 1] * 5) == 0.5
    assert one(auroc, [0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert one(auroc, [0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0


@pytest.mark.parametrize("y", [[1, 1, 1], [0, 0, 0]])
def test_auroc_single_class_is_undefined(y):
    assert np.isnan(one(auroc, [0.2, 0.5, 0.9], y))


def test_missing_confidences_are_left_out():
    # NaN = no confidence: the statistics equal those of the samples that have one
    q, y = [0.9, np.nan, 0.6, 0.2, np.nan], [1, 1, 1, 0, 0]
    for fn in (ece, brier, auroc, murphy_reliability):
        assert one(fn, q, y) == pytest.approx(one(fn, [0.9, 0.6, 0.2], [1, 1, 0]))
    assert np.isnan(one(brier, [np.nan], [1]))  # nothing counted: undefined, not 0
