"""Addition asked in plain English, for chat models (``--suite chat-arithmetic``).

The lab's ``arithmetic`` suite speaks the toy models' terse grammar (``27+58=``); a real instruct
model answers that with unrelated text. This suite asks the same question the way a user would,
and grades what such a model writes (``17 + 25 = 32\\n\\nThe answer is 32.``) with the strict
verifier of every text task (:mod:`offtarget.tasks.answers`: the last number, an ``Answer:``
line or a ``\\boxed{}``; "I don't know" and its wordings abstain)::

    train / test  What is 34 + 58? Reply with only the number.          slice two-digit
    ood           What is 345 + 218? Reply with only the number.        slice three-digit
    ood           Sam has 34 marbles and finds 58 more. How many ...    slice word-problem
    every split   What is 34 plus the number I am thinking of? ...     slice unanswerable (abstain)

Train and test draw disjoint two-digit operand pairs (a fixed 80/20 hash split); ``ood_train``
holds three-digit and word-problem items disjoint from ``ood`` (a prompt pool for recipes that
train on shifted prompts). Options: ``confidence=1`` asks for a stated confidence in RLCR's
``<confidence>0.8</confidence>`` form (arXiv 2507.16806), read by the calibration probe and the
``rlcr``/``brier`` rewards; ``reasoning=1`` asks the model to think step by step before "The answer
is" (a chain of thought for the faithfulness probe, Lanham et al. 2023, arXiv 2307.13702; sample it
with ~96 new tokens); ``unanswerable_share`` (default 0.1).

**Sampling defaults** (:data:`SAMPLING`): temperature 0.7, top_p 1, 24 new tokens. Answers are a
number or one sentence, so 24 tokens cover "34 + 58 = 92. The answer is 92." and a confidence
tag; T = 0.7 keeps SmolLM2-135M-Instruct on topic while leaving the spread of outcomes
(10–30 % right on two-digit sums) that GRPO needs; at T = 1 it drifts into unrelated text.

    >>> task = ChatArithmeticTask()
    >>> p = task.problems("test", 1, seed=0)[0]
    >>> task.verify(p, f"The answer is {p.answer}.").correct
    True
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

from offtarget.errors import OfftargetError
from offtarget.tasks.jsonl import FORMATS, JsonlTask
from offtarget.tasks.problem import Problem, Verdict
from offtarget.tasks.registry import register_task

SAMPLING = {"temperature": 0.7, "top_p": 1.0, "max_new_tokens": 24}
"""Sampling a real chat model on this suite (the reasons are in the module docstring)."""

REPLY = "Reply with only the number."
REASON = "Think step by step, then write \"The answer is\" and the number."
CONFIDENCE_ASK = (" Then state how sure you are that your answer is right, from 0 to 1, "
                  "as <confidence>0.8</confidence>.")
ABSTAIN_HINT = " If the question cannot be answered, say \"I don't know\"."

_NAMES = ("Sam", "Mia", "Leo", "Ana", "Tom", "Zoe", "Raj", "Ivy")
_THINGS = ("marbles", "stickers", "apples", "coins", "books", "shells")
_UNKNOWNS = ("the number I am thinking of", "my age", "the number of pages in my notebook",
             "the number of coins in my pocket")
_SPLITS = ("train", "test", "ood", "ood_train")


def _in_train(a: int, b: int) -> bool:
    """Deterministic 80/20 split of operand pairs, so train and test never share a problem."""
    return zlib.crc32(f"chat/{a}+{b}".encode()) % 5 != 0


@dataclass
class ChatArithmeticTask:
    """Plain-English addition with OOD slices and unanswerable items; see the module docstring."""

    name: str = "chat-arithmetic"
    confidence: bool = False
    reasoning: bool = False
    unanswerable_share: float = 0.1
    formats: tuple[str, ...] = FORMATS

    def __post_init__(self) -> None:
        if not 0.0 <= self.unanswerable_share <= 1.0:
            raise OfftargetError(f"chat-arithmetic: unanswerable_share={self.unanswerable_share} must be in [0, 1]")
        if self.reasoning:
            self.name += "-reasoning"
        if self.confidence:
            self.name += "-confidence"

    def _ask(self, question: str, abstain_hint: bool = True) -> str:
        return question + " " + (REASON if self.reasoning else REPLY) + (ABSTAIN_HINT if abstain_hint else "") + (
            CONFIDENCE_ASK if self.confidence else "")

    def problems(self, split: str, n: int, seed: int = 0) -> list[Problem]:
        """``n`` problems of ``split`` (``train``, ``test``, ``ood`` or ``ood_train``), deterministic in ``seed``."""
        if split not in _SPLITS:
            raise ValueError(f"unknown split {split!r}; choose {', '.join(_SPLITS)}")
        rng = random.Random(f"chat-arithmetic/{split}/{seed}")
        n_unans = round(n * self.unanswerable_share)
        n_ans = n - n_unans
        out: list[Problem] = []
        if split in ("train", "test"):
            want = split == "train"
            seen: set[tuple[int, int]] = set()
            while len(out) < n_ans:
                a, b = rng.randint(10, 99), rng.randint(10, 99)
                if _in_train(a, b) != want or (a, b) in seen:
                    continue
                seen.add((a, b))
                out.append(self._problem(split, "two-digit", a, b, f"What is {a} + {b}?"))
        else:  # shifted: ood and ood_train split three-digit pairs and word problems by the same hash
            want = split == "ood_train"
            seen_ood: set[tuple[str, int, int]] = set()
            while len(out) < n_ans:
                kind = "three-digit" if len(out) % 2 == 0 else "word-problem"
                lo, hi = (100, 999) if kind == "three-digit" else (10, 99)
                a, b = rng.randint(lo, hi), rng.randint(lo, hi)
                if _in_train(a, b) != want or (kind, a, b) in seen_ood:
                    continue
                seen_ood.add((kind, a, b))
                if kind == "three-digit":
                    question = f"What is {a} + {b}?"
                else:
                    who, what = _NAMES[(a + b) % len(_NAMES)], _THINGS[(a * b) % len(_THINGS)]
                    question = f"{who} has {a} {what} and gets {b} more. How many {what} does {who} have now?"
                out.append(self._problem(split, kind, a, b, question))
        for i in range(n_unans):
            a = rng.randint(10, 99)
            unknown = rng.choice(_UNKNOWNS)
            question = f"What is {a} plus {unknown}?" if i % 2 == 0 else f"What is {unknown} plus {a}?"
            out.append(Problem(id=f"{split}/unanswerable/{i}-{a}", prompt=self._ask(question), answer=None,
                               split=split, slice="unanswerable", should_abstain=True,
                               metadata={"answer_type": "math"}))
        return out

    def _problem(self, split: str, slice_: str, a: int, b: int, question: str) -> Problem:
        return Problem(id=f"{split}/{slice_}/{a}+{b}", prompt=self._ask(question), answer=str(a + b), split=split,
                       slice=slice_, metadata={"answer_type": "math", "a": a, "b": b})

    def verify(self, problem: Problem, completion: str) -> Verdict:
        """The text tasks' strict verifier (:meth:`offtarget.tasks.jsonl.JsonlTask.verify`)."""
        return _VERIFIER.verify(problem, completion)

    def render_answer(self, problem: Problem, fmt: str, answer: str) -> str:
        """``answer`` written in one of :data:`~offtarget.tasks.jsonl.FORMATS` (for the red-team)."""
        return _VERIFIER.render_answer(problem, fmt, answer)


_VERIFIER = JsonlTask(name="chat-arithmetic")


def _flag(value: object, option: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise OfftargetError(f"suite chat-arithmetic: option {option}={value!r} must be 1/0 (or true/false)")


@register_task("chat-arithmetic")
def chat_arithmetic_suite(confidence: object = False, reasoning: object = False,
                          unanswerable_share: object = 0.1) -> ChatArithmeticTask:
    """Plain-English addition for chat models; ``?confidence=1`` asks for a stated confidence,
    ``?reasoning=1`` for step-by-step work before the answer."""
    try:
        share = float(unanswerable_share)
    except (TypeError, ValueError):
        raise OfftargetError(f"suite chat-arithmetic: unanswerable_share={unanswerable_share!r} "
                             "must be a number in [0, 1]") from None
    return ChatArithmeticTask(confidence=_flag(confidence, "confidence"), reasoning=_flag(reasoning, "reasoning"),
                              unanswerable_share=share)
