"""The strict verifier on what real (reasoning) models write: one hand-checked case per line.

Each row is (reference, answer_type, completion) → (correct, format, confidence, answer); the
first six rows are the failures measured on outside completions before the verifier was rewritten.
"""

from __future__ import annotations

import pytest

from offtarget.tasks.answers import answers_match, extract_answer, is_abstention, stated_confidence
from offtarget.tasks.jsonl import JsonlTask
from offtarget.tasks.problem import Problem

TASK = JsonlTask("cases")


def verdict(reference, answer_type, completion):
    problem = Problem("p", "q?", reference, should_abstain=reference is None,
                      metadata={} if answer_type == "math" else {"answer_type": answer_type})
    return TASK.verify(problem, completion)


CASES = [
    # reference, answer_type, completion, correct, format, confidence, answer
    ("0.9", "math", "Answer: 41. Confidence: 0.9", False, "answer-line", 0.9, "41"),
    ("42", "math", "Answer: 42 Confidence: 0.8", True, "answer-line", 0.8, "42"),
    ("42", "math", "Answer: 42. Confidence: 0.9.", True, "answer-line", 0.9, "42"),
    ("42", "math", "Answer: 42\nConfidence: 80%", True, "answer-line", 0.8, "42"),
    ("42", "math", "<think>Maybe 41? 6*7 is 42.</think>\nAnswer: 42", True, "answer-line", None, "42"),
    ("3", "math", "I'm not sure, the question is missing a value.", False, "abstain", None, None),
    # reasoning
    ("42", "math", "<think>6 times 7 is 42, not 41</think>41", False, "bare", None, "41"),
    ("42", "math", "<think>the answer is 42", False, "truncated-reasoning", None, None),
    ("42", "math", "<think>Answer: 42 Confidence: 0.9", False, "truncated-reasoning", None, None),
    ("42", "math", "6*7 is 42, so</think> \\boxed{42}", True, "boxed", None, "42"),
    ("42", "math", "<think>I don't know yet</think> The answer is 42.", True, "answer-line", None, "42"),
    # answer lines
    ("42", "math", "**Answer:** 42", True, "answer-line", None, "42"),
    ("42", "math", "**Final Answer**: 42", True, "answer-line", None, "42"),
    ("42", "math", "The answer is $42$.", True, "answer-line", None, "42"),
    ("42", "math", "The final answer is \\(42\\)", True, "answer-line", None, "42"),
    ("42", "math", "answer = 42", True, "answer-line", None, "42"),
    ("42", "math", "Answer: 42 cm", True, "answer-line", None, "42 cm"),
    ("42", "math", "Answer: 43 42", False, "answer-line", None, "43 42"),
    ("85", "math", "Answer: 43 42", False, "answer-line", None, "43 42"),
    ("85", "math", "Answer: 8,5", False, "answer-line", None, "8,5"),
    ("85", "math", "Answer: 8 5", False, "answer-line", None, "8 5"),
    ("42", "math", "Answer: 42 or 43", False, "answer-line", None, "42 or 43"),
    ("3", "math", "Answer: 3x", False, "answer-line", None, "3x"),
    # boxed
    ("1/2", "math", "so \\boxed{\\frac{1}{2}}", True, "boxed", None, "\\frac{1}{2}"),
    ("0.5", "math", "$\\boxed{\\dfrac{1}{2}}$", True, "boxed", None, "\\dfrac{1}{2}"),
    ("2", "math", "\\boxed{\\frac{\\sqrt{16}}{2}}", True, "boxed", None, "\\frac{\\sqrt{16}}{2}"),
    ("\\frac{1}{4}", "math", "\\boxed{\\frac{1}{{4}}}", True, "boxed", None, "\\frac{1}{{4}}"),
    ("42", "math", "first \\boxed{41} then \\boxed{42}", True, "boxed", None, "42"),
    ("42", "math", "\\boxed{}", False, "malformed", None, None),
    ("5", "math", "\\boxed 5", True, "boxed", None, "5"),
    ("5", "math", "\\boxed{5", True, "bare", None, "5"),
    ("42", "math", "Answer: 41 but really \\boxed{42}", True, "boxed", None, "42"),
    # numbers
    ("1234", "math", "Answer: 1,234", True, "answer-line", None, "1,234"),
    ("1,234", "math", "1234", True, "bare", None, "1234"),
    ("-4", "math", "Answer: -4", True, "answer-line", None, "-4"),
    ("-4", "math", "5 - 3 - 6 = -4", True, "bare", None, "-4"),
    ("-4", "math", "Answer: −4", True, "answer-line", None, "−4"),
    ("-4", "math", "Answer: 4", False, "answer-line", None, "4"),
    ("-1/2", "math", "Answer: -0.50", True, "answer-line", None, "-0.50"),
    ("-0.5", "math", "\\boxed{-\\frac{1}{2}}", True, "boxed", None, "-\\frac{1}{2}"),
    ("6.32098837209", "math", "Answer: 6.32098837209", True, "answer-line", None, "6.32098837209"),
    ("6.32098837209", "math", "Answer: 6.320988", False, "answer-line", None, "6.320988"),
    ("6.32098837209", "math", "Answer: 6.3209883721", False, "answer-line", None, "6.3209883721"),
    ("0.5", "math", "Answer: 0.5.", True, "answer-line", None, "0.5"),
    ("3.14", "math", "It is about 3.14. Done.", True, "bare", None, "3.14"),
    ("3/7", "math", "so it is \\frac{3}{7}", True, "bare", None, "\\frac{3}{7}"),
    ("x^2+1", "math", "Answer: $1 + x^2$", True, "answer-line", None, "1 + x^2"),
    # text and multiple choice
    ("B", "math", "Final Answer: (B)", True, "answer-line", None, "(B)"),
    ("B", "math", "The answer is B.", True, "answer-line", None, "B"),
    ("(C)", "choice", "Answer: C) 42 apples", True, "answer-line", None, "C) 42 apples"),
    ("B", "choice", "Answer: A", False, "answer-line", None, "A"),
    ("B", "math", "I would pick (A), no wait, (B)", True, "bare", None, "B"),
    ("Paris", "math", "The answer is Paris.", True, "answer-line", None, "Paris"),
    ("Paris", "math", "Answer: sapir", False, "answer-line", None, "sapir"),
    ("Paris", "text", "answer: PARIS", True, "answer-line", None, "PARIS"),
    ("Paris", "text", "paris", True, "bare", None, "paris"),
    ("Paris", "exact", "paris", False, "bare", None, "paris"),
    ("olleh", "exact", "Reversed, it reads:\nolleh", True, "bare", None, "olleh"),
    ("a, b, c", "exact", "Answer: a, b, c", True, "answer-line", None, "a, b, c"),
    ("17", "exact", "There are 17 legs.", True, "bare", None, "17"),
    ("17", "exact", "There are 17 legs, not 18.", False, "bare", None, "18"),
    # confidence
    ("42", "math", "\\boxed{42} <confidence>0.8</confidence>", True, "boxed", 0.8, "42"),
    ("42", "math", "Answer: 42\nConfidence: 1.7", True, "answer-line", None, "42"),
    ("42", "math", "Answer: 42\nConfidence: 150%", True, "answer-line", None, "42"),
    ("42", "math", "Answer: 42 <confidence>high</confidence>", True, "answer-line", None, "42"),
    ("42", "math", "Answer: 42 <confidence>nan</confidence>", True, "answer-line", None, "42"),
    ("42", "math", "Answer: 42 <confidence>-0.5</confidence>", True, "answer-line", None, "42"),
    ("42", "math", "Answer: 42 <confidence>0</confidence><confidence>1</confidence>", True, "answer-line", 1.0,
     "42"),
    ("42", "math", "42\n**Confidence:** 0.65", True, "bare", 0.65, "42"),
    ("0.7", "math", "Confidence: 0.7", False, "malformed", 0.7, None),
    ("42", "math", "The answer is 42, with a confidence of 0.7", True, "answer-line", 0.7, "42"),
    ("42", "math", "I am 80% confident the answer is 42", True, "answer-line", 0.8, "42"),
    ("42", "math", "Answer: 42, since 6 × 7 = 42", True, "answer-line", None, "42"),
    ("1,234", "math", "Answer: 1,234, as shown", True, "answer-line", None, "1,234"),
    ("42", "math", "Answer: 42, 43", False, "answer-line", None, "42, 43"),
    # abstention
    (None, "math", "I don't know.", False, "abstain", None, None),
    (None, "math", "I do not know. <confidence>0.1</confidence>", False, "abstain", 0.1, None),
    (None, "math", "The value cannot be determined from the information given.", False, "abstain", None, None),
    (None, "math", "There is not enough information to answer.", False, "abstain", None, None),
    (None, "math", "This is impossible to determine without x.", False, "abstain", None, None),
    (None, "math", "The problem is underspecified; 3 + x has no single value.", False, "abstain", None, None),
    (None, "math", "Answer: unknown", False, "abstain", None, None),
    (None, "math", "Answer: I’m not sure", False, "abstain", None, None),
    ("42", "math", "I'm not sure, but the answer is 42.", True, "answer-line", None, "42"),
    ("42", "math", "I don't know. 42", False, "abstain", None, None),
    ("42", "math", "<think>I'm not sure</think> 42", True, "bare", None, "42"),
    ("42", "math", "hello there", False, "malformed", None, None),
    ("42", "math", "", False, "malformed", None, None),
]


