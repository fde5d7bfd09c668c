import os
import subprocess
import sys

import pytest

BASE, SFT = "models/lab/base", "models/lab/sft"


def run_cli(*args, check=False, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    proc = subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)],
                          check=False, capture_output=True, text=True,
                          env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture
def cli():
    return run_cli
