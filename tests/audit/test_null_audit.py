"""Null audits end to end: a checkpoint against a copy of itself must flag nothing.

The copy has the same weights and one harmless extra key in ``config.json``, so its fingerprint
differs and its samples are independent draws from the same distribution. Before the
permutation test, seed 0 of this audit flagged ECE, Brier and Murphy reliability on
``test/carries=0`` (Holm-adjusted p 2e-5 .. 1e-3) from a z-test on the bootstrap SE.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offtarget.cli import app

SFT = Path(__file__).resolve().parents[2] / "models" / "lab" / "sft"


@pytest.fixture(scope="module")
def null_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("null") / "sft-copy"
    shutil.copytree(SFT, copy)
    cfg = json.loads((copy / "config.json").read_text())
    cfg["offtarget_null_copy"] = True  # same weights, new fingerprint
    (copy / "config.json").write_text(json.dumps(cfg, indent=2))
    return copy


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_null_audit_flags_nothing(null_copy, tmp_path, seed):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["audit", "--model", f"a={SFT}", "--model", f"b={null_copy}",
                                      "--samples", "16", "--problems", "200", "--seed", str(seed),
                                      "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    rows = [c for p in data["probes"] for c in p["comparisons"]]
    tested = [c for c in rows if c["p_value"] is not None and c["higher_is_better"] is not None]
    assert len(tested) > 150
    assert all(c["test"].startswith(("permutation", "mcnemar")) for c in tested)
    flagged = [(c["probe"], c["metric"], c["group"], c["p_adjusted"]) for c in rows if c["flag"] != "none"]
    assert flagged == []
    check = data["self_check"]
    assert check["false_alarm"]["tests"] > 100 and check["false_alarm"]["flags"] == 0
    assert {m["group"] for m in check["mde"]} >= {"test", "ood"}
    assert "Self-check" in (out / "report.md").read_text()
    assert 'id="selfcheck"' in (out / "report.html").read_text()
    assert "self-check: split-half null audits" in result.output
