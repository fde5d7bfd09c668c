"""What reaches the store: completions with lone surrogates, and a disk that fills up."""

from __future__ import annotations

import json
import resource

from cli_harness import assert_refused, offtarget


def _suite_and_logs(tmp_path, completion_a: str):
    suite = tmp_path / "tasks.jsonl"
    suite.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Compute {i} + 1.", "answer": str(i + 1)}) + "\n"
                             for i in range(4)))
    logs = []
    for name, text in (("a", completion_a), ("b", "\"Answer: 2\"")):
        log = tmp_path / f"{name}.jsonl"
        # written by hand so the JSON escape of a lone surrogate survives as the harness wrote it
        log.write_text("".join(f'{{"problem_id": "p{i}", "completion": {text}}}\n' for i in range(4)))
        logs.append(log)
    return suite, logs


def test_lone_surrogate_in_an_imported_completion_is_stored(tmp_path):
    suite, (a, b) = _suite_and_logs(tmp_path, '"Answer: 2 \\ud800"')
    out = tmp_path / "run"
    proc = offtarget("audit", "--suite", suite, "--splits", "test", "--model", f"a=completions:{a}",
                     "--model", f"b=completions:{b}", "--probes", "accuracy", "--out", out, "--no-greedy")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    shown = [r["completion"] for r in results["examples"]["a"]]
    assert shown and all(s == "Answer: 2 \\ud800" for s in shown), shown


def test_full_disk_is_one_line(tmp_path):
    suite, (a, b) = _suite_and_logs(tmp_path, '"Answer: 2"')
    out = tmp_path / "run"

    def small_disk():  # every file this process writes stops growing at 2 KiB (EFBIG, as a full disk)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    proc = offtarget("audit", "--suite", suite, "--splits", "test", "--model", f"a=completions:{a}",
                     "--model", f"b=completions:{b}", "--probes", "accuracy", "--out", out, "--no-greedy",
                     preexec_fn=small_disk)
    assert_refused(proc, str(out), "free disk space")


def test_lmeval_results_file_instead_of_samples_names_the_right_file(tmp_path):
    suite, _ = _suite_and_logs(tmp_path, '"Answer: 2"')
    results = tmp_path / "results_2025-01-01T00-00-00.json"
    results.write_text(json.dumps({"results": {"gsm8k": {"exact_match,strict-match": 0.78}}}, indent=2))
    (tmp_path / "samples_gsm8k_2025-01-01T00-00-00.jsonl").write_text("")
    out = tmp_path / "run"
    assert_refused(offtarget("audit", "--suite", suite, "--model", f"a=lmeval:{results}", "--out", out),
                   "aggregate results file", "samples_gsm8k_2025-01-01T00-00-00.jsonl")
    assert not out.exists()
