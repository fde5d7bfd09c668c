"""Fixtures every test folder shares."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.fixture
def run_doctests():
    """``run(module_name)``: the module's docstring shows a runnable call, and every example in the
    module runs and prints what it says."""

    def run(module_name: str, optionflags: int = doctest.ELLIPSIS) -> None:
        module = importlib.import_module(module_name)
        found = doctest.DocTestFinder().find(module)
        assert any(t.name == module.__name__ and t.examples for t in found), (
            f"{module_name}: its docstring shows no runnable call")
        result = doctest.testmod(module, optionflags=optionflags)
        assert result.attempted > 0
        assert result.failed == 0

    return run
