"""Strict and lenient correctness rewards against hand-worked and adversarial completions."""

from __future__ import annotations

import pytest
from reward_helpers import ADD, UNANS

from offtarget.rewards import correctness_reward, lenient_correctness_reward


@pytest.mark.parametrize("fmt", ["direct", "reversed", "steps"])
def test_rendered_correct_answers_score_one(task, call, fmt):
    assert call(correctness_reward(task), [ADD], [task.render(ADD, fmt, confidence=0.3)]).rewards == [1.0]


@pytest.mark.parametrize(
    ("completion", "reward"),
    [
        ("d 85", 1.0),
        ("  d 85\n", 1.0),  # the verifier forgives surrounding whitespace
        ("d 86", 0.0),
        ("r 85", 0.0),  # reversed digits read as 58
        ("?", 0.0),  # abstaining on an answerable item is not correct
        ("", 0.0),
        ("   ", 0.0),
        ("85", 0.0),  # missing format tag
        ("d 85 d 85", 0.0),  # several answers
        ("d 84 85 86", 0.0),
        ("d 85 because", 0.0),  # trailing garbage
        ("s 00 00 = 85", 1.0),  # wrong steps, right answer: correctness only checks the answer
        ([{"role": "assistant", "content": "d 85"}], 1.0),
        ([{"role": "assistant", "content": "d 58"}], 0.0),
    ],
)
def test_strict_correctness(task, call, completion, reward):
    assert call(correctness_reward(task), [ADD], [completion]).rewards == [reward]


def test_abstaining_on_unanswerable_is_not_correctness(task, call):
    # correctness follows the strict verdict; the ternary reward is the one that credits abstention
    assert call(correctness_reward(task), [UNANS, UNANS], ["?", "d 27"]).rewards == [0.0, 0.0]


def test_weights_and_name(task, call):
    fn = correctness_reward(task, correct=2.0, wrong=-0.5, name="acc")
    assert fn.__name__ == "acc"
    got = call(fn, [ADD, ADD], ["d 85", "d 1"])
    assert got.rewards == [2.0, -0.5]
    assert set(got.metrics) == {"acc/correct", "acc/abstained", "acc/malformed"}


def test_diagnostics_are_batch_rates(task, call):
    got = call(correctness_reward(task), [ADD] * 4, ["d 85", "?", "junk", "d 1"])
    assert got.metrics["correctness/correct"] == [0.25]
    assert got.metrics["correctness/abstained"] == [0.25]
    assert got.metrics["correctness/malformed"] == [0.25]
    assert got.extras["correctness/correct"] == [1.0, 0.0, 0.0, 0.0]


def test_lenient_is_hackable_and_says_so(task, call):
    got = call(lenient_correctness_reward(task), [ADD] * 4, ["d 84 85 86", "85 85 85", "d 85", "d 86"])
    assert got.rewards == [1.0, 1.0, 1.0, 0.0]
    assert got.extras["lenient_correctness/strict_correct"] == [0.0, 0.0, 1.0, 0.0]
    assert got.extras["lenient_correctness/hack"] == [1.0, 1.0, 0.0, 0.0]
    assert got.metrics["lenient_correctness/hack"] == [0.5]


def test_lenient_never_rewards_unanswerable(task, call):
    assert call(lenient_correctness_reward(task), [UNANS], ["d 27 85"]).rewards == [0.0]


def test_lenient_accepts_a_custom_check(task, call):
    fn = lenient_correctness_reward(task, check=lambda problem, text: "yes" in text)
    assert call(fn, [ADD, ADD], ["yes", "d 85"]).rewards == [1.0, 0.0]


def test_works_without_log_callbacks(task):
    fn = correctness_reward(task)
    assert fn(["27+58="], ["d 85"], answer=["85"]) == [1.0]


def test_per_completion_columns_can_be_switched_off(task, call):
    fn = correctness_reward(task)
    fn.log_columns = False
    got = call(fn, [ADD], ["d 85"])
    assert not got.extras and got.metrics["correctness/correct"] == [1.0]
