"""SRL step similarity: hand-computed SequenceMatcher ratios on 27 + 58 (reference 15 08 =85)."""

from __future__ import annotations

import pytest
from reward_helpers import ADD, UNANS

from offtarget.errors import OfftargetError
from offtarget.rewards import step_similarity, stepwise_reward
from offtarget.tasks import Problem


@pytest.mark.parametrize(
    ("completion", "reward"),
    [
        ("s 15 08 = 85", 1.0),  # [15, 08, =85] vs itself
        ("s 15 08 = 86", 2 * 2 / 6),  # right steps, wrong answer: still dense signal
        ("s 15 18 = 95", 2 * 1 / 6),  # first column only
        ("s 05 08 = 85", 2 * 2 / 6),
        ("s 1508 = 85", 2 * 1 / 5),  # columns run together: one token, only =85 matches
        ("s 15 08 00 = 85", 2 * 3 / 7),  # an extra column costs
        ("d 85", 2 * 1 / 4),  # right answer, no steps
        ("r 58<c>9", 2 * 1 / 4),
        ("d 86", 0.0),
        ("?", 0.0),
        ("", -1.0),
        ("s 15 08 =", -1.0),  # malformed
        ("d 85 d 85", -1.0),
        ([{"role": "assistant", "content": "s 15 08 = 85"}], 1.0),
    ],
)
def test_ratio(call, completion, reward):
    assert call(stepwise_reward(), [ADD], [completion]).rewards == [pytest.approx(reward)]


@pytest.mark.parametrize(
    ("completion", "reward"),
    [("s 15 08 = 85", 1.0), ("s 15 08 00 = 85", 1.0), ("s 15 18 = 95", 1 / 3), ("d 85", 1 / 3)],
)
def test_recall_mode(call, completion, reward):
    assert call(stepwise_reward(mode="recall"), [ADD], [completion]).rewards == [pytest.approx(reward)]


def test_without_the_answer_token(call):
    fn = stepwise_reward(include_answer=False)
    assert call(fn, [ADD] * 3, ["s 15 08 = 86", "d 85", "s 15 18 = 95"]).rewards == pytest.approx(
        [1.0, 0.0, 0.5]
    )


def test_not_applicable_without_a_reference(call):
    no_operands = Problem("p", "27+58=", "85")  # no metadata
    got = call(stepwise_reward(), [UNANS, no_operands, ADD], ["?", "d 85", "d 85"])
    assert got.rewards[:2] == [None, None]
    assert got.rewards[2] == pytest.approx(0.5)
    assert got.metrics["stepwise/similarity"] == [pytest.approx(0.5)]


def test_malformed_value_and_rate(call):
    got = call(stepwise_reward(malformed=0.0), [ADD, ADD], ["junk", "s 15 08 = 85"])
    assert got.rewards == [0.0, 1.0]
    assert got.metrics["stepwise/malformed"] == [0.5]


def test_rendered_solutions_score_one_on_many_problems(task, call):
    problems = [p for p in task.problems("train", 50, seed=2) if not p.should_abstain]
    got = call(stepwise_reward(task), problems, [task.render(p, "steps") for p in problems])
    assert got.rewards == [1.0] * len(problems)


def test_custom_extractors(call):
    fn = stepwise_reward(
        reference_steps=lambda p: ["a", "b", "c", "d"],
        completion_steps=lambda p, text, v: text.split(),
    )
    assert call(fn, [ADD], ["a c d"]).rewards == [pytest.approx(2 * 3 / 7)]


def test_step_similarity_edges():
    assert step_similarity([], []) == 1.0
    assert step_similarity(["a"], []) == 0.0
    assert step_similarity([], ["a"], mode="recall") == 0.0
    assert step_similarity(["a", "b"], ["b", "a"]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        step_similarity(["a"], ["a"], mode="bleu")
    with pytest.raises(OfftargetError):
        stepwise_reward(mode="bleu")
