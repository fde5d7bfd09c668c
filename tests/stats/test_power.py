"""Minimum detectable effect against the normal power formula worked by hand."""

import pytest

from offtarget.stats import minimum_detectable_effect


def test_mde_hand_value():
    # SE = 0.1 / (2 * 1.959964) = 0.025511; (z_.975 + z_.8) * SE = (1.959964 + 0.841621) * 0.025511
    assert minimum_detectable_effect(-0.05, 0.05, alpha=0.05, m=1) == pytest.approx(0.071470, abs=1e-5)
    # m = 100: z_{1 - 0.05/200} = 3.480756
    assert minimum_detectable_effect(-0.05, 0.05, alpha=0.05, m=100) == pytest.approx(
        (3.480756 + 0.841621) * 0.1 / (2 * 1.959964), abs=1e-5)


def test_mde_edge_cases():
    assert minimum_detectable_effect(None, 0.1) is None
    assert minimum_detectable_effect(0.0, 0.0) is None  # no spread: no estimate
