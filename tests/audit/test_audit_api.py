"""The public Python entry point: ``offtarget.audit(...)`` returns typed results equal to results.json."""

from __future__ import annotations

import json

import pytest

import offtarget
from offtarget.audit.results import AuditResults
from offtarget.errors import OfftargetError

BASE, SFT = "models/lab/base", "models/lab/sft"


@pytest.mark.slow
def test_audit_from_python_matches_results_json(tmp_path):
    out = tmp_path / "api"
    r = offtarget.audit({"base": BASE, "sft": SFT}, samples=4, problems=20, probes=("accuracy", "formats"),
                        bootstrap=200, out=str(out))
    assert isinstance(r, AuditResults) and r.reference == "base"
    assert [c.name for c in r.checkpoints] == ["base", "sft"] and r.checkpoints[1].n_samples == 4
    on_disk = json.loads((out / "results.json").read_text())
    acc = r.metric("accuracy", "sft", "test")
    row = next(m for p in on_disk["probes"] for m in p["metrics"]
               if (m["metric"], m["checkpoint"], m["group"]) == ("accuracy", "sft", "test"))
    assert acc is not None and acc.value == row["value"] and (acc.low, acc.high) == (row["low"], row["high"])
    assert len(r.comparisons()) == sum(len(p["comparisons"]) for p in on_disk["probes"])
    assert {c.flag for c in r.flagged()} <= {"gain", "regression"}
    assert AuditResults.load(out).headline[0].checkpoint == "sft"
    assert (out / "report.html").exists()


def test_audit_from_python_validates_like_the_cli():
    with pytest.raises(OfftargetError, match="--samples and --problems must be at least 1"):
        offtarget.audit({"base": BASE}, samples=0)
    with pytest.raises(OfftargetError, match="unknown option 'sampels'"):
        offtarget.audit({"base": BASE}, sampels=4)
