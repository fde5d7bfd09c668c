"""Reading a final answer, a stated confidence and an abstention out of what a reasoning model writes.

A completion from a reasoning model is not ``42``: it is ``<think>…</think>`` reasoning, then
``**Answer:** $42$`` or ``\\boxed{\\frac{1}{2}}``, often followed by ``Confidence: 80%``. The
strict verifier of every text task (:mod:`offtarget.tasks.jsonl`, and through it the Hugging
Face and reasoning-gym suites) reads it in this order:

1. **Reasoning.** Text up to the last ``</think>`` (or ``</thinking>``) is reasoning and is
   dropped. A ``<think>`` that is never closed is reasoning cut off by the token budget: no
   answer, format ``truncated-reasoning``.
2. **Confidence** (:func:`stated_confidence`): the last ``<confidence>0.8</confidence>`` or
   ``Confidence: 0.8`` / ``80%`` (RLCR's convention, arXiv 2507.16806); outside [0, 1] or not
   a number is ``None``. Confidence statements are cut out before the answer is looked for,
   so ``Answer: 41. Confidence: 0.9`` answers 41.
3. **Answer** (:func:`extract_answer`): the last ``\\boxed{…}`` (nested braces, ``\\boxed 5``;
   an empty box is no answer), else the last ``Answer: …`` / ``The final answer is …`` line
   (Markdown emphasis and ``$…$`` removed, cut at the end of its sentence), else a bare answer:
   the last number for mathematical answers, the last ``(B)``-style letter for multiple choice,
   the last line for text. The format label says which (``boxed``, ``answer-line``, ``bare``).
4. **Abstention** (:func:`is_abstention`): "I don't know", "I'm not sure, the question is
   missing a value", "cannot be determined" and their many wordings. An explicit answer that
   *is* such a phrase abstains; a phrase beside only a bare number abstains too (the number is
   more likely part of the question than an answer). An explicit answer beside a hedge answers.

Answers are compared by :func:`answers_match` per ``answer_type``: ``math`` (numbers exactly
as rationals, so ``-0.50`` = ``-1/2`` and ``1,234`` = ``1234``; a trailing unit ``42 cm`` is
dropped; anything else through math-verify, with the guards noted there), ``exact`` (string
equality after trimming), ``text`` (case-, space- and final-period-insensitive) and ``choice``
(a multiple-choice letter; a one-letter reference is a choice whatever the type).

    >>> extract_answer("<think>maybe 41</think>**Answer:** $42$. Confidence: 80%")
    ('42', 'answer-line')
    >>> stated_confidence("Answer: 42. Confidence: 80%.")
    0.8
    >>> answers_match("-0.50", "-1/2")
    True
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

ANSWER_TYPES = ("math", "exact", "text", "choice")
"""Values of a problem's ``metadata["answer_type"]``."""

TRUNCATED = "truncated-reasoning"
"""Format label of a completion whose reasoning never ended (no answer)."""

# ---------------------------------------------------------------------------------------------
# Reasoning

THINK_OPEN = re.compile(r"<(think|thinking)>", re.IGNORECASE)
THINK_CLOSE = re.compile(r"</(think|thinking)>", re.IGNORECASE)


def strip_reasoning(text: str) -> str | None:
    """The text after the reasoning; ``None`` when a ``<think>`` is never closed (truncated)."""
    closes = list(THINK_CLOSE.finditer(text))
    opens = list(THINK_OPEN.finditer(text))
    if opens and (not closes or closes[-1].start() < opens[-1].start()):
        return None
    # a lone </think> too: chat templates often open the reasoning inside the prompt
    return text[closes[-1].end():] if closes else text


# ---------------------------------------------------------------------------------------------
# Confidence

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_CONF_TAG = re.compile(r"<confidence>(.*?)</confidence>", re.IGNORECASE | re.DOTALL)
_CONF_LINE = re.compile(
    r"[*_]*\bconfidence(?:\s+(?:level|score))?[*_]*\s*(?:[:=]|is\b|of\b)[*_\s]*"
    rf"(?P<value>{_NUM}|[A-Za-z]+)\s*(?P<pct>%|percent\b)?\.?",
    re.IGNORECASE,
)


