"""The runnable examples in the curation modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["", ".difficulty", ".dynamic_sampling", ".roc", ".curriculum", ".self_distill", ".refinement"]


@pytest.mark.parametrize("suffix", MODULES)
def test_module_doctests(suffix):
    module = importlib.import_module(f"offtarget.train.curation{suffix}")
    assert module.__doc__ and ">>>" in module.__doc__, "every curation module shows a runnable call"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
