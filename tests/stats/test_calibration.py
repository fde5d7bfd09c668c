"""Calibration metrics against scikit-learn, naive reference loops and hand-worked values."""

import json

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from offtarget.stats import (
    auroc,
    brier_score,
    expected_calibration_error,
    murphy_decomposition,
    reliability_diagram,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    q = rng.uniform(size=500)
    y = (rng.uniform(size=500) < q**1.5).astype(int)  # overconfident on purpose
    return q, y


def naive_ece(q, y, n_bins):
    """Textbook loop: bin i holds [i/B, (i+1)/B), the last bin also holds 1.0."""
    total = 0.0
    for i in range(n_bins):
        lo, hi = i / n_bins, (i + 1) / n_bins
        m = (q >= lo) & ((q < hi) if i < n_bins - 1 else (q <= hi))
        if m.any():
            total += m.sum() / len(q) * abs(y[m].mean() - q[m].mean())
    return total


# ---------------------------------------------------------------------------------------------
# Brier and Murphy


def test_brier_matches_sklearn(data):
    q, y = data
    assert brier_score(q, y) == pytest.approx(brier_score_loss(y, q), rel=1e-12)


def test_brier_hand():
    # (0.9-1)^2 + (0.9-0)^2 + (0.6-1)^2 + (0.2-0)^2 = .01 + .81 + .16 + .04 = 1.02; / 4
    assert brier_score([0.9, 0.9, 0.6, 0.2], [True, False, True, False]) == pytest.approx(0.255)


def test_murphy_hand():
    # bins: q=0.2 -> {0, 1} (n=2, obar=.5); q=0.8 -> {1, 1, 0} (n=3, obar=2/3); obar = 3/5
    # REL = (2 (.2-.5)^2 + 3 (.8-2/3)^2) / 5 = (.18 + .05333) / 5 = 7/150
    # RES = (2 (.5-.6)^2 + 3 (2/3-.6)^2) / 5 = (.02 + .01333) / 5 = 1/150
    # UNC = .6 * .4 = .24 ; Brier = (.04 + .64 + .04 + .04 + .64) / 5 = .28 = 7/150 - 1/150 + .24
    d = murphy_decomposition([0.2, 0.2, 0.8, 0.8, 0.8], [0, 1, 1, 1, 0])
    assert d.reliability == pytest.approx(7 / 150, rel=1e-12)
    assert d.resolution == pytest.approx(1 / 150, rel=1e-12)
    assert d.uncertainty == pytest.approx(0.24, rel=1e-12)
    assert d.brier == pytest.approx(0.28, rel=1e-12)
    assert d.residual == pytest.approx(0.0, abs=1e-15)


def test_murphy_identity_exact_when_bins_hold_one_confidence():
    rng = np.random.default_rng(1)
    # confidences at the centres of the 10 equal-width bins: one value per bin
    q = rng.choice(np.arange(10) / 10 + 0.05, size=400)
    y = rng.integers(0, 2, size=400)
    d = murphy_decomposition(q, y)
    assert d.brier == pytest.approx(brier_score_loss(y, q), rel=1e-12)
    assert d.residual == pytest.approx(0.0, abs=1e-12)
    # any confidences: one bin per distinct value makes it exact too
    q2 = rng.uniform(size=300).round(2)
    y2 = rng.integers(0, 2, size=300)
    assert murphy_decomposition(q2, y2, strategy="unique").residual == pytest.approx(0.0, abs=1e-12)


def test_murphy_identity_not_exact_with_mixed_bins(data):
    # the documented caveat: with spread within bins the binned identity is off
    q, y = data
    d = murphy_decomposition(q, y)
    assert abs(d.residual) > 1e-6
    assert json.dumps(d.to_dict(), allow_nan=False)


# ---------------------------------------------------------------------------------------------
# ECE and reliability diagram


def test_ece_hand_with_empty_bins():
    # bins 0: {.05 -> 0}; 3: {.35 -> 1}; 9: {.95 -> 1, .95 -> 0}; bins 1,2,4..8 empty
    # ECE = (|0-.05| + |1-.35| + 2 |.5-.95|) / 4 = (.05 + .65 + .9) / 4 = 0.4
    q, y = [0.05, 0.95, 0.95, 0.35], [0, 1, 0, 1]
    assert expected_calibration_error(q, y) == pytest.approx(0.4, rel=1e-12)
    bins = reliability_diagram(q, y)
    assert [b.count for b in bins] == [1, 0, 0, 1, 0, 0, 0, 0, 0, 2]
    assert bins[1].mean_confidence is None and bins[1].accuracy is None
    assert bins[9].accuracy == 0.5 and bins[9].mean_confidence == pytest.approx(0.95)
    assert (bins[3].low, bins[3].high) == pytest.approx((0.3, 0.4))
    assert json.dumps([b.to_dict() for b in bins], allow_nan=False)


def test_ece_15_bins_differs_from_10():
    # 10 bins: .62 and .68 share bin 6: |.5 - .65| = 0.15
    # 15 bins: .62*15 = 9.3 -> bin 9, .68*15 = 10.2 -> bin 10: (|1-.62| + |0-.68|) / 2 = 0.53
    q, y = [0.62, 0.68], [1, 0]
    assert expected_calibration_error(q, y) == pytest.approx(0.15)
    assert expected_calibration_error(q, y, n_bins=15) == pytest.approx(0.53)


def test_ece_equal_mass():
    # 2 equal-mass bins: {.1, .2} acc 0 conf .15; {.3, .9} acc 1 conf .6
    # ECE = (2 * .15 + 2 * .4) / 4 = 0.275 ; equal-width: {.1,.2,.3} acc 1/3 conf .2, {.9} acc 1
    # -> (3 * (1/3 - .2) + 1 * .1) / 4 = 0.125
    q, y = [0.3, 0.1, 0.9, 0.2], [1, 0, 1, 0]
    assert expected_calibration_error(q, y, n_bins=2, strategy="quantile") == pytest.approx(0.275)
    assert expected_calibration_error(q, y, n_bins=2) == pytest.approx(0.125)
    bins = reliability_diagram(q, y, n_bins=2, strategy="quantile")
    assert [(b.low, b.high, b.count) for b in bins] == [(0.1, 0.2, 2), (0.3, 0.9, 2)]


@pytest.mark.parametrize("n_bins", [10, 15])
def test_ece_matches_naive_loop(data, n_bins):
    q, y = data
    assert expected_calibration_error(q, y, n_bins=n_bins) == pytest.approx(
        naive_ece(q, y, n_bins), rel=1e-12
    )


def test_bin_edges_stated_confidences():
    # 0.1 + 0.2 is 0.300...04 and 0.7 - 0.4 is 0.299...93 (3 * 10 = 2.9999999999999996);
    # all three are a stated 0.3 and belong in [0.3, 0.4)
    q = [0.0, 0.3, 0.1 + 0.2, 0.7 - 0.4, 0.7, 1.0]
    counts = [b.count for b in reliability_diagram(q, [0, 1, 1, 1, 1, 1])]
    assert counts == [1, 0, 0, 3, 0, 0, 0, 1, 0, 1]


def test_perfectly_calibrated_has_zero_ece():
    q = [0.25] * 4 + [0.75] * 4
    y = [1, 0, 0, 0] + [1, 1, 1, 0]
    assert expected_calibration_error(q, y) == pytest.approx(0.0, abs=1e-15)
    assert murphy_decomposition(q, y).reliability == pytest.approx(0.0, abs=1e-15)


# ---------------------------------------------------------------------------------------------
# AUROC


def test_auroc_hand_with_ties():
    # correct: .9, .6 ; wrong: .9, .2 ; pairs: (.9,.9) tie = .5, (.9,.2) = 1, (.6,.9) = 0, (.6,.2) = 1
    r = auroc([0.9, 0.9, 0.6, 0.2], [1, 0, 1, 0])
    assert r.value == pytest.approx(2.5 / 4)
    assert (r.n_positive, r.n_negative, r.reason) == (2, 2, None)


def test_auroc_matches_sklearn_with_many_ties(data):
    q, y = data
    q = q.round(1)  # 11 distinct values: heavy ties
    assert auroc(q, y).value == pytest.approx(roc_auc_score(y, q), rel=1e-12)
    assert auroc(np.full(10, 0.7), [0, 1] * 5).value == 0.5  # all tied: chance
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]).value == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]).value == 0.0