# a percentage has at most three integer digits, and a match starts where a number starts: without
# both, a long run of digits costs quadratic time in backtracking (a hostile completion took minutes)
_CONF_PERCENT = re.compile(r"(?<![\d.])(?P<value>\d{1,3}(?:\.\d{1,6})?)\s*%\s+(?:confident|sure|certain)\b",
                           re.IGNORECASE)


def _confidence_spans(text: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, raw value, is-percent) of every confidence statement, in order."""
    spans = [(m.start(), m.end(), m.group(1).strip(), False) for m in _CONF_TAG.finditer(text)]
    for m in _CONF_LINE.finditer(text):
        if not any(s <= m.start() < e for s, e, _, _ in spans):
            spans.append((m.start(), m.end(), m.group("value"), m.group("pct") is not None))
    for m in _CONF_PERCENT.finditer(text):  # "I am 80% confident"
        if not any(s <= m.start() < e for s, e, _, _ in spans):
            spans.append((m.start(), m.end(), m.group("value"), True))
    return sorted(spans)


def _confidence_value(raw: str, percent: bool) -> float | None:
    raw = raw.strip()
    if raw.endswith("%"):
        raw, percent = raw[:-1].strip(), True
    if not re.fullmatch(_NUM, raw):
        return None  # "high", "nan", "", "inf": not a stated probability
    q = float(raw) / (100.0 if percent else 1.0)
    return q if 0.0 <= q <= 1.0 else None


def stated_confidence(text: str) -> float | None:
    """The last stated confidence in [0, 1] (``80%`` = 0.8), after any reasoning; else ``None``."""
    body = strip_reasoning(text)
    if body is None:
        return None
    spans = _confidence_spans(body)
    if not spans:
        return None
    _, _, raw, percent = spans[-1]
    return _confidence_value(raw, percent)


def without_confidence(text: str) -> str:
    """``text`` with every confidence statement cut out (so its number is never the answer)."""
    out, last = [], 0
    for s, e, _, _ in _confidence_spans(text):
        if s >= last:
            out.append(text[last:s])
            last = e
    out.append(text[last:])
    return " ".join(out) if len(out) > 1 else out[0]


# ---------------------------------------------------------------------------------------------
# Abstention

ABSTAIN_PATTERNS = re.compile(
    r"\b(?:"
    r"i (?:really )?(?:do not|don'?t|dont) know|i(?:'m| am) (?:not (?:sure|certain)|unsure|uncertain)|idk|"
    r"no idea|not sure|(?:cannot|can ?not|can'?t) (?:be )?(?:determined?|known|answered|said|tell|say|know)|"
    r"(?:impossible|not possible|unable) to (?:determine|answer|know|say|tell|solve|compute)|"
    r"(?:not|isn'?t) (?:enough|sufficient) (?:information|info|data|context|detail)|"
    r"insufficient (?:information|info|data|context)|"
    r"(?:missing|lacks?|lacking|without) (?:a |an |the |some |key |necessary |required )?"
    r"(?:information|value|number|data|quantity|detail|context)|"
    r"(?:question|problem) (?:is|seems|appears) (?:to be )?(?:missing|incomplete|ambiguous|ill-posed|"
    r"underspecified|under-specified|unanswerable)|"
    r"unanswerable|(?:i )?(?:cannot|can'?t|won'?t) answer|no (?:way to (?:know|tell|determine))|"
    r"there is no (?:(?:single|unique|definite|valid|correct) )?answer|no answer|i abstain|abstain|"
    r"(?:the )?answer is unknown|^\s*unknown\s*\.?\s*$"
    r")\b",
    re.IGNORECASE | re.MULTILINE,
)
"""Phrases that decline to answer (AbstentionBench's sense: the model says it cannot know)."""


def is_abstention(text: str) -> bool:
    """Whether ``text`` says, in any of the usual wordings, that it cannot or will not answer."""
    return bool(ABSTAIN_PATTERNS.search(text.replace("’", "'")))


# ---------------------------------------------------------------------------------------------
# Answer extraction

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_ANSWER_LINE = re.compile(
    r"(?<![A-Za-z])(?:final\s+)?answer\b[*_\s]*(?::|=|\bis\b)[*_\s:]*(?P<answer>[^\n]*)", re.IGNORECASE
)
_BARE_NUMBER = re.compile(
    r"[-−]?\\[dt]?frac\{\d+\}\{\d+\}|"
    r"(?:(?<![\w)\].])[-−])?(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?![\w])|"
    r"(?:(?<![\w)\].])[-−])?(?<![\w.])\.\d+"
)
_CHOICE = re.compile(r"^\(?\[?([A-Za-z])\]?\)?[.):]?(?:\s.*)?$", re.DOTALL)
_BARE_CHOICE = re.compile(r"\(([A-J])\)|(?:^|\n)\s*([A-J])[.)]?\s*$")


def _boxed_contents(text: str) -> list[str]:
    """The contents of every ``\\boxed{…}`` (balanced braces, any depth) and ``\\boxed 5``."""
    out = []
    for m in _BOXED.finditer(text):
        if m.group(1) is None:  # \boxed 5: one token
            token = re.match(r"\s*([^\s$.,;]+)", text[m.end():])
            if token:
                out.append(token.group(1))
            continue
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end():i - 1])
    return out


