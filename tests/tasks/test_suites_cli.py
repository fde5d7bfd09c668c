"""The real CLI on external suites: an audit and a preflight on reasoning-gym, an audit on a local HF dataset."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("reasoning_gym")

BASE, SFT, CHAT = "models/lab/base", "models/lab/sft", "models/lab/chat"

pytestmark = pytest.mark.slow


def run_cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)], check=False, capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    return proc


def test_audit_on_a_reasoning_gym_suite(tmp_path):
    out = tmp_path / "rg"
    # the chat lab model: reasoning-gym prompts need more than the char-level models' 64 positions
    run_cli("audit", "--suite", "rg:basic_arithmetic", "--model", f"a={CHAT}", "--model", f"b={CHAT}",
            "--samples", "2", "--problems", "10", "--probes", "accuracy,formats", "--bootstrap", "100", "--out", out)
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "rg:basic_arithmetic"
    assert [c["n_problems"] for c in results["checkpoints"]] == [20, 20]  # 10 test + 10 ood
    acc = {(m["checkpoint"], m["group"]): m["value"] for p in results["probes"] for m in p["metrics"]
           if m["metric"] == "accuracy"}
    assert {("a", "test"), ("a", "ood"), ("b", "test"), ("b", "ood")} <= set(acc)
    assert all(0.0 <= v <= 1.0 for v in acc.values())  # the lab models cannot do these; the audit still reports
    assert all(p.get("error") is None for p in results["probes"])


def test_preflight_on_a_reasoning_gym_suite(tmp_path):
    out = tmp_path / "pf"
    run_cli("preflight", "--suite", "rg:basic_arithmetic", "--model", SFT, "--reference", BASE,
            "--samples", "2", "--problems", "10", "--out", out)
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "rg:basic_arithmetic"
    assert (out / "report.md").exists()


def test_audit_on_a_local_hf_dataset(tmp_path):
    import datasets

    rows = [{"question": f"{a}+{b}=", "answer": f"work\n#### {a + b}"} for a, b in [(12, 30), (5, 7), (40, 2)]]
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "ds"))
    (tmp_path / "suite.yaml").write_text(f"suite: hf:{tmp_path / 'ds'}\nanswer_regex: '####\\s*(.+)'\n")
    out = tmp_path / "hf"
    run_cli("audit", "--suite", tmp_path / "suite.yaml", "--model", f"a={BASE}", "--model", f"b={SFT}",
            "--samples", "2", "--problems", "3", "--splits", "test", "--probes", "accuracy", "--bootstrap", "100",
            "--out", out)
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == f"hf:{tmp_path / 'ds'}"
    assert [c["n_problems"] for c in results["checkpoints"]] == [3, 3]
