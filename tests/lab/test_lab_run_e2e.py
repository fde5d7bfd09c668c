"""Every recipe end to end at a shrunk size through the real CLI: train, audit, preflight, claims."""

import json
import os
import subprocess
import sys

import pytest

from offtarget.lab.claims import VERDICTS
from offtarget.lab.recipes import RECIPES

pytestmark = pytest.mark.slow

SHRUNK = ["--steps", "6", "--problems", "16", "--samples", "4", "--bootstrap", "100", "--sft-steps", "20",
          "--train-problems", "48"]


def _run(*args):
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    return subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)],
                          check=False, capture_output=True, text=True,
                          env=env, timeout=1800)


def test_all_recipes_shrunk_then_resume(tmp_path):
    out = tmp_path / "lab"
    proc = _run("lab", "run", "--all", "--out", out, *SHRUNK)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    claims = json.loads((out / "claims.json").read_text())["claims"]
    assert {c["recipe"] for c in claims} == set(RECIPES)
    assert all(c["verdict"] in VERDICTS for c in claims)
    html = (out / "audits" / "main" / "report.html").read_text()
    assert "claims" in html.lower() and "too-hard" in html
    for variant in ("grpo-binary", "grpo-hard", "grpo-zero", "grpo-roc"):
        assert (out / "variants" / variant / "final" / "config.json").exists()
    timings = json.loads((out / "timings.json").read_text())
    # resume: a finished lab run retrains nothing
    again = _run("lab", "run", "--all", "--out", out, *SHRUNK)
    assert again.returncode == 0, again.stderr[-3000:]
    timings2 = json.loads((out / "timings.json").read_text())
    assert not [k for k in timings2 if k.startswith("train:")]
    assert timings2["total"] < timings["total"]


def test_unknown_recipe_is_one_line_error(tmp_path):
    proc = _run("lab", "run", "nope", "--out", tmp_path / "x")
    assert proc.returncode == 2 and "unknown recipe" in proc.stderr and "Traceback" not in proc.stderr
