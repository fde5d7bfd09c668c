"""Red-team: partial credit for a wrong answer that holds the right one is probed, and the headline
counts only patterns that ran on this suite."""

from __future__ import annotations

import json
import textwrap

from cli_harness import SFT, offtarget

PARTIAL = textwrap.dedent('''
    def prefix_credit(prompts, completions, answer, **kwargs):
        """Pays a completion that starts with the right answer (string prefix matching)."""
        return [1.0 if a is not None and c.strip().startswith(f"d {a}") else 0.0 for c, a in zip(completions, answer)]

    def substring_credit(prompts, completions, answer, **kwargs):
        """Pays half for the right answer anywhere in the text."""
        return [1.0 if c.strip() == f"d {a}" else (0.5 if a is not None and a in c else 0.0)
                for c, a in zip(completions, answer)]
''')


def test_prefix_and_substring_credit_are_found(tmp_path):
    (tmp_path / "partial.py").write_text(PARTIAL)
    out = tmp_path / "rt"
    proc = offtarget("preflight", "--model", SFT, "--checks", "redteam", "--redteam-problems", 20, "--bootstrap",
                     200, "--reward", "partial:prefix_credit", "--reward", "partial:substring_credit",
                     "--reward", "correctness", "--out", out, pythonpath=tmp_path, timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    exploits = {(e["reward"], e["pattern"]) for e in results["preflight"]["redteam_exploits"]["rows"]}
    assert ("partial:prefix_credit", "right_as_prefix") in exploits, exploits
    assert ("partial:substring_credit", "right_inside") in exploits, exploits
    rows = {r["reward"]: r for r in results["preflight"]["redteam"]["rows"]}
    assert rows["correctness"]["verdict"] == "not found hackable"
    text = results["preflight"]["redteam"]["summary"]
    assert "patterns tried" in text


PLAIN_ONLY = textwrap.dedent('''
    def plain_only(prompts, completions, answer, **kwargs):
        """Pays the right answer only in the direct format, d N: right answers in other formats earn 0."""
        return [1.0 if a is not None and c.strip() == f"d {a}" else 0.0 for c, a in zip(completions, answer)]

    def boxed_only(prompts, completions, answer, **kwargs):
        """Pays the right answer only when boxed, the task's first format: "Answer: N" earns 0."""
        return [1.0 if a is not None and c.strip() == chr(92) + "boxed{" + a + "}" else 0.0
                for c, a in zip(completions, answer)]
''')


def _preflight(tmp_path, *args):
    (tmp_path / "plain.py").write_text(PLAIN_ONLY)
    out = tmp_path / "rt"
    proc = offtarget("preflight", "--checks", "redteam", "--redteam-problems", 20, "--bootstrap", 200, *args,
                     "--out", out, pythonpath=tmp_path, timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    return results["preflight"]["redteam"], results["preflight_details"]["redteam"]


def test_right_answer_paid_less_in_another_format_is_found(tmp_path):
    section, details = _preflight(tmp_path, "--model", SFT, "--reward", "plain:plain_only", "--reward", "correctness")
    rows = {r["reward"]: r for r in section["rows"]}
    assert rows["plain:plain_only"]["verdict"] == "underpays right answers", section["summary"]
    assert rows["correctness"]["verdict"] == "not found hackable", section["summary"]
    assert section["verdict"] == "pays a right answer less in another wrapper: plain:plain_only"
    other = {w["pattern"]: w for w in details["plain:plain_only"]["wrappers"]}["right_other_format"]
    # the task accepts "r 88"/"s 08 08 = 88" as right; the reward pays them 0 against 1 for "d 88"
    assert other["n"] == 20 and other["mean"] == 0.0 and other["deficit"]["value"] == 1.0 and other["underpaid"]
    assert details["plain:plain_only"]["plain_correct"] == 1.0
    assert not any(w["underpaid"] for w in details["correctness"]["wrappers"])
    assert "right_other_format" in section["summary"] and "1.000 for the plain right answer" in section["summary"]


def test_generic_wrappers_and_a_title_counting_only_patterns_that_ran(tmp_path):
    suite = tmp_path / "tasks.jsonl"
    suite.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Compute {i} + 12.", "answer": str(i + 12),
                                         "split": "train"}) + "\n" for i in range(20)))
    section, details = _preflight(tmp_path, "--model", SFT, "--suite", suite, "--split", "train",
                                  "--reward", "plain:boxed_only", "--reward", "correctness")
    rows = {r["reward"]: r for r in section["rows"]}
    assert rows["plain:boxed_only"]["verdict"] == "underpays right answers", section["summary"]
    line = {w["pattern"]: w for w in details["plain:boxed_only"]["wrappers"]}["right_answer_line"]
    assert line["n"] == 20 and line["underpaid"] and line["deficit"]["value"] == 1.0
    assert not any(w["underpaid"] for w in details["correctness"]["wrappers"])
    # the generic verifier accepts some patterns as right (they never run): the title counts the others
    ran = {p["pattern"] for r in details.values() for p in r["patterns"] if p["n"]}
    total = len(details["correctness"]["patterns"])
    assert 0 < len(ran) < total, ran
    assert section["title"] == (f"Reward red-team: {len(ran)} adversarial patterns × 20 problems "
                                f"({total - len(ran)} more never applied on this suite)")
    tried = sum(1 for p in details["correctness"]["patterns"] if p["n"])
    assert f"none of {tried} patterns tried" in details["correctness"]["summary"], details["correctness"]["summary"]
