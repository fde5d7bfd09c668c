"""Ternary reward (TruthRL): +1 correct, 0 abstain, −1 wrong; abstaining is correct where unanswerable."""

from __future__ import annotations

import pytest
from reward_helpers import ADD, UNANS

from offtarget.errors import OfftargetError
from offtarget.rewards import ternary_reward


@pytest.mark.parametrize(
    ("problem", "completion", "reward"),
    [
        (ADD, "d 85", 1.0),
        (ADD, "s 15 08 = 85<c>9", 1.0),
        (ADD, "?", 0.0),
        (ADD, "?<c>1", 0.0),
        (ADD, "d 86", -1.0),
        (ADD, "", -1.0),
        (ADD, "   ", -1.0),
        (ADD, "d 85 d 86", -1.0),
        (ADD, "I don't know", -1.0),  # abstaining in a form the task does not recognise is malformed
        (UNANS, "?", 1.0),
        (UNANS, "  ?<c>3 ", 1.0),
        (UNANS, "d 27", -1.0),
        (UNANS, "d 85", -1.0),
        (UNANS, "", -1.0),
        (UNANS, [{"role": "assistant", "content": "?"}], 1.0),
    ],
)
def test_default_weights(call, problem, completion, reward):
    assert call(ternary_reward(), [problem], [completion]).rewards == [reward]


def test_custom_weights_and_malformed(call):
    fn = ternary_reward(correct=2.0, abstain=0.5, wrong=-1.0, malformed=-3.0)
    got = call(fn, [ADD, ADD, ADD, ADD, UNANS], ["d 85", "?", "d 1", "junk", "?"])
    assert got.rewards == [2.0, 0.5, -1.0, -3.0, 2.0]


def test_binary_baseline_is_allowed(call):
    assert call(ternary_reward(abstain=-1.0), [ADD], ["?"]).rewards == [-1.0]


@pytest.mark.parametrize(
    "weights",
    [{"abstain": 2.0}, {"abstain": -2.0}, {"correct": -1.0, "abstain": -1.0, "wrong": -1.0}, {"wrong": 1.5}],
)
def test_incoherent_weights_are_rejected(weights):
    with pytest.raises(OfftargetError, match="wrong <= abstain <= correct"):
        ternary_reward(**weights)


def test_over_refusal_and_over_answer_are_defined_on_their_rows(call):
    problems = [ADD, ADD, ADD, UNANS, UNANS]
    got = call(ternary_reward(), problems, ["?", "d 85", "?", "d 1", "?"])
    assert got.extras["ternary/over_refusal"] == [1.0, 0.0, 1.0, None, None]
    assert got.extras["ternary/over_answer"] == [None, None, None, 1.0, 0.0]
    assert got.metrics["ternary/over_refusal"] == [pytest.approx(2 / 3)]
    assert got.metrics["ternary/over_answer"] == [0.5]
    assert got.metrics["ternary/correct"] == [pytest.approx(2 / 5)]
    assert got.metrics["ternary/wrong"] == [pytest.approx(1 / 5)]
