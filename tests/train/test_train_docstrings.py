"""The runnable examples in the train modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["", ".config", ".data", ".grpo", ".grpo_advantages", ".monitor", ".monitor.metrics", ".monitor.guards",
           ".rundir", ".sample_log", ".session", ".trl_batch"]


@pytest.mark.parametrize("suffix", MODULES)
def test_module_doctests(suffix):
    module = importlib.import_module(f"offtarget.train{suffix}")
    assert module.__doc__ and ">>>" in module.__doc__, "every train module shows a runnable call"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("module", ["commands", "grpo_run", "sft", "ssd", "refinement_filter"])
def test_entry_modules_show_their_command(module):
    doc = importlib.import_module(f"offtarget.train.{module}").__doc__
    assert doc and "offtarget train" in doc