@pytest.mark.parametrize("reference, answer_type, completion, correct, fmt, confidence, answer", CASES)
def test_verifier_case(reference, answer_type, completion, correct, fmt, confidence, answer):
    v = verdict(reference, answer_type, completion)
    assert (v.correct, v.format, v.confidence, v.answer) == (correct, fmt, confidence, answer)
    assert v.abstained is (fmt == "abstain")


@pytest.mark.parametrize("text, q", [
    ("Confidence: 0.8", 0.8), ("confidence = 0.25", 0.25), ("Confidence: 80%", 0.8), ("Confidence: 80 %", 0.8),
    ("Confidence level: 95 percent", 0.95), ("<confidence> 0.3 </confidence>", 0.3), ("Confidence: 1.", 1.0),
    ("Confidence: .5", 0.5), ("<confidence>75%</confidence>", 0.75), ("Confidence: 80", None),
    ("Confidence: 1.01", None), ("Confidence: high", None), ("no confidence here", None),
    ("<think>Confidence: 0.2</think>Answer: 1", None), ("<think>unfinished Confidence: 0.2", None),
    ("I am 80% confident", 0.8), ("Answer 4. 99.5% sure", 0.995), ("1080% confident", None),
    ("9" * 200_000 + "% confident", None), ("Answer: 3 " + "9" * 200_000, None),
])
def test_stated_confidence(text, q):
    assert stated_confidence(text) == q


