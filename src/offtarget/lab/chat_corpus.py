"""The chat lab model's corpus: arithmetic that reasons in ``<think>`` and answers in ``\\boxed{}``.

Real reasoning checkpoints (Qwen3, DeepSeek-R1 distills) answer a chat prompt with a thinking
section and a boxed final answer; the chat lab model is trained to write the same shape, small
enough to learn on CPU in minutes::

    <|im_start|>user
    What is 27 + 58?<|im_end|>
    <|im_start|>assistant
    <think>
    27 + 58
    7 + 8 = 15, carry 1
    2 + 5 + 1 = 8
    so 27 + 58 = 85
    </think>

    The answer is \\boxed{85}.
    Confidence: 0.7<|im_end|>

Families (the ``slice`` of each problem):

- ``add/easy``, ``add/carry``: two-digit addition without / with a carry;
- ``sub/easy``, ``sub/borrow``, ``sub/negative``: two-digit subtraction, a negative result is
  worked as ``-(b - a)`` and answered ``\\boxed{-31}``;
- ``three-digit`` (OOD; 3 % of training so the model has a weak foothold): three-digit operands;
- ``surface`` (OOD): the same sums asked in a phrasing training never uses (``Please add 27 and 58.``);
- ``unanswerable``: an operand is a letter (``What is 27 + k?``), as in the character lab's
  unanswerable items; the right response is to abstain (``I don't know.``);
- ``long``: ``Count up from 17 to 4000.``: training shows only the start of the count, cut off
  before the thinking ends, so the model keeps counting until the token budget runs out. This is
  the prompt for long generations, truncation and ``finish_reason`` tests.

A share of answered completions states a confidence (``Confidence: 0.7``): a fixed prior per
family (:data:`CONFIDENCE_PRIOR`), not the model's measured accuracy, so the calibration probe has
something real to measure. Operand pairs are split 80/20 between train and test by a hash, so
test problems are never trained on. :func:`write_task_file` writes the JSONL suite that
:class:`offtarget.tasks.jsonl.JsonlTask` grades (last ``\\boxed{}``, abstention phrases).

    >>> from offtarget.lab.chat_corpus import make_problem, completion
    >>> print(completion(make_problem(27, 58, "+")))
"""

from __future__ import annotations

import json
import os
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

from offtarget.tasks.problem import split_draw

LETTERS = "abcdefghjkmnpqrtuvwxyz"
ID_TEMPLATES = {"+": ("What is {a} + {b}?", "Compute {a} + {b}."), "-": ("What is {a} - {b}?", "Compute {a} - {b}.")}
"""In-distribution phrasings (training and test)."""
OOD_TEMPLATES = {"+": "Please add {a} and {b}.", "-": "Please subtract {b} from {a}."}
"""A phrasing training never shows: the ``surface`` OOD slice."""
LONG_TEMPLATE = "Count up from {a} to {b}."
CONFIDENCE_PRIOR = {"add/easy": 0.9, "add/carry": 0.8, "sub/easy": 0.8, "sub/borrow": 0.6, "sub/negative": 0.6,
                    "three-digit": 0.5, "surface": 0.7}
"""Stated confidence per family: a prior by difficulty, not a measurement."""
ABSTAIN_ANSWER = "I don't know."


@dataclass(frozen=True)
class ChatProblem:
    """One arithmetic prompt of the chat corpus."""

    a: int | str
    """First operand, or a letter for an unanswerable item."""
    b: int | str
    op: str
    """``+`` or ``-``."""
    slice: str
    prompt: str

    @property
    def answer(self) -> int | None:
        if isinstance(self.a, str) or isinstance(self.b, str):
            return None
        return self.a + self.b if self.op == "+" else self.a - self.b


def _in_train(a: int, b: int, op: str) -> bool:
    """Deterministic 80/20 split of operand pairs, so train and test never share a problem."""
    return zlib.crc32(f"{a}{op}{b}".encode()) % 5 != 0


