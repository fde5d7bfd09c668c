"""The likelihood band over teacher-refined examples against hand-worked cases and numpy's quantile."""

from __future__ import annotations

import numpy as np
import pytest

from offtarget.errors import OfftargetError
from offtarget.train.curation.refinement import (
    absolute_band,
    apply_band,
    band_from_reference,
    distribution,
    quantile,
)


@pytest.mark.parametrize("q", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_quantile_matches_numpy_linear(q):
    values = [-3.2, -0.4, -1.7, -0.9, -2.5, -0.05, -1.1]
    assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)))


def test_default_band_from_the_students_own_samples_by_hand():
    # eleven reference values 0, -0.25, ..., -2.5; 10 % quantile: position 0.1 * 10 = 1 -> second smallest, -2.25
    ref = [-0.25 * k for k in range(11)]
    band = band_from_reference(ref)
    assert band.low == -2.25 and band.high is None and band.source == "student-quantiles"
    d = apply_band([-0.5, -2.25, -2.26, -3.0, 0.0], band)  # the edge itself is kept
    assert d.kept == [0, 1, 4] and d.too_unlikely == [2, 3] and d.too_likely == []


def test_upper_edge_and_absolute_band():
    band = band_from_reference([-1.0, -0.5, 0.0], low_quantile=0.0, high_quantile=0.5)
    assert (band.low, band.high) == (-1.0, -0.5)
    d = apply_band([-1.2, -0.7, -0.2], band)
    assert (d.kept, d.too_unlikely, d.too_likely) == ([1], [0], [2])
    d = apply_band([-1.2, -0.7, -0.2], absolute_band(-1.0, None))
    assert (d.kept, d.too_unlikely) == ([1, 2], [0])


def test_bad_bands_are_one_line_errors():
    with pytest.raises(OfftargetError, match="min-logprob"):
        absolute_band(-0.1, -1.0)
    with pytest.raises(OfftargetError, match="low-quantile"):
        band_from_reference([-1.0], 0.9, 0.1)
    with pytest.raises(OfftargetError, match="no reference samples"):
        band_from_reference([], 0.1)


def test_distribution_summary():
    d = distribution([-1.0, -2.0, -3.0])
    assert d["n"] == 3 and d["mean"] == -2.0 and d["quantiles"]["0.5"] == -2.0 and d["min"] == -3.0
    assert distribution([]) == {"n": 0}