def clean_answer(answer: str) -> str:
    """An answer without its wrapping: Markdown emphasis, ``$…$``, ``\\(…\\)``, ``\\text{}``, a final period."""
    a = answer.strip()
    for _ in range(3):
        before = a
        a = a.strip().strip("*_`").strip()
        if len(a) >= 2 and a[0] == a[-1] == "$":
            a = a.strip("$").strip()
        for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
            if a.startswith(left) and a.endswith(right):
                a = a[len(left):-len(right)].strip()
        m = re.fullmatch(r"\\(?:text|mathrm|textbf)\{(.*)\}", a, re.DOTALL)
        if m:
            a = m.group(1).strip()
        a = re.sub(r"(?<!\.)\.$", "", a).strip()
        if a == before:
            break
    return a


def _answer_line(text: str) -> str | None:
    found = list(_ANSWER_LINE.finditer(text))
    if not found:
        return None
    raw = found[-1].group("answer")
    raw = re.split(r"\.\s+(?=[A-Z*<(\[])", raw, maxsplit=1)[0]  # the answer's sentence only
    number_then_words = re.match(r"\s*([-−]?[\d.,/]*\d)[,;]\s+[A-Za-z]", raw)  # "42, since 6 × 7 = 42"
    return clean_answer(number_then_words.group(1) if number_then_words else raw)


def extract_answer(text: str, answer_type: str = "math") -> tuple[str | None, str]:
    """The final answer of ``text`` and the format label it was found by.

    Labels: ``boxed``, ``answer-line``, ``bare``, ``malformed`` (no answer, or an empty box) and
    ``truncated-reasoning`` (a ``<think>`` never closed).
    """
    body = strip_reasoning(text)
    if body is None:
        return None, TRUNCATED
    body = without_confidence(body)
    boxed = _boxed_contents(body)
    if boxed:
        answer = clean_answer(boxed[-1])
        return (answer, "boxed") if answer else (None, "malformed")
    line = _answer_line(body)
    if line:
        return line, "answer-line"
    if answer_type in ("exact", "text"):
        lines = [clean_answer(x) for x in body.strip().splitlines() if clean_answer(x)]
        return (lines[-1], "bare") if lines else (None, "malformed")
    if answer_type == "choice":
        letters = _BARE_CHOICE.findall(body)
        return (next(x for x in letters[-1] if x), "bare") if letters else (None, "malformed")
    nums = _BARE_NUMBER.findall(body)
    if nums:
        return nums[-1].replace("−", "-"), "bare"
    return None, "malformed"


