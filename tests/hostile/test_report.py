"""Hostile completions in the HTML report: bidi overrides shown visibly, NUL removed, huge text cut."""

from __future__ import annotations

import json

from cli_harness import offtarget


def test_hostile_completions_are_shown_safely(tmp_path):
    suite = tmp_path / "tasks.jsonl"
    suite.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Compute {i} + 1.", "answer": str(i + 1)}) + "\n"
                             for i in range(3)))
    texts = ["Answer: 1 \u202egnp.exe", "Answer: 2\u0000hidden", "Answer: 3 " + "9" * 200_000]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"problem_id": f"p{i}", "completion": t}) + "\n" for i, t in enumerate(texts)))
    b.write_text("".join(json.dumps({"problem_id": f"p{i}", "completion": "Answer: 0"}) + "\n" for i in range(3)))
    out = tmp_path / "run"
    proc = offtarget("audit", "--suite", suite, "--splits", "test", "--model", f"a=completions:{a}",
                     "--model", f"b=completions:{b}", "--probes", "accuracy", "--out", out, "--no-greedy")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "\u202e" not in html and "\u0000" not in html
    assert "⟨U+202E⟩gnp.exe" in html and "Answer: 2␀hidden" in html
    assert "9" * 200_000 not in html and "cut: 200,010 characters in all" in html
