"""The reliability diagram and the equal-mass binning rule, against hand-worked values.

The calibration metrics themselves (ECE, Brier, Murphy, AUROC) are tested where they are
defined: tests/metrics/test_metric_calibration.py."""

import json

import numpy as np
import pytest

from offtarget.stats import reliability_diagram
from offtarget.stats.calibration import quantile_bin_ids


def test_reliability_diagram_hand_with_empty_bins():
    # bins 0: {.05 -> 0}; 3: {.35 -> 1}; 9: {.95 -> 1, .95 -> 0}; bins 1,2,4..8 empty
    bins = reliability_diagram([0.05, 0.95, 0.95, 0.35], [0, 1, 0, 1])
    assert [b.count for b in bins] == [1, 0, 0, 1, 0, 0, 0, 0, 0, 2]
    assert bins[1].mean_confidence is None and bins[1].accuracy is None
    assert bins[9].accuracy == 0.5 and bins[9].mean_confidence == pytest.approx(0.95)
    assert (bins[3].low, bins[3].high) == pytest.approx((0.3, 0.4))
    assert json.dumps([b.to_dict() for b in bins], allow_nan=False)


def test_reliability_diagram_equal_mass():
    bins = reliability_diagram([0.3, 0.1, 0.9, 0.2], [1, 0, 1, 0], n_bins=2, strategy="quantile")
    assert [(b.low, b.high, b.count) for b in bins] == [(0.1, 0.2, 2), (0.3, 0.9, 2)]
    assert [b.accuracy for b in bins] == [0.0, 1.0]


def test_bin_edges_stated_confidences():
    # 0.1 + 0.2 is 0.300...04 and 0.7 - 0.4 is 0.299...93 (3 * 10 = 2.9999999999999996);
    # all three are a stated 0.3 and belong in [0.3, 0.4)
    q = [0.0, 0.3, 0.1 + 0.2, 0.7 - 0.4, 0.7, 1.0]
    counts = [b.count for b in reliability_diagram(q, [0, 1, 1, 1, 1, 1])]
    assert counts == [1, 0, 0, 3, 0, 0, 0, 1, 0, 1]


def test_equal_mass_tie_rule():
    q = np.array([[0.1, 0.2, 0.2, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.9]])
    # array_split positions 0 0 1 1 2 2 3 3 4 4; the run of .2 takes the bin of its first member
    assert quantile_bin_ids(q, np.ones_like(q, dtype=bool), 5).tolist() == [[0, 0, 0, 0, 2, 2, 3, 3, 4, 4]]


@pytest.mark.parametrize(
    ("q", "y"),
    [([0.5, 1.2], [0, 1]), ([0.5, np.nan], [0, 1]), ([0.5], [0, 1]), ([0.5, 0.4], [0, 2]), ([], [])],
)
def test_bad_input_raises(q, y):
    with pytest.raises(ValueError):
        reliability_diagram(q, y)


def test_unknown_strategy_raises():
    with pytest.raises(ValueError, match="strategy"):
        reliability_diagram([0.5], [1], strategy="bogus")