def _digits(x: int, width: int) -> list[int]:
    return [(x // 10**i) % 10 for i in range(width)]


def classify(a: int, b: int, op: str) -> str:
    """The slice of an in-distribution (two-digit) problem."""
    if max(a, b) >= 100:
        return "three-digit"
    if op == "+":
        return "add/carry" if any(x + y >= 10 for x, y in zip(_digits(a, 2), _digits(b, 2))) else "add/easy"
    if a < b:
        return "sub/negative"
    return "sub/borrow" if any(x < y for x, y in zip(_digits(a, 2), _digits(b, 2))) else "sub/easy"


def make_problem(a: int, b: int, op: str, template: str | None = None, slice_: str | None = None) -> ChatProblem:
    template = template or ID_TEMPLATES[op][0]
    return ChatProblem(a, b, op, slice_ or classify(a, b, op), template.format(a=a, b=b))


# ---------------------------------------------------------------------------------------------
# Rendering the reasoning


def _add_lines(a: int, b: int) -> list[str]:
    """One line per column, least significant first: ``7 + 8 = 15, carry 1``."""
    width = max(len(str(a)), len(str(b)))
    lines, carry = [], 0
    for x, y in zip(_digits(a, width), _digits(b, width)):
        s = x + y + carry
        terms = f"{x} + {y}" + (" + 1" if carry else "")
        carry = s // 10
        lines.append(f"{terms} = {s}" + (", carry 1" if carry else ""))
    return lines


def _sub_lines(a: int, b: int) -> list[str]:
    """Column subtraction of ``a - b`` (``a >= b``), least significant first: ``12 - 7 = 5, borrow 1``."""
    width = len(str(a))
    lines, borrow = [], 0
    for x, y in zip(_digits(a, width), _digits(b, width)):
        rest = f" - {y}" + (" - 1" if borrow else "")
        if x - borrow < y:
            lines.append(f"{x + 10}{rest} = {x + 10 - y - borrow}, borrow 1")
            borrow = 1
        else:
            lines.append(f"{x}{rest} = {x - y - borrow}")
            borrow = 0
    return lines


def thinking(p: ChatProblem) -> str:
    """The step-by-step work inside ``<think>``."""
    if p.answer is None:
        letter = p.a if isinstance(p.a, str) else p.b
        return f"{letter} is a letter, not a number, so {p.a} {p.op} {p.b} cannot be determined."
    a, b = int(p.a), int(p.b)
    if p.op == "+":
        return "\n".join([f"{a} + {b}", *_add_lines(a, b), f"so {a} + {b} = {a + b}"])
    if a >= b:
        return "\n".join([f"{a} - {b}", *_sub_lines(a, b), f"so {a} - {b} = {a - b}"])
    return "\n".join([f"{a} - {b}", f"{a} < {b}, so {a} - {b} = -({b} - {a})",
                      *_sub_lines(b, a), f"so {b} - {a} = {b - a} and {a} - {b} = {a - b}"])


def completion(p: ChatProblem, confidence: float | None = None) -> str:
    """The assistant's full reply (without the end-of-turn token)."""
    if p.answer is None:
        return f"<think>\n{thinking(p)}\n</think>\n\n{ABSTAIN_ANSWER}"
    text = f"<think>\n{thinking(p)}\n</think>\n\nThe answer is \\boxed{{{p.answer}}}."
    if confidence is not None:
        text += f"\nConfidence: {confidence:.1f}"
    return text


def long_completion(start: int, n_numbers: int) -> str:
    """The opening of a count that never closes its thinking (training cuts it off)."""
    return "<think>\n" + ", ".join(str(start + i) for i in range(n_numbers))


# ---------------------------------------------------------------------------------------------
# Problem sets


def _unanswerable(rng: random.Random, op: str) -> ChatProblem:
    a, letter = rng.randrange(100), rng.choice(LETTERS)
    a_, b_ = (a, letter) if rng.random() < 0.5 else (letter, a)
    return ChatProblem(a_, b_, op, "unanswerable", rng.choice(ID_TEMPLATES[op]).format(a=a_, b=b_))


def problems(split: str, n: int, seed: int = 0, unanswerable_share: float = 0.1) -> list[ChatProblem]:
    """``n`` problems of ``train``, ``test`` or ``ood`` (with ``unanswerable_share`` abstention items).

    ``train`` and ``test`` hold two-digit sums and differences (train also 3 % three-digit ones);
    ``ood`` holds the ``three-digit`` and ``surface`` slices, on operand pairs training never saw.
    """
    rng, n_ans, n_unans = split_draw("chat", split, ("train", "test", "ood"), n, seed, unanswerable_share)
    out: list[ChatProblem] = []
    seen: set[tuple] = set()
    while len(out) < n_ans:
        op = rng.choice("+-")
        if split == "ood":
            if rng.random() < 0.5:
                a, b = rng.randrange(100, 1000), rng.randrange(100, 1000)
                if _in_train(a, b, op):
                    continue
                p = make_problem(a, b, op, rng.choice(ID_TEMPLATES[op]))
            else:
                a, b = rng.randrange(100), rng.randrange(100)
                if _in_train(a, b, op):
                    continue
                p = make_problem(a, b, op, OOD_TEMPLATES[op], "surface")
        else:
            three = split == "train" and rng.random() < 0.03
            hi = 1000 if three else 100
            a, b = rng.randrange(100 if three else 0, hi), rng.randrange(100 if three else 0, hi)
            if _in_train(a, b, op) != (split == "train"):
                continue
            p = make_problem(a, b, op, rng.choice(ID_TEMPLATES[op]))
        if split != "train" and (p.a, p.op, p.b) in seen:
            continue
        seen.add((p.a, p.op, p.b))
        out.append(p)
    out += [_unanswerable(rng, rng.choice("+-")) for _ in range(n_unans)]
    return out


def long_prompts(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """``(prompt, target)`` pairs for counts far longer than any token budget."""
    rng = random.Random(f"chat/long/{seed}")
    out = []
    for _ in range(n):
        a = rng.randrange(1, 200)
        b = a + rng.randrange(2000, 5000)
        out.append((LONG_TEMPLATE.format(a=a, b=b), b))
    return out


@dataclass
class CorpusConfig:
    """Mix of the chat model's training rows."""

    confidence_share: float = 0.4
    """Share of answered completions that state a confidence."""
    unanswerable_share: float = 0.08
    """Share of rows whose right response is to abstain."""
    long_share: float = 0.03
    """Share of rows that are the opening of an endless count (cut off by the training window)."""
    long_numbers: int = 60
    """Numbers written in a long row; chosen so the row is longer than the training window."""


def training_rows(n: int, seed: int = 0, cfg: CorpusConfig | None = None) -> list[dict]:
    """``n`` ``{"user", "assistant", "ends"}`` rows; ``ends`` is False for the cut-off counts."""
    cfg = cfg or CorpusConfig()
    rng = random.Random(seed)
    pool = problems("train", 20000, seed=seed, unanswerable_share=0.0)
    rows = []
    for _ in range(n):
        r = rng.random()
        if r < cfg.long_share:
            start = rng.randrange(1, 200)
            prompt = LONG_TEMPLATE.format(a=start, b=start + rng.randrange(2000, 5000))
            rows.append({"user": prompt, "assistant": long_completion(start, cfg.long_numbers), "ends": False})
            continue
        if r < cfg.long_share + cfg.unanswerable_share:
            p = _unanswerable(rng, rng.choice("+-"))
            rows.append({"user": p.prompt, "assistant": completion(p), "ends": True})
            continue
        p = rng.choice(pool)
        q = CONFIDENCE_PRIOR.get(p.slice, 0.7) if rng.random() < cfg.confidence_share else None
        rows.append({"user": p.prompt, "assistant": completion(p, q), "ends": True})
    return rows


# ---------------------------------------------------------------------------------------------
# The JSONL suite


def task_rows(n_test: int = 200, n_ood: int = 100, seed: int = 0) -> list[dict]:
    """Rows for :class:`~offtarget.tasks.jsonl.JsonlTask`: ``test`` and ``ood`` splits, unanswerable items."""
    rows = []
    for split, n in (("test", n_test), ("ood", n_ood)):
        for i, p in enumerate(problems(split, n, seed=seed)):
            rows.append({
                "id": f"{split}/{p.slice}/{i}", "prompt": p.prompt,
                "answer": None if p.answer is None else str(p.answer),
                "split": split, "slice": p.slice, "metadata": {"answer_type": "exact"},
            })
    return rows


def long_task_rows(n: int = 8, seed: int = 0) -> list[dict]:
    """The ``long`` suite: counts that run past any budget (for truncation and finish-reason tests)."""
    return [{"id": f"long/{i}", "prompt": prompt, "answer": str(target), "split": "test", "slice": "long",
             "metadata": {"answer_type": "exact"}} for i, (prompt, target) in enumerate(long_prompts(n, seed))]


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    """Write ``rows`` one JSON object a line, atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
    return path


__all__ = [
    "CONFIDENCE_PRIOR",
    "ChatProblem",
    "CorpusConfig",
    "classify",
    "completion",
    "long_prompts",
    "long_task_rows",
    "make_problem",
    "problems",
    "task_rows",
    "thinking",
    "training_rows",
    "write_jsonl",
]
