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
