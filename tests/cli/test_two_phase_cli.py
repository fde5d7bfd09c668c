"""Two-phase entropy end to end: the real CLI on the chat lab model, checked against the stored tokens."""

from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pytest

CHAT = "models/lab/chat"
SUITE = "models/lab/chat/tasks.jsonl"


def _execution_entropy_from_store(store, tokenizer) -> float:
    """Reference: per sample the mean entropy of tokens whose text holds a digit or arithmetic sign,
    per problem the mean over its samples, then the mean over problems."""
    db = sqlite3.connect(store)
    # the T = 1 samples (the store also holds one greedy draw per problem, under other parameters)
    (sampled,) = db.execute("select params from generations group by params having max(sample_index) = 1").fetchone()
    per_problem: dict[str, list[float]] = {}
    for problem, ids, ent in db.execute(
            "select problem_id, token_ids, entropies from generations where params = ?", (sampled,)):
        ids, ent = np.frombuffer(ids, dtype=np.int32), np.frombuffer(ent, dtype=np.float32)
        mask = np.array([bool(re.search(r"[0-9+\-−*×/÷=^]", tokenizer.decode([int(t)]))) for t in ids])
        if mask.any():
            per_problem.setdefault(problem, []).append(float(ent[mask].mean()))
    return float(np.mean([np.mean(v) for v in per_problem.values()]))


def test_two_phase_entropy_in_the_cli(cli, tmp_path):
    from transformers import AutoTokenizer

    out = tmp_path / "run"
    cli("audit", "--model", f"a={CHAT}", "--model", f"b={CHAT}", "--suite", SUITE, "--max-new-tokens", "96",
        "--problems", "6", "--samples", "2", "--bootstrap", "200", "--splits", "test",
        "--probes", "two_phase_entropy", "--out", out, check=True)
    data = json.loads((out / "results.json").read_text())
    (probe,) = data["probes"]
    assert probe["probe"] == "two_phase_entropy" and probe["error"] is None
    got = {(m["metric"], m["checkpoint"]): m for m in probe["metrics"] if m["group"] == "test"}
    for metric in ("planning_token_entropy", "execution_token_entropy", "planning_token_share"):
        a, b = got[(metric, "a")], got[(metric, "b")]
        assert a["value"] is not None and a["value"] == b["value"] and a["n"] == 6  # one checkpoint twice
        assert a["low"] <= a["value"] <= a["high"] and a["higher_is_better"] is None  # descriptive
    assert 0.0 < got[("planning_token_share", "a")]["value"] < 1.0
    # the chat model writes "so 49 + 32 = 81": execution tokens are most of its reasoning
    reference = _execution_entropy_from_store(out / "generations.sqlite", AutoTokenizer.from_pretrained(CHAT))
    assert got[("execution_token_entropy", "a")]["value"] == pytest.approx(reference, rel=1e-5)
    assert not [c for c in probe["comparisons"] if c["flag"] != "none"]
    report = (out / "report.md").read_text()
    assert "## two_phase_entropy" in report and "arXiv 2509.03646" in report
    assert re.search(r"\| execution_token_entropy \| test \| [0-9.]+ \[", report)