# ---------------------------------------------------------------------------------------------
# Comparison

_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_FRAC = re.compile(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")
_UNIT = re.compile(r"^(.*?\d)(?:\s+[A-Za-z°µ][A-Za-z°µ/^²³]*\.?|\s*(?:%|°[CF]?))$")


def as_number(text: str) -> Fraction | None:
    """``text`` as an exact rational if it is a plain number (``-0.50``, ``1,234``, ``3/4``, ``\\frac{3}{4}``)."""
    t = text.strip().replace("−", "-")
    m = re.fullmatch(r"([-+]?)" + _FRAC.pattern, t)
    if m:
        t = f"{m.group(1)}{m.group(2)}/{m.group(3)}"
    if _THOUSANDS.fullmatch(t):
        t = t.replace(",", "")
    if not re.fullmatch(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:/[-+]?\d+(?:\.\d*)?)?", t):
        return None
    try:
        return Fraction(t) if "/" not in t else Fraction(*(Fraction(x) for x in t.split("/")))
    except (ValueError, ZeroDivisionError):
        return None


def choice_letter(text: str) -> str | None:
    """The letter of a multiple-choice answer: ``B``, ``(b)``, ``B)``, ``[B]``, ``B. 42``; else ``None``."""
    m = _CHOICE.fullmatch(clean_answer(text))
    return m.group(1).upper() if m else None


def _text_norm(text: str) -> str:
    return re.sub(r"\s+", " ", clean_answer(text).strip("\"'“”‘’")).casefold().rstrip(".!").strip()


def _without_unit(text: str) -> str:
    """``42`` from ``42 cm`` or ``42%``; other text unchanged."""
    m = _UNIT.match(text.strip())
    return m.group(1) if m else text


def answers_match(predicted: str, reference: str, answer_type: str = "math") -> bool:
    """Whether ``predicted`` is the ``reference`` answer under ``answer_type`` (module docstring).

    For ``math``, math-verify decides what is not a plain number, but two of its leniencies are
    closed: it reads ``43 42`` as their sum and ``Paris`` as a product of letters, so a
    prediction of several bare numbers never matches, and word answers are compared as text.
    """
    if answer_type == "exact":
        return predicted.strip() == reference.strip()
    if answer_type == "text":
        return _text_norm(predicted) == _text_norm(reference)
    if answer_type == "choice" or re.fullmatch(r"\(?[A-Za-z]\)?", reference.strip()):
        ref = choice_letter(reference)
        return ref is not None and choice_letter(predicted) == ref
    pred, ref = clean_answer(predicted), clean_answer(reference)
    if pred == ref:
        return True
    ref_num = as_number(_without_unit(ref))
    if ref_num is not None:
        pred_num = as_number(_without_unit(pred))
        if pred_num is not None:
            return pred_num == ref_num
        if re.fullmatch(r"[-+]?[\d.,/]+(?:\s+[-+]?[\d.,/]+)+", pred):  # "43 42": candidates, not a sum
            return False
    if re.fullmatch(r"[A-Za-z][A-Za-z '\-]*", ref) and len(ref) > 1:
        return _text_norm(pred) == _text_norm(ref)
    return _math_verify(pred, ref)


@lru_cache(maxsize=8192)
def _math_verify(pred: str, ref: str) -> bool:
    """math-verify's equivalence, cached: a red-team or an audit asks the same pair many times."""
    from math_verify import parse, verify

    try:
        gold = parse(f"${ref}$")
        guess = parse(f"${pred}$")
        return bool(gold) and bool(guess) and bool(verify(gold, guess))
    except Exception:  # noqa: BLE001 - math-verify raises on unparseable input; that is "no match"
        return False
