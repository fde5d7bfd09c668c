"""What an audit of logs says about the logs themselves, through the real CLI: a prompt format that
differs between logs, a harness score the re-grade contradicts, and too few shared problems to test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
CHAT = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


def _suite(tmp: Path, n: int) -> Path:
    suite = tmp / "tasks.jsonl"
    suite.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Compute {i} + 1.", "answer": str(i + 1)}) + "\n"
                             for i in range(n)))
    return suite


def _lmeval_log(path: Path, n: int, prompt_fmt: str, completion, stored: float) -> Path:
    """An lm-eval ``samples_*.jsonl`` as ``--log_samples`` writes it (one repeat, filter ``none``)."""
    lines = []
    for i in range(n):
        prompt = f"Compute {i} + 1."
        lines.append(json.dumps({
            "doc_id": i, "doc": {"id": f"p{i}", "prompt": prompt, "answer": str(i + 1)}, "target": str(i + 1),
            "arguments": {"gen_args_0": {"arg_0": prompt_fmt.format(prompt),
                                         "arg_1": {"until": ["\n"], "do_sample": False, "max_gen_toks": 16}}},
            "resps": [[completion(i)]], "filtered_resps": [completion(i)], "filter": "none",
            "metrics": ["exact_match"], "exact_match": stored}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _audit(tmp: Path, suite: Path, a: Path, b: Path) -> tuple[dict, str]:
    out = tmp / "run"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    proc = subprocess.run([sys.executable, "-m", "offtarget.cli", "audit", "--suite", str(suite), "--splits", "test",
                           "--model", f"a=lmeval:{a}", "--model", f"b=lmeval:{b}", "--probes", "accuracy",
                           "--no-greedy", "--bootstrap", "200", "--out", str(out)],
                          check=False, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), (out / "report.md").read_text()


def test_chat_templated_log_against_plain_log_and_a_contradicted_harness_score_are_noted(tmp_path):
    suite = _suite(tmp_path, 8)
    plain = _lmeval_log(tmp_path / "samples_a.jsonl", 8, "{}", lambda i: f"Answer: {i + 1}", 1.0)
    # the harness graded number words right; the suite's verifier reads digits only
    chat = _lmeval_log(tmp_path / "samples_b.jsonl", 8, CHAT, lambda i: f"The answer is {WORDS[i + 1]}.", 1.0)
    results, report = _audit(tmp_path, suite, plain, chat)
    notes = results["evidence_notes"]
    fmt = [n for n in notes if n.startswith("prompt format differs between a and b")]
    assert len(fmt) == 1, notes
    assert "'{prompt}' (the problem as is)" in fmt[0] and "<|im_start|>user\\n{prompt}<|im_end|>" in fmt[0], fmt[0]
    graded = [n for n in notes if n.startswith("b: offtarget grades these completions")]
    assert graded == [n for n in notes if "offtarget grades" in n], notes  # a's stored 1.0 agrees with its re-grade
    assert "0.000 where lm-eval exact_match, filter none stored 1.000 (same completions, 8 problems)" in graded[0]
    assert "prompt format differs between a and b" in report and "offtarget grades these completions 0.000" in report


@pytest.mark.parametrize("n", [3, 5])  # 3: no group is measured at all; 5: measured, but 2/2^5 = 0.0625 ≥ 0.05
def test_too_few_shared_problems_say_nothing_could_be_measured(tmp_path, n):
    suite = _suite(tmp_path, n)
    a = _lmeval_log(tmp_path / "samples_a.jsonl", n, "{}", lambda i: f"Answer: {i + 7}", 0.0)
    b = _lmeval_log(tmp_path / "samples_b.jsonl", n, "{}", lambda i: f"Answer: {i + 1}", 1.0)
    results, report = _audit(tmp_path, suite, a, b)
    summary = results["headline"][0]["summary"]
    assert summary.startswith(f"b vs a: nothing could be measured: {n} shared problems, minimum 6"), summary
    assert "no significant difference" not in report
    assert f"b vs a: nothing could be measured: {n} shared problems, minimum 6" in report
    # same format and agreeing graders: no note about either
    assert not [n for n in results["evidence_notes"] if "prompt format" in n or "offtarget grades" in n]
