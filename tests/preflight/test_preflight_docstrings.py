"""The runnable examples in the preflight modules' docstrings run and print what they say."""

from __future__ import annotations

import pytest

MODULES = ["foothold", "redteam", "sft_data", "sft_defects", "config"]


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name, run_doctests):
    run_doctests(f"offtarget.preflight.{name}")


def test_cli_import_stays_light():
    """`offtarget --help` imports the preflight command; that must not pull in torch."""
    import subprocess
    import sys

    code = "import sys, offtarget.preflight.commands; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
