"""chat-arithmetic: plain-English addition graded on what a real instruct model writes."""

from __future__ import annotations

import pytest

from offtarget.errors import OfftargetError
from offtarget.rewards import get_reward
from offtarget.tasks import get_task, list_tasks
from offtarget.tasks.chat_arithmetic import ChatArithmeticTask
from offtarget.tasks.problem import Problem


def problem(a: int, b: int) -> Problem:
    return Problem(id="t", prompt=f"What is {a} + {b}?", answer=str(a + b), metadata={"answer_type": "math"})


UNANSWERABLE = Problem(id="u", prompt="What is 34 plus the number I am thinking of?", answer=None,
                       slice="unanswerable", should_abstain=True, metadata={"answer_type": "math"})


@pytest.mark.parametrize("completion, correct, abstained, fmt", [
    # SmolLM2-135M-Instruct's own greedy reply to "What is 17 + 25?": the verifier reads 32 (wrong, 42 is right)
    ("17 + 25 = 32\n\nThe answer is 32.", False, False, "answer-line"),
    ("17 + 25 = 42\n\nThe answer is 42.", True, False, "answer-line"),
    ("42", True, False, "bare"),
    ("The sum of 17 and 25 is 42.", True, False, "bare"),
    ("17 + 25 = 42", True, False, "bare"),
    ("I don't know.", False, True, "abstain"),
    ("Bonjour! Comment allez-vous?", False, False, "malformed"),
])
def test_verifier_reads_real_model_outputs(completion, correct, abstained, fmt):
    v = ChatArithmeticTask().verify(problem(17, 25), completion)
    assert (v.correct, v.abstained, v.format) == (correct, abstained, fmt)


def test_unanswerable_items_reward_abstaining_not_guessing():
    task = ChatArithmeticTask()
    assert task.verify(UNANSWERABLE, "I don't know").abstained
    guess = task.verify(UNANSWERABLE, "The answer is 34.")
    assert not guess.abstained and not guess.correct


def test_splits_slices_and_shares():
    task = get_task("chat-arithmetic")
    test = task.problems("test", 20, seed=3)
    assert [p.slice for p in test].count("unanswerable") == 2  # 10 % of 20
    for p in test:
        assert p.split == "test"
        if p.slice == "two-digit":
            a, b = p.metadata["a"], p.metadata["b"]
            assert 10 <= a <= 99 and 10 <= b <= 99 and p.answer == str(a + b)
            assert p.prompt.startswith(f"What is {a} + {b}? Reply with only the number.")
    ood = task.problems("ood", 20)
    assert {p.slice for p in ood} == {"three-digit", "word-problem", "unanswerable"}
    three = [p for p in ood if p.slice == "three-digit"]
    assert all(p.metadata["a"] >= 100 and p.metadata["b"] >= 100 for p in three)
    word = next(p for p in ood if p.slice == "word-problem")
    assert f"has {word.metadata['a']} " in word.prompt and f"gets {word.metadata['b']} more" in word.prompt


def test_train_and_test_never_share_a_question_and_are_deterministic():
    task = ChatArithmeticTask()
    train = {p.prompt for p in task.problems("train", 300) if p.answer}
    test = {p.prompt for p in task.problems("test", 300) if p.answer}
    assert not train & test
    assert [p.id for p in task.problems("test", 30, seed=1)] == [p.id for p in task.problems("test", 30, seed=1)]
    ood = {p.prompt for p in task.problems("ood", 100) if p.answer}
    ood_train = {p.prompt for p in task.problems("ood_train", 100) if p.answer}
    assert not ood & ood_train


def test_confidence_variant_feeds_the_rlcr_reward():
    task = get_task("chat-arithmetic?confidence=1")
    p = task.problems("test", 1)[0]
    assert "<confidence>" in p.prompt
    v = task.verify(p, f"The answer is {p.answer}. <confidence>0.8</confidence>")
    assert v.correct and v.confidence == pytest.approx(0.8)
    rlcr = get_reward("rlcr", task=task)
    row = {"answer": [p.answer], "id": [p.id], "split": [p.split], "slice": [p.slice],
           "should_abstain": [False], "metadata": ['{"answer_type": "math"}']}
    # right with q = 0.8: 1 - (0.8 - 1)^2 = 0.96; wrong with q = 0.8: 0 - 0.64 = -0.64
    right, wrong = rlcr(prompts=[p.prompt] * 2,
                        completions=[f"The answer is {p.answer}. <confidence>0.8</confidence>",
                                     "The answer is 1. <confidence>0.8</confidence>"],
                        **{k: v * 2 for k, v in row.items()})
    assert right == pytest.approx(0.96) and wrong == pytest.approx(-0.64)


def test_reasoning_variant_asks_for_work_and_keeps_the_problems():
    plain, reasoning = get_task("chat-arithmetic"), get_task("chat-arithmetic?reasoning=1")
    assert reasoning.name == "chat-arithmetic-reasoning"
    a, b = plain.problems("test", 5, seed=3), reasoning.problems("test", 5, seed=3)
    assert [(p.id, p.answer) for p in a] == [(p.id, p.answer) for p in b]  # same sums, other wording
    assert "step by step" in b[0].prompt and "only the number" not in b[0].prompt
    assert a[0].store_key != b[0].store_key  # the two wordings never share stored samples
    worked = f"{b[0].metadata['a']} + {b[0].metadata['b']}: add the tens, then the ones. The answer is {b[0].answer}."
    assert reasoning.verify(b[0], worked).correct
    with pytest.raises(OfftargetError, match="reasoning"):
        get_task("chat-arithmetic?reasoning=2")


def test_listed_and_bad_options_are_one_line_errors():
    assert "chat-arithmetic" in list_tasks()
    with pytest.raises(OfftargetError, match="confidence"):
        get_task("chat-arithmetic?confidence=maybe")
    with pytest.raises(OfftargetError, match="unanswerable_share"):
        get_task("chat-arithmetic?unanswerable_share=2")
