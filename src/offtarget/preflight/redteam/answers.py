"""The answers red-team completions are built from: the reference written in the task's format,
plausible wrong answers for any answer type, candidates, separators and confidence tags.

Wrong answers are a finite list of edits of the reference, each checked with the task's own
verifier; a problem for which none exists gets none (nothing loops waiting for one).

    >>> from offtarget.tasks import ArithmeticTask
    >>> task = ArithmeticTask(unanswerable_share=0)
    >>> p = task.problems("train", 1)[0]
    >>> all(not task.verify(p, say(task, p, w)).correct for w in wrong_answers(p, task))
    True
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any

from offtarget.tasks.answers import choice_letter, clean_answer
from offtarget.tasks.problem import Problem, Task

CONFIDENCE_LEVELS = tuple(i / 10 for i in range(11))
"""Stated confidences the honest correct baselines try (0, 0.1, …, 1)."""
WRONG_CONFIDENCE_LEVELS = tuple(i / 10 for i in range(6))
"""Stated confidences an honest wrong answer may carry (0, 0.1, …, 0.5)."""
FILLER = "let me think about this carefully, step by step. "
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def say(task: Task, problem: Problem, answer: str, fmt: str | None = None) -> str:
    """``answer`` written in the task's format ``fmt`` (default: its first, normal one), e.g. ``d 85``.

    Tasks without ``render_answer`` (JSONL tasks) get the bare answer.
    """
    render = getattr(task, "render_answer", None)
    formats = tuple(getattr(task, "formats", ()) or ())
    if render is not None and formats:
        try:
            return render(problem, fmt or formats[0], answer)
        except (ValueError, KeyError, TypeError):  # a format this problem cannot be written in
            return answer
    return answer


def said(task: Task, problem: Problem, answer: str | None) -> str | None:
    """:func:`say`, or ``None`` where there is no answer to write (the pattern does not apply)."""
    return None if answer is None else say(task, problem, answer)


def other_formats(task: Task) -> tuple[str, ...]:
    """The task's formats after its first, normal one (none for tasks that cannot render an answer)."""
    formats = tuple(getattr(task, "formats", ()) or ())
    return formats[1:] if len(formats) >= 2 and hasattr(task, "render_answer") else ()


def confidence_tag(q: Any) -> str:
    """The stated-confidence tag every offtarget task parses (RLCR's convention)."""
    return f"<confidence>{q:g}</confidence>" if isinstance(q, float) else f"<confidence>{q}</confidence>"


def abstain_text(task: Task) -> str:
    """The task's abstention (``?`` for arithmetic); "I don't know." for tasks that name none."""
    text = getattr(task, "abstain_text", None)
    if text:
        return text
    from offtarget.tasks.arithmetic import ABSTAIN_TEXT, ArithmeticTask

    return ABSTAIN_TEXT if isinstance(task, ArithmeticTask) else "I don't know."


def wrong_answers(problem: Problem, task: Task | None = None, limit: int = 12) -> list[str]:
    """Up to ``limit`` distinct plausible wrong answers, nearest first, for any answer type.

    Integers ± 1, 2, 3, 10 (non-negative references stay non-negative first), decimals moved in
    their last digit and then in larger places, fractions with the numerator moved, another
    multiple-choice letter, edited text. Every candidate is checked with the task's own strict
    verifier (written in the task's format) and dropped if it is accepted as correct. The list is
    finite by construction: no loop waits for a candidate that may not exist.
    """
    key = (id(task), problem.id, problem.answer, repr(problem.metadata), limit)
    if key in _WRONG_CACHE:
        return list(_WRONG_CACHE[key])
    ref = clean_answer(problem.answer or "0") or "0"
    out: list[str] = []
    for w in _raw_wrong(ref):
        if len(out) >= limit:
            break
        if w and w != ref and w not in out and _is_wrong(problem, task, w):
            out.append(w)
    if len(_WRONG_CACHE) > 10_000:
        _WRONG_CACHE.clear()
    _WRONG_CACHE[key] = tuple(out)
    return out


_WRONG_CACHE: dict[tuple, tuple[str, ...]] = {}
"""Wrong answers already checked with a task's verifier (slow for symbolic answers); emptied by
:func:`red_team` on entry, so an ``id`` reused by a new task never sees an old entry."""


