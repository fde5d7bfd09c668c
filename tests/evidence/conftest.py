"""Paths of the real eval logs of the lab checkpoints (lm-eval 0.4.13, Inspect 0.3.285)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT.parent / "shared" / "fixtures" / "eval-logs"


@pytest.fixture(scope="session")
def logs() -> Path:
    if not (LOGS / "README.txt").is_file():
        pytest.skip(f"eval-log fixtures not found at {LOGS}")
    return LOGS
