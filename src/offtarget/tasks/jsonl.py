"""Users' own tasks from a JSONL file, checked with ``math-verify`` for mathematical answers.

One JSON object per line::

    {"id": "gsm-17", "prompt": "Tom has 3 apples ...", "answer": "42",
     "split": "test", "slice": "word-problems", "should_abstain": false,
     "metadata": {"answer_type": "math"}}

Only ``prompt`` and ``answer`` are required (``answer`` is ``null`` for an item whose right
response is to abstain; ``should_abstain`` then defaults to true). ``split`` defaults to
``test``; use ``ood`` for shifted items so the ood probe can compare them. ``answer_type``
is ``math`` (default: compared with math-verify, so ``0.5``, ``1/2`` and ``\\frac{1}{2}``
agree) or ``exact`` (string equality after trimming).

The final answer of a completion is the last ``\\boxed{...}``, else an ``Answer: ...`` line,
else the last number; its format label says which (``boxed``, ``answer-line``, ``bare``).
A stated confidence is ``<confidence>0.8</confidence>`` or ``Confidence: 0.8``.

    >>> task = JsonlTask.from_file("my_eval.jsonl")
    >>> task.verify(task.problems("test", 1)[0], "... so the answer is \\\\boxed{42}")
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.jsonlines import read_objects
from offtarget.tasks.problem import Problem, Verdict

ABSTAIN_PATTERNS = re.compile(
    r"\b(i don'?t know|i do not know|cannot be determined|can'?t be determined|not enough information|"
    r"insufficient information|unanswerable|i cannot answer|i can'?t answer|no answer)\b",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_ANSWER_LINE = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*([^\n]+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_CONF = re.compile(r"<confidence>\s*([^<]*)</confidence>|confidence\s*[:=]\s*([0-9.]+)", re.IGNORECASE)
_KEYS = {"id", "prompt", "answer", "split", "slice", "should_abstain", "metadata"}


def extract_answer(text: str) -> tuple[str | None, str]:
    """The final answer and the format label it was found by."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1].strip(), "boxed"
    line = _ANSWER_LINE.findall(text)
    if line:
        return line[-1].strip().rstrip("."), "answer-line"
    nums = _NUMBER.findall(text)
    if nums:
        return nums[-1], "bare"
    return None, "malformed"


def stated_confidence(text: str) -> float | None:
    m = None
    for m in _CONF.finditer(text):
        pass
    if m is None:
        return None
    raw = m.group(1) if m.group(1) is not None else m.group(2)
    try:
        q = float(raw.strip().rstrip("%"))
    except ValueError:
        return None
    return q if 0.0 <= q <= 1.0 else None


def answers_match(predicted: str, reference: str, answer_type: str = "math") -> bool:
    """math-verify equivalence for mathematical answers, trimmed string equality otherwise."""
    if answer_type == "exact":
        return predicted.strip() == reference.strip()
    if predicted.replace(",", "").strip() == reference.replace(",", "").strip():
        return True
    from math_verify import parse, verify

    try:
        gold = parse(f"${reference}$")
        pred = parse(f"${predicted}$")
        return bool(gold) and bool(pred) and bool(verify(gold, pred))
    except Exception:  # noqa: BLE001 - math-verify raises on unparseable input; that is "no match"
        return False


@dataclass
class JsonlTask:
    """A task read from a JSONL file (see the module docstring for the schema)."""

    name: str
    items: list[Problem] = field(default_factory=list)
    formats: tuple[str, ...] = ("boxed", "answer-line", "bare")

    @classmethod
    def from_file(cls, path: str | Path) -> "JsonlTask":
        path = Path(path)
        items: list[Problem] = []
        seen: set[str] = set()
        for lineno, row in read_objects(path, "task file"):
            unknown = set(row) - _KEYS
            if unknown:
                raise OfftargetError(f"{path}:{lineno}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
            if not isinstance(row.get("prompt"), str) or not row["prompt"]:
                raise OfftargetError(f"{path}:{lineno}: field 'prompt' must be a non-empty string")
            if "answer" not in row:
                raise OfftargetError(f"{path}:{lineno}: field 'answer' is missing (use null for items to abstain on)")
            answer = row["answer"]
            if answer is not None and not isinstance(answer, (str, int, float)):
                raise OfftargetError(f"{path}:{lineno}: field 'answer' must be a string, number or null")
            pid = str(row.get("id", f"{path.stem}-{lineno}"))
            if pid in seen:
                raise OfftargetError(f"{path}:{lineno}: duplicate id {pid!r}; ids must be unique")
            seen.add(pid)
            metadata = row.get("metadata", {})
            if not isinstance(metadata, dict):
                raise OfftargetError(f"{path}:{lineno}: field 'metadata' must be an object")
            items.append(Problem(
                id=pid, prompt=row["prompt"], answer=None if answer is None else str(answer),
                split=str(row.get("split", "test")), slice=str(row.get("slice", "all")),
                should_abstain=bool(row.get("should_abstain", answer is None)), metadata=metadata,
            ))
        if not items:
            raise OfftargetError(f"{path}: no problems in the file")
        return cls(name=path.stem, items=items)

    def problems(self, split: str, n: int, seed: int = 0) -> list[Problem]:
        pool = [p for p in self.items if p.split == split]
        if n >= len(pool):
            return pool
        picked = set(p.id for p in random.Random(f"{self.name}/{split}/{seed}").sample(pool, n))
        return [p for p in pool if p.id in picked]

    def verify(self, problem: Problem, completion: str) -> Verdict:
        confidence = stated_confidence(completion)
        answer, fmt = extract_answer(completion)
        if ABSTAIN_PATTERNS.search(completion) and fmt in ("malformed", "bare"):
            return Verdict(None, False, True, "abstain", confidence)
        if answer is None:
            return Verdict(None, False, False, "malformed", confidence)
        correct = problem.answer is not None and answers_match(
            answer, problem.answer, problem.metadata.get("answer_type", "math")
        )
        return Verdict(answer, correct, False, fmt, confidence)