def _raw_wrong(ref: str) -> list[str]:
    """Candidate wrong answers to ``ref`` before checking (a finite list)."""
    neg = ref.startswith(("-", "−"))
    letter = choice_letter(ref) if re.fullmatch(r"\(?[A-Za-z]\)?", ref) else None
    if letter:
        pool = [chr(c) for c in range(ord("A"), ord("A") + max(5, ord(letter) - ord("A") + 2)) if chr(c) != letter]
        pool.sort(key=lambda c: abs(ord(c) - ord(letter)))
        return [ref.replace(letter, c).replace(letter.lower(), c.lower()) for c in pool]
    frac = re.fullmatch(r"([-−]?)(\d+)/(\d+)", ref) or re.fullmatch(r"([-−]?)\\[dt]?frac\{(\d+)\}\{(\d+)\}", ref)
    if frac:
        sign, a, b = frac.group(1), int(frac.group(2)), frac.group(3)
        tex = "frac" in ref
        nums = [a + d for d in (1, -1, 2, -2, 3, -3, 10) if a + d > 0]
        return [f"{sign}\\frac{{{n}}}{{{b}}}" if tex else f"{sign}{n}/{b}" for n in nums]
    if re.fullmatch(r"[-−]?\d+", ref):
        v = int(ref.replace("−", "-"))
        deltas = (1, -1, 2, -2, 3, -3, 10, -10, 100)
        near = [v + d for d in deltas if neg or v + d >= 0] + [v + d for d in deltas if not neg and v + d < 0]
        return [str(n) for n in near]
    if re.fullmatch(r"[-−]?\d*\.\d+", ref):
        d = Decimal(ref.replace("−", "-"))
        places = len(ref.split(".")[1])
        quantum = Decimal(1).scaleb(-places)
        steps = [quantum * k for k in (1, -1, 2, -2, 3)] + [Decimal(1).scaleb(-e) for e in range(places - 1, -3, -1)]
        return [f"{d + s:.{places}f}" for s in steps]
    if re.fullmatch(r"[-−]?\d{1,3}(,\d{3})+", ref):
        return [f"{int(ref.replace(',', '').replace('−', '-')) + k:,}" for k in (1, -1, 2, -2, 3, 10)]
    edits = [ref[::-1], ref[1:] if len(ref) > 1 else ref + ref, ref + ref[-1], ref[1] + ref[0] + ref[2:]
             if len(ref) > 1 else "", "x" + ref, ref + "s", "not " + ref]
    if "," in ref:  # a list: drop or reorder an item
        items = [x.strip() for x in ref.split(",")]
        edits = [", ".join(items[::-1]), ", ".join(items[:-1]), ", ".join(items + items[-1:])] + edits
    return edits + [ref + str(k) for k in range(1, 10)]


def _is_wrong(problem: Problem, task: Task | None, answer: str) -> bool:
    """Whether ``answer`` (written in the task's format) is neither correct nor an abstention for the task."""
    if task is None:
        return True
    try:
        v = task.verify(problem, say(task, problem, answer))
    except Exception:  # noqa: BLE001 - a verifier that cannot read the candidate: use another one
        return False
    return not v.correct and not v.abstained


def wrong_answer(problem: Problem, rng: random.Random, task: Task | None = None) -> str | None:
    """One plausible wrong answer (among the six nearest), or ``None`` when none can be written."""
    pool = wrong_answers(problem, task, limit=6)
    return rng.choice(pool) if pool else None


def candidates(problem: Problem, rng: random.Random, n: int = 4, task: Task | None = None) -> list[str]:
    """The reference answer and up to ``n − 1`` distinct wrong ones, shuffled (bounded: fewer if few exist)."""
    pool = wrong_answers(problem, task, limit=max(6, n - 1))
    out = [problem.answer or "0", *rng.sample(pool, min(n - 1, len(pool)))]
    rng.shuffle(out)
    return out


def _said_wrong(p: Problem, task: Task, rng: random.Random) -> str | None:
    """A wrong answer in the task's format, or ``None`` (the pattern then does not apply)."""
    w = wrong_answer(p, rng, task)
    return None if w is None else say(task, p, w)


def _join(*parts: str | None) -> str | None:
    return None if any(x is None for x in parts) else "".join(parts)  # type: ignore[arg-type]


def separated(answer: str, sep: str) -> str | None:
    """``1,234`` style grouping for long integers, a separator between digits for short ones."""
    if not answer.isdigit() or len(answer) < 2:
        return None
    if len(answer) > 3:
        head = len(answer) % 3 or 3
        return sep.join([answer[:head]] + [answer[i:i + 3] for i in range(head, len(answer), 3)])
    return sep.join(answer)


def _translated(answer: str, table: dict) -> str | None:
    out = answer.translate(table)
    return None if out == answer else out
