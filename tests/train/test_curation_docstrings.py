"""The runnable examples in the curation modules' docstrings run and print what they say."""

from __future__ import annotations

import pytest

MODULES = ["", ".difficulty", ".dynamic_sampling", ".roc", ".curriculum", ".self_distill", ".refinement"]


@pytest.mark.parametrize("suffix", MODULES)
def test_module_doctests(suffix, run_doctests):
    run_doctests(f"offtarget.train.curation{suffix}")
