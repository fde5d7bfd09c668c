"""Users' own tasks from a JSONL file, graded by the strict verifier of :mod:`offtarget.tasks.answers`.

One JSON object per line::

    {"id": "gsm-17", "prompt": "Tom has 3 apples ...", "answer": "42",
     "split": "test", "slice": "word-problems", "should_abstain": false,
     "metadata": {"answer_type": "math"}}

Only ``prompt`` and ``answer`` are required (``answer`` is ``null`` for an item whose right
response is to abstain; ``should_abstain`` then defaults to true). ``split`` defaults to
``test``; use ``ood`` for shifted items so the ood probe can compare them. ``answer_type`` is
``math`` (default: numbers compared exactly, so ``0.5``, ``1/2`` and ``\\frac{1}{2}`` agree,
other expressions with math-verify), ``exact`` (string equality after trimming), ``text``
(case-insensitive) or ``choice`` (a multiple-choice letter; one-letter references are choices).

The final answer of a completion comes after any ``<think>…</think>`` reasoning (an unclosed
``<think>`` is ``truncated-reasoning``: no answer): the last ``\\boxed{...}``, else an
``Answer: ...`` line, else a bare answer (the last number; for text answers the last line);
its format label says which (``boxed``, ``answer-line``, ``bare``). A stated confidence is
``<confidence>0.8</confidence>``, ``Confidence: 0.8`` or ``Confidence: 80%``; "I'm not sure,
the question is missing a value." and other such phrases abstain (format ``abstain``).

    >>> task = JsonlTask.from_file("my_eval.jsonl")
    >>> task.verify(task.problems("test", 1)[0], "<think>6*7</think> so the answer is \\boxed{42}")
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.jsonlines import read_objects
from offtarget.tasks.answers import (  # noqa: F401 - re-exported: the parsing API of text tasks
    ABSTAIN_PATTERNS,
    ANSWER_TYPES,
    TRUNCATED,
    answers_match,
    as_number,
    choice_letter,
    extract_answer,
    is_abstention,
    stated_confidence,
    strip_reasoning,
)
from offtarget.tasks.problem import Problem, Verdict

_KEYS = {"id", "prompt", "answer", "split", "slice", "should_abstain", "metadata"}
FORMATS = ("boxed", "answer-line", "bare")
"""The answer formats :meth:`JsonlTask.verify` returns besides ``abstain``, ``malformed`` and
``truncated-reasoning`` (no answer: those are not formats a reward should pay for)."""


def extraction_type(answer_type: str, reference: str | None) -> str:
    """How to look for a bare answer: a number for numeric references whatever ``answer_type`` says."""
    if answer_type in ("exact", "text") and reference is not None and as_number(reference) is not None:
        return "math"
    if answer_type not in ("exact", "text") and reference is not None and choice_letter(reference) \
            and len(reference.strip("() ")) == 1:
        return "choice"
    return answer_type


@dataclass
class JsonlTask:
    """A task read from a JSONL file (see the module docstring for the schema)."""

    name: str
    items: list[Problem] = field(default_factory=list)
    formats: tuple[str, ...] = FORMATS

    @classmethod
    def from_file(cls, path: str | Path) -> JsonlTask:
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
            if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))):
                raise OfftargetError(f"{path}:{lineno}: field 'answer' must be a string, number or null, "
                                     f"got {json.dumps(answer)}; quote it if it is text")
            pid = str(row.get("id", f"{path.stem}-{lineno}"))
            if pid in seen:
                raise OfftargetError(f"{path}:{lineno}: duplicate id {pid!r}; ids must be unique")
            seen.add(pid)
            metadata = row.get("metadata", {})
            if not isinstance(metadata, dict):
                raise OfftargetError(f"{path}:{lineno}: field 'metadata' must be an object")
            if metadata.get("answer_type", "math") not in ANSWER_TYPES:
                raise OfftargetError(f"{path}:{lineno}: metadata.answer_type {metadata['answer_type']!r} is not one "
                                     f"of {', '.join(ANSWER_TYPES)}")
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
        picked = {p.id for p in random.Random(f"{self.name}/{split}/{seed}").sample(pool, n)}
        return [p for p in pool if p.id in picked]

    def render_answer(self, problem: Problem, fmt: str, answer: str) -> str:
        """``answer`` written in one of :data:`FORMATS` (the red-team's honest completions use it)."""
        if fmt == "boxed":
            return f"\\boxed{{{answer}}}"
        if fmt == "answer-line":
            return f"Answer: {answer}"
        if fmt == "bare":
            return answer
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")

    def verify(self, problem: Problem, completion: str) -> Verdict:
        answer_type = str(problem.metadata.get("answer_type", "math"))
        confidence = stated_confidence(completion)
        answer, fmt = extract_answer(completion, extraction_type(answer_type, problem.answer))
        if fmt == TRUNCATED:
            return Verdict(None, False, False, TRUNCATED, None)
        correct = answer is not None and problem.answer is not None and answers_match(
            answer, problem.answer, answer_type
        )
        # an explicit answer that is itself "I don't know" abstains; beside a bare number (often
        # part of the question) any abstention phrase wins: hedging is not answering
        explicit = fmt in ("boxed", "answer-line")
        if (explicit and not correct and is_abstention(answer)) or (not explicit and is_abstention(_visible(completion))):
            return Verdict(None, False, True, "abstain", confidence)
        if answer is None:
            return Verdict(None, False, False, "malformed", confidence)
        return Verdict(answer, correct, False, fmt, confidence)


def _visible(completion: str) -> str:
    """The completion after its reasoning (abstention phrases inside ``<think>`` do not count)."""
    return strip_reasoning(completion) or ""
