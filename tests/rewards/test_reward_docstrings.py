"""The runnable examples in the reward modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

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
def test_module_doctests(suffix):
    module = importlib.import_module(f"offtarget.rewards{suffix}")
    assert module.__doc__ and ">>>" in module.__doc__, "every reward module shows a runnable call"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
