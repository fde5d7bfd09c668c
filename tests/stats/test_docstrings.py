"""The runnable examples in the module docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["__init__", "_checks", "passk", "calibration", "bootstrap", "paired", "multiple", "diversity", "permutation",
           "power", "additive", "refinement"]


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name):
    module = importlib.import_module("offtarget.stats" if name == "__init__" else f"offtarget.stats.{name}")
    assert module.__doc__ and ">>>" in module.__doc__, "every stats module shows a runnable call"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
