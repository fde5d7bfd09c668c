"""The runnable examples in the reward modules' docstrings run and print what they say."""

from __future__ import annotations

import pytest

MODULES = [
    "",
    ".columns",
    ".base",
    ".registry",
    ".correctness",
    ".formats",
    ".calibration",
    ".abstention",
    ".stepwise",
]


@pytest.mark.parametrize("suffix", MODULES)
def test_module_doctests(suffix, run_doctests):
    run_doctests(f"offtarget.rewards{suffix}")
