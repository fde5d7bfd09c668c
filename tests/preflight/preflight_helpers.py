"""Helpers for the preflight tests: the real CLI in a subprocess, and reading its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE = "models/lab/base"
"""The committed lab base checkpoint (read-only)."""


def run_preflight_cli(*args, env=None, timeout=900) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)], capture_output=True,
                          text=True, env=full_env, timeout=timeout, check=False)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    return proc


def results_of(out: Path) -> dict:
    return json.loads((Path(out) / "results.json").read_text())