@pytest.mark.parametrize("text, want", [
    ("I don't know", True), ("i dont know", True), ("I do not know the answer.", True),
    ("I am not certain what x is", True), ("IDK", True), ("No idea.", True),
    ("It can't be determined.", True), ("cannot be known from this", True),
    ("Not enough information is given.", True), ("There isn't enough context", True),
    ("The question is missing a value.", True), ("the problem appears to be ill-posed", True),
    ("This is unanswerable.", True), ("I cannot answer this.", True), ("There is no single answer", True),
    ("I abstain.", True), ("Missing information: the length.", True),
    ("The answer is 42.", False), ("Find the missing digit: 4_2", False), ("I know it: 42", False),
    ("Knowledge is power", False),
])
def test_abstention_phrases(text, want):
    assert is_abstention(text) is want


@pytest.mark.parametrize("text, want", [
    ("\\boxed{\\frac{1}{2}}", ("\\frac{1}{2}", "boxed")),
    ("\\boxed{\\left\\{1,2\\right\\}}", ("\\left\\{1,2\\right\\}", "boxed")),
    ("\\fbox{7}", ("7", "boxed")),
    ("The final answer is: **17**", ("17", "answer-line")),
    ("nothing here", (None, "malformed")),
])
def test_extract_answer(text, want):
    assert extract_answer(text) == want


@pytest.mark.parametrize("pred, ref, answer_type, want", [
    ("1,234", "1234", "math", True), ("12", "13", "math", False), ("1,2", "12", "math", False),
    ("0.50", "1/2", "math", True), ("\\frac{2}{4}", "0.5", "math", True), ("2/0", "0", "math", False),
    ("42%", "42", "math", True), ("25 °C", "25", "math", True),
    ("abc", "abc", "exact", True), ("abc", "abd", "exact", False), (" Abc ", "abc", "text", True),
    ("\"Paris.\"", "paris", "text", True), ("b", "(B)", "choice", True), ("B", "C", "math", False),
])
def test_answers_match(pred, ref, answer_type, want):
    assert answers_match(pred, ref, answer_type) is want


def test_formats_are_the_answer_formats():
    assert TASK.formats == ("boxed", "answer-line", "bare")
    labels = {verdict(r, t, c).format for r, t, c, *_ in CASES}
    assert labels - set(TASK.formats) == {"abstain", "malformed", "truncated-reasoning"}


def test_module_doctests():
    import doctest

    from offtarget.tasks import answers

    result = doctest.testmod(answers)
    assert result.attempted >= 3 and result.failed == 0