@pytest.mark.parametrize("y", [[1, 1, 1], [0, 0, 0]])
def test_auroc_single_class(y):
    r = auroc([0.2, 0.5, 0.9], y)
    assert r.value is None
    assert "undefined" in r.reason
    assert json.loads(json.dumps(r.to_dict(), allow_nan=False))["value"] is None


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("q", "y"),
    [([0.5, 1.2], [0, 1]), ([0.5, np.nan], [0, 1]), ([0.5], [0, 1]), ([0.5, 0.4], [0, 2]), ([], [])],
)
def test_bad_input_raises(q, y):
    for fn in (brier_score, expected_calibration_error, auroc, murphy_decomposition):
        with pytest.raises(ValueError):
            fn(q, y)


def test_unknown_strategy_raises():
    with pytest.raises(ValueError, match="strategy"):
        expected_calibration_error([0.5], [1], strategy="bogus")


def test_equal_mass_bins_keep_tied_confidences_together():
    # [.2]*4 in 2 equal-mass bins: the order of the labels must not matter (issue: 0.5 vs 0.3)
    for labels in ([1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]):
        assert expected_calibration_error([0.2] * 4, labels, n_bins=2, strategy="quantile") == pytest.approx(
            abs(2 - 0.8) / 4)


def test_equal_mass_tie_rule_and_its_vectorised_twin():
    from offtarget.stats.calibration import quantile_bin_ids

    q = np.array([[0.1, 0.2, 0.2, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.9]])
    # array_split positions 0 0 1 1 2 2 3 3 4 4; the run of .2 takes the bin of its first member
    assert quantile_bin_ids(q, np.ones_like(q, dtype=bool), 5).tolist() == [[0, 0, 0, 0, 2, 2, 3, 3, 4, 4]]
    rng = np.random.default_rng(0)
    for _ in range(20):
        qq = rng.integers(0, 11, 30) / 10
        yy = (rng.random(30) < qq).astype(float)
        perm = rng.permutation(30)
        a = expected_calibration_error(qq, yy, n_bins=10, strategy="quantile")
        assert expected_calibration_error(qq[perm], yy[perm], n_bins=10, strategy="quantile") == pytest.approx(a)
