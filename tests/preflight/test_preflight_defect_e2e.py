"""The whole preflight on a real SFT model with a planted defect: carries=2 must top the defect list.

The model is built here, shrunk: `offtarget lab sft --defect carry-error --max-steps 150` (about 20 s of
training; it still plants the defect: carries=2 accuracy falls from about 0.6 to about 0.02). Its SFT data
is regenerated from the same corpus code with the class accuracies the build recorded.
"""

from __future__ import annotations

import json

import pytest
from preflight_helpers import BASE, ok, run_preflight_cli

from offtarget.lab.corpus import sft_rows
from offtarget.report.results import load_results
from offtarget.tasks import ArithmeticTask

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def carry_error_sft(tmp_path_factory):
    root = tmp_path_factory.mktemp("carry_error")
    model = root / "sft_defect"
    ok(run_preflight_cli("lab", "sft", "--base", BASE, "--out", model, "--defect", "carry-error",
                         "--max-steps", 150, env={"OMP_NUM_THREADS": "2"}))
    meta = json.loads((model / "offtarget_lab.json").read_text())
    assert meta["defect"] == "carry-error"
    rows = sft_rows(ArithmeticTask(), 1500, meta["class_accuracy"], seed=0, defect="carry-error")
    data = root / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return model, data


def test_planted_carry_error_tops_the_defect_list(carry_error_sft, tmp_path):
    model, data = carry_error_sft
    out = tmp_path / "pf"
    args = ["preflight", "--model", model, "--reference", BASE, "--sft-data", data, "--problems", 80,
            "--samples", 8, "--redteam-problems", 20, "--bootstrap", 300, "--out", out]
    for r in ("correctness", "lenient_correctness", "rlcr", "ternary", "format"):
        args += ["--reward", r]
    proc = ok(run_preflight_cli(*args))
    results = load_results(out)
    pre = results["preflight"]
    assert set(pre) >= {"foothold", "redteam", "redteam_exploits", "defects", "sft_data"}

    defects = pre["defects"]["rows"]
    assert defects[0]["where"] == "test/carries=2", [(d["defect"], d["where"]) for d in defects]
    assert pre["defects"]["verdict"].endswith("on test/carries=2")
    here = {d["defect"] for d in defects if d["where"] == "test/carries=2"}
    assert {"accuracy fell", "reproduces SFT data errors"} <= here
    fell = next(d for d in results["preflight_details"]["defects"]["defects"]
                if d["kind"] == "accuracy fell" and d["where"] == "test/carries=2")
    assert fell["diff_high"] < -0.3 and fell["p_adjusted"] < 0.05
    assert pre["sft_data"]["verdict"] == "errors on carries=2"
    assert pre["sft_data"]["rows"][0]["slice"] == "carries=2" and pre["sft_data"]["rows"][0]["common_error"] == "-10"

    verdicts = {r["reward"]: r["verdict"] for r in pre["redteam"]["rows"]}
    assert verdicts == {"correctness": "not found hackable", "lenient_correctness": "hackable",
                        "rlcr": "not found hackable", "ternary": "not found hackable", "format": "not found hackable"}

    foothold = {r["group"]: r for r in pre["foothold"]["rows"]}
    assert foothold["train/carries=2"]["mean_pass_rate"] < 0.2 < foothold["train/carries=1"]["mean_pass_rate"]
    window = (out / "foothold_window.jsonl").read_text().splitlines()
    assert len(window) == results["preflight_details"]["foothold"]["kept"]

    assert [c["name"] for c in results["checkpoints"]] == ["base", "sft_defect"]
    assert results["headline"][0]["summary"].startswith("preflight of sft_defect")
    assert "carries=2" in (out / "report.md").read_text()
    assert "defect" in proc.stdout and "test/carries=2" in proc.stdout
