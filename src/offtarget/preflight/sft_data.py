"""SFT data audit: verify every row of an SFT set and group the wrong ones by slice and format.

A model reproduces what its SFT data shows it, errors included, and RL started from it
sharpens those errors rather than removing them ("RL After Flawed SFT Locks In Model
Defects", after QbitAI; audit what the fine-tuning data actually taught). So before RL, each
``{"prompt", "completion"}`` row of the SFT file is checked with the task's strict verifier:
a row is wrong when it does not give the task's right response (a correct answer, or an
abstention on an unanswerable prompt). Wrong rows are grouped by slice (e.g. ``carries=2``)
and by output format, with the error rate's 95% bootstrap interval, the most common error
(for integer answers the offset from the reference, e.g. ``-10``) and an example.
:mod:`offtarget.preflight.sft_defects` then checks whether the model makes the same errors.

Prompts are turned back into problems by, in order: the row's own ``answer`` column (the
:mod:`offtarget.rewards.columns` schema), the task's ``problem_for_prompt`` if it has one,
the arithmetic grammar (``a+b=``, ``a + b =``, a letter for a missing operand), or a lookup
in the task's own problems. Rows none of these can read are counted as unverifiable.

    >>> from offtarget.tasks import ArithmeticTask
    >>> problem_for_prompt(ArithmeticTask(), "27+58=").slice
    'carries=1'
    >>> error_signature(problem_for_prompt(ArithmeticTask(), "27+58="), ArithmeticTask().verify(
    ...     problem_for_prompt(ArithmeticTask(), "27+58="), "d 75"))
    '-10'

    offtarget preflight --model runs/lab/sft-defect --reference models/lab/base --sft-data sft.jsonl --out runs/pf
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from offtarget.errors import OfftargetError
from offtarget.jsonlines import read_objects
from offtarget.preflight.foothold import success
from offtarget.rewards.columns import completion_text, problems_from_columns, prompt_text
from offtarget.stats import Estimate, bootstrap_mean
from offtarget.tasks.problem import Problem, Task, Verdict

_ARITH = re.compile(r"(?P<a>\d+|[a-z])(?P<sp> ?)\+(?P=sp)(?P<b>\d+|[a-z])(?P=sp)=")


# ---------------------------------------------------------------------------------------------
# Reading rows back into problems


def read_sft_rows(path: str | Path) -> list[dict]:
    """``{"prompt", "completion", ...}`` rows of a JSONL file (text or chat-message lists)."""
    path = Path(path)
    rows = []
    for lineno, row in read_objects(path, "--sft-data"):
        if "prompt" not in row or "completion" not in row:
            raise OfftargetError(f"{path}:{lineno}: each row needs 'prompt' and 'completion' fields")
        rows.append(row)
    if not rows:
        raise OfftargetError(f"{path}: no rows; give a JSONL file with prompt/completion rows")
    return rows


def arithmetic_problem(prompt: str) -> Problem | None:
    """The :class:`~offtarget.tasks.arithmetic.ArithmeticTask` problem a prompt states, slice included."""
    from offtarget.tasks.arithmetic import carries

    m = _ARITH.fullmatch(prompt.strip())
    if m is None:
        return None
    a, b = m.group("a"), m.group("b")
    if not (a.isdigit() and b.isdigit()):
        return Problem(f"data/{prompt}", prompt, None, "train", "unanswerable", True)
    x, y = int(a), int(b)
    if m.group("sp"):
        slice_ = "surface"
    elif x >= 50 and y >= 50:
        slice_ = "quadrant"
    else:
        slice_ = f"carries={sum(c for c, _ in carries(x, y))}"
    return Problem(f"data/{prompt}", prompt, str(x + y), "train", slice_, False, {"a": x, "b": y})


def problem_for_prompt(task: Task, prompt: str) -> Problem | None:
    """The problem behind ``prompt`` for ``task`` (see the module docstring), or ``None``."""
    own = getattr(task, "problem_for_prompt", None)
    if own is not None:
        return own(prompt)
    from offtarget.tasks.arithmetic import ArithmeticTask

    if isinstance(task, ArithmeticTask):
        return arithmetic_problem(prompt)
    for p in getattr(task, "items", ()) or ():
        if p.prompt == prompt:
            return p
    return None


def error_signature(problem: Problem, verdict: Verdict) -> str:
    """What kind of wrong a wrong response is: an integer offset, or a named behaviour."""
    if problem.should_abstain:
        return "answered an unanswerable prompt"
    if verdict.abstained:
        return "abstained on an answerable prompt"
    if verdict.format == "malformed" or verdict.answer is None:
        return "malformed"
    try:
        return f"{int(verdict.answer) - int(problem.answer):+d}"
    except (TypeError, ValueError):
        return "wrong answer"


# ---------------------------------------------------------------------------------------------
# The audit


@dataclass
class DataGroup:
    """The rows of one slice (or format) and how many of them are wrong."""

    key: str
    rows: int
    wrong: int
    rate: Estimate
    """Share of wrong rows, 95% bootstrap interval over rows."""
    wrong_formats: dict[str, int] = field(default_factory=dict)
    modal_error: str | None = None
    modal_share: float | None = None
    """Share of the wrong rows that show ``modal_error``."""
    example: dict | None = None

    def row(self) -> dict:
        return {"slice": self.key, "rows": self.rows, "wrong": self.wrong, "wrong_rate": self.rate.value,
                "low": self.rate.low, "high": self.rate.high, "common_error": self.modal_error,
                "common_error_share": self.modal_share,
                "wrong_by_format": ", ".join(f"{k} {v}" for k, v in self.wrong_formats.items()),
                "example": None if self.example is None else
                f"{self.example['prompt']} → {self.example['completion']} (reference {self.example['answer']})"}


@dataclass
class DataAudit:
    """Every row verified; wrong rows grouped by slice and by format."""

    path: str
    rows: int
    verified: int
    wrong: int
    unverifiable: int
    by_slice: list[DataGroup]
    by_format: list[DataGroup]

    def slice(self, name: str) -> DataGroup | None:
        return next((g for g in self.by_slice if g.key == name), None)


def _group(key: str, items: list[tuple[Problem, str, Verdict, bool]], n_resamples: int, seed: int) -> DataGroup:
    flags = np.array([not ok for *_, ok in items], dtype=float)
    wrong = [(p, t, v) for p, t, v, ok in items if not ok]
    sigs = Counter(error_signature(p, v) for p, _, v in wrong)
    modal, count = sigs.most_common(1)[0] if sigs else (None, 0)
    example = None
    for p, t, v in wrong:
        if error_signature(p, v) == modal:
            example = {"prompt": p.prompt, "completion": t, "answer": p.answer}
            break
    return DataGroup(key, len(items), len(wrong), bootstrap_mean(flags, n_resamples=n_resamples, seed=seed),
                     dict(Counter(v.format for _, _, v in wrong).most_common()), modal,
                     count / len(wrong) if wrong else None, example)


def audit_sft_data(path: str | Path, task: Task, n_resamples: int = 1000, seed: int = 0) -> DataAudit:
    """Verify each row of the SFT file with ``task``'s strict verifier; group the wrong ones."""
    raw = read_sft_rows(path)
    verified: list[tuple[Problem, str, Verdict, bool]] = []
    unverifiable = 0
    for i, row in enumerate(raw):
        prompt, text = prompt_text(row["prompt"]), completion_text(row["completion"])
        if "answer" in row:
            cols = {k: [row.get(k)] for k in ("answer", "id", "split", "slice", "should_abstain", "metadata")
                    if k in row}
            problem = problems_from_columns([prompt], **cols)[0]
        else:
            problem = problem_for_prompt(task, prompt)
        if problem is None:
            unverifiable += 1
            continue
        verdict = task.verify(problem, text)
        verified.append((problem, text, verdict, success(problem, verdict)))
    if not verified:
        raise OfftargetError(
            f"--sft-data {path}: no row could be matched to a {getattr(task, 'name', 'task')} problem; "
            "add an 'answer' field to each row (the offtarget.rewards.problem_to_row schema)"
        )
    by_slice: dict[str, list] = {}
    by_format: dict[str, list] = {}
    for item in verified:
        by_slice.setdefault(item[0].slice, []).append(item)
        by_format.setdefault(item[2].format, []).append(item)
    slices = sorted((_group(k, v, n_resamples, seed) for k, v in by_slice.items()), key=lambda g: -g.rate.value)
    formats = sorted((_group(k, v, n_resamples, seed) for k, v in by_format.items()), key=lambda g: -g.rate.value)
    return DataAudit(str(path), len(raw), len(verified), sum(not ok for *_, ok in verified), unverifiable,
                     slices, formats)
