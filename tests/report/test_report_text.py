"""report.md and the terminal summary carry the findings and the optional sections."""

from __future__ import annotations

from rich.console import Console

from offtarget.audit.results import AuditResults
from offtarget.report.markdown import render_markdown
from offtarget.report.terminal import print_summary


def test_markdown_sections(results):
    results["claims"][0]["claim"] = "pass@k | narrows\nat large k"
    md = render_markdown(AuditResults.from_dict(results))
    order = ["## Verdict", "## Routing", "## Headline", "## Findings and prescriptions", "## Claims", "## Preflight", "## accuracy",
             "## faithfulness", "## Costs"]
    positions = [md.index(h) for h in order]
    assert positions == sorted(positions)
    findings = md[md.index("## Findings"):md.index("## Claims")]
    assert "### rl: stated or likelihood confidence" in findings
    assert "`offtarget train grpo --reward correctness --reward brier:0.5 --scale-rewards batch" in findings
    assert "| calibration | ece_verbalized | test | 0.050 → 0.200 |" in findings
    assert "pass@k \\| narrows at large k" in md  # table-safe
    assert "### Reward red-team — **hackable**" in md
    assert "**not run:** needs a steps format" in md
    assert "▼ (p_adj" in md


def test_markdown_without_flags_or_optional_sections(results):
    for p in results["probes"]:
        for c in p["comparisons"]:
            c["flag"] = "none"
    del results["claims"], results["preflight"]
    md = render_markdown(AuditResults.from_dict(results))
    assert "No flagged regressions" in md and "## Claims" not in md and "## Preflight" not in md


def test_terminal_lists_findings_briefly(results):
    console = Console(record=True, width=200)
    print_summary(AuditResults.from_dict(results), console)
    text = console.export_text()
    assert "findings (4 flagged regression(s)):" in text
    assert "▼ rl: stated or likelihood confidence no longer tracks correctness — ece_verbalized on test" in text
    assert "→ offtarget train grpo --reward correctness --reward brier" in text
    assert sum(line.startswith("    → ") for line in text.splitlines()) == 4  # one prescription per finding group


def test_terminal_without_flags(results):
    for p in results["probes"]:
        for c in p["comparisons"]:
            c["flag"] = "none"
    console = Console(record=True, width=200)
    print_summary(AuditResults.from_dict(results), console)
    assert "findings: no flagged regressions" in console.export_text()
