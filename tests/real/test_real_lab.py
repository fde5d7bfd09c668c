"""`offtarget lab real` end to end on SmolLM2-135M-Instruct and two committed adapters, on a few problems:
every audit runs, the confidence suite is sampled from its own prompts (not read back from the plain
suite's store under the same problem ids), and the claims files are written. About a minute on 2 cores
once the model is cached; skipped when the model has not been fetched (tests/real/test_real_smoke.py
fetches it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.real]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fetched():
    from offtarget.models.registry import model_dir

    if not (model_dir("smollm2-135m-instruct") / "config.json").exists():
        pytest.skip("run `offtarget models get smollm2-135m-instruct` first")


def test_lab_real_audits_the_confidence_suite_on_its_own_prompts(fetched, tmp_path):
    adapters = tmp_path / "adapters"
    for name in ("binary", "rlcr"):
        shutil.copytree(ROOT / "models" / "real-lora" / name, adapters / name)
    out = tmp_path / "lab"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    proc = subprocess.run([sys.executable, "-m", "offtarget.cli", "lab", "real", "--out", str(out), "--adapters",
                           str(adapters), "--problems", "8", "--samples", "2", "--kl-problems", "2",
                           "--calibration-problems", "5", "--framing-problems", "5", "--faithfulness-problems", "2",
                           "--bootstrap", "50"],
                          capture_output=True, text=True, env=env, timeout=900, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    calibration = json.loads((out / "audits" / "calibration" / "results.json").read_text())
    # the main audit ran first on the same problem ids; the confidence prompts are still sampled afresh
    assert all(c["generated"] == 5 * 2 for c in calibration["checkpoints"])
    for rows in calibration["examples"].values():
        assert all("<confidence>" in e["prompt"] for e in rows)
    main = json.loads((out / "audits" / "main" / "results.json").read_text())
    assert [c["name"] for c in main["checkpoints"]] == ["instruct", "grpo-binary", "grpo-rlcr"]
    drift = json.loads((out / "audits" / "drift" / "results.json").read_text())
    assert [p["probe"] for p in drift["probes"]] == ["kl"]
    claims = json.loads((out / "claims-real.json").read_text())
    posed = {c["recipe"] for c in claims["claims"]}
    assert "passk-narrowing" in posed and not posed & {"sft-defect", "roc", "update-sparsity"}
    assert [row["checkpoint"] for row in claims["checkpoints"]] == ["instruct", "grpo-binary", "grpo-rlcr"]
    assert "## What this model does" in (out / "claims-real.md").read_text()
    for audit, probe in (("framing", "framing"), ("faithfulness", "faithfulness")):
        ran = json.loads((out / "audits" / audit / "results.json").read_text())
        assert [p["probe"] for p in ran["probes"]] == [probe]
        assert [c["name"] for c in ran["checkpoints"]] == ["instruct", "grpo-binary"]
