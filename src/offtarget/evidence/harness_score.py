"""Say so when offtarget's grading of a log disagrees strongly with the score the harness stored.

offtarget re-grades every completion of a log with the suite's own verifier. When that verifier
misreads the log's answers (a task file whose answer format it does not parse), accuracy can
fall from the harness's 0.783 to 0.025 without any error, and every comparison and routing
decision built on it is wrong. Both graders read the *same* completions, so a large gap is a
grading difference, not sampling noise: it is reported with both numbers.

The harness's number is the mean of the per-row scores it stored (lm-eval: the first filter's
metric, one value per document; Inspect: the first scorer, ``C``/``I`` as 1/0), on the problems
and samples the audit used.

    >>> disagreement_note("sft", "lm-eval exact_match, filter first", 0.783, 0.025, 30)[:71]
    'sft: offtarget grades these completions 0.025 where lm-eval exact_match'
"""

from __future__ import annotations

import numpy as np

from offtarget.evidence.records import LogEvidence
from offtarget.tasks.problem import Problem

STRONG_DISAGREEMENT = 0.2
"""|harness score − offtarget accuracy| from which the two graders are said to disagree. Below it the
gap can come from how the harness summarises samples (lm-eval's ``take_first`` scores one sample
of four). The lab base model's lm-eval log is above it: its filter's regex skips the reversed
``r 58`` format, so lm-eval stores 0.500 where offtarget grades 0.733."""


def harness_mean(log: LogEvidence, problems: list[Problem], n: int) -> tuple[float, int] | None:
    """(mean stored score, rows) over the first ``n`` samples of each of ``problems``; ``None`` when
    the log stored no score for them."""
    rows = log.by_problem()
    scores = [r.harness_score for p in problems for r in rows.get(p.id, [])[:n]]
    if not scores or any(s is None for s in scores):
        return None
    return float(np.mean(scores)), len(scores)


def disagreement_note(name: str, metric: str, harness: float, offtarget: float, problems: int) -> str:
    return (f"{name}: offtarget grades these completions {offtarget:.3f} where {metric} stored {harness:.3f} "
            f"(same completions, {problems} problems): the two graders read the answers differently; check "
            "which one misreads this log's answer format (is the --suite the one the log was made from?) before "
            "trusting the comparison")


def harness_note(name: str, log: LogEvidence, problems: list[Problem], n: int, correct: np.ndarray) -> str | None:
    """The note when offtarget's accuracy (``correct``, problems × samples) and the harness's stored
    score differ by at least :data:`STRONG_DISAGREEMENT`; ``None`` otherwise or when there is no score."""
    found = harness_mean(log, problems, n)
    if found is None or correct.size == 0:
        return None
    harness, _ = found
    ours = float(np.mean(correct))
    if abs(harness - ours) < STRONG_DISAGREEMENT:
        return None
    return disagreement_note(name, log.harness_metric or f"the {log.kind} log", harness, ours, len(problems))
