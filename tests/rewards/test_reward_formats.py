"""Format reward (well-formed or not) and the format penalty RoC ranks positives by."""

from __future__ import annotations

import pytest
from reward_helpers import ADD, UNANS

from offtarget.rewards import PenaltyWeights, format_penalty, format_penalty_reward, format_reward


@pytest.mark.parametrize(
    ("completion", "reward"),
    [
        ("d 85", 1.0),
        ("r 58", 1.0),
        ("s 15 08 = 85", 1.0),
        ("d 12", 1.0),  # wrong but well-formed
        ("s 00 00 = 85", 1.0),  # inconsistent steps still parse
        ("?", 1.0),
        ("?<c>2", 1.0),
        ("", 0.0),
        ("  ", 0.0),
        ("85", 0.0),
        ("d 85 d 85", 0.0),
        ("d 85!", 0.0),
        ("x 85", 0.0),
        ([{"role": "assistant", "content": "r 58"}], 1.0),
    ],
)
def test_format_reward(task, call, completion, reward):
    assert call(format_reward(task), [ADD], [completion]).rewards == [reward]


def test_abstention_can_be_excluded(task, call):
    assert call(format_reward(task, abstain_ok=False), [UNANS, ADD], ["?", "d 85"]).rewards == [0.0, 1.0]


def test_require_confidence(task, call):
    fn = format_reward(task, require_confidence=True)
    got = call(
        fn,
        [ADD] * 4,
        ["d 85<c>7", "d 85", "d 85<confidence>1.3</confidence>", "d 85<confidence>0.4</confidence>"],
    )
    assert got.rewards == [1.0, 0.0, 0.0, 1.0]


def test_format_shares_sum_to_one_per_row(task, call):
    completions = ["d 85", "r 58", "s 15 08 = 85", "?", "nonsense", "d 1"]
    got = call(format_reward(task), [ADD] * 6, completions)
    shares = {k: v for k, v in got.extras.items() if "/share_" in k}
    assert set(shares) == {
        f"format/share_{f}" for f in ("direct", "reversed", "steps", "abstain", "malformed")
    }
    assert [sum(col[i] for col in shares.values()) for i in range(6)] == [1.0] * 6
    assert got.metrics["format/share_direct"] == [pytest.approx(2 / 6)]
    assert got.metrics["format/well_formed"] == [pytest.approx(5 / 6)]


@pytest.mark.parametrize(
    ("completion", "penalty"),
    [
        ("d 85", 0.0),
        ("s 15 08 = 85", 0.0),
        ("s 15 08 = 86", 0.0),  # a wrong answer is not a format violation
        ("d 85 ", 0.25),  # padding
        ("\nd 85", 0.25),
        ("s 00 00 = 85", 1.0),  # steps inconsistent with the answer's problem
        ("s 1508 = 85", 1.0),  # columns run together: not the right steps
        (" s 00 00 = 85 ", 1.25),  # both
        ("d 85 ok", 1.0),  # trailing garbage makes it malformed
        ("d 85 d 86", 1.0),  # several answers
        ("", 1.0),
        ("   junk   ", 1.0),  # malformed counts once, padding not added
        ("?", 0.0),
    ],
)
def test_format_penalty_values(task, call, completion, penalty):
    assert call(format_penalty_reward(task), [ADD], [completion]).rewards == [penalty]


def test_penalty_weights_are_configurable(task, call):
    fn = format_penalty_reward(
        task, malformed=3.0, steps_inconsistent=0.5, padding=0.0, missing_confidence=0.1
    )
    got = call(fn, [ADD] * 4, ["junk", "s 00 00 = 85<c>9", "d 85 ", "d 85<c>9"])
    assert got.rewards == pytest.approx([3.0, 0.5, 0.1, 0.0])
    assert got.extras["format_penalty/missing_confidence"] == [0.0, 0.0, 1.0, 0.0]


def test_format_penalty_function_matches_reward(task):
    v = task.verify(ADD, " s 00 00 = 85")
    assert format_penalty(" s 00 00 = 85", v) == 1.25
    assert format_penalty(" s 00 00 = 85", v, PenaltyWeights(padding=0.5, steps_inconsistent=0.0)) == 0.5
