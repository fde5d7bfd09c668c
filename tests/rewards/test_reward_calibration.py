"""RLCR (c − (q − c)²) and the Brier term, including every way a confidence can fail to parse."""

from __future__ import annotations

import pytest
from reward_helpers import ADD, UNANS

from offtarget.rewards import brier_reward, correctness_reward, rlcr_reward, squared_error

# <c>d means q = (d + 0.5) / 10, so <c>8 -> 0.85 and <c>0 -> 0.05
HAND = [
    ("d 85<c>8", 1 - 0.15**2, 1 - 0.15**2),
    ("d 86<c>8", 0 - 0.85**2, 1 - 0.85**2),
    ("d 85<c>0", 1 - 0.95**2, 1 - 0.95**2),
    ("d 86<c>0", 0 - 0.05**2, 1 - 0.05**2),
    ("d 85<confidence>1</confidence>", 1.0, 1.0),
    ("d 85<confidence>0.5</confidence>", 0.75, 0.75),
    ("d 86<confidence>0.0</confidence>", 0.0, 1.0),
    ("d 86<confidence>1.0</confidence>", -1.0, 0.0),
    ("s 15 08 = 85<confidence> 0.9 </confidence>", 1 - 0.1**2, 1 - 0.1**2),
    ([{"role": "assistant", "content": "r 58<c>9"}], 1 - 0.05**2, 1 - 0.05**2),
]


@pytest.mark.parametrize(("completion", "rlcr", "brier"), HAND)
def test_hand_worked_values(call, completion, rlcr, brier):
    assert call(rlcr_reward(), [ADD], [completion]).rewards == [pytest.approx(rlcr)]
    assert call(brier_reward(), [ADD], [completion]).rewards == [pytest.approx(brier)]


UNPARSEABLE = [
    "d 85",  # missing
    "d 85<confidence>1.3</confidence>",  # above range
    "d 85<confidence>-0.2</confidence>",  # below range
    "d 85<confidence>high</confidence>",  # non-numeric
    "d 85<confidence></confidence>",  # empty
    "d 85<confidence>nan</confidence>",
]


@pytest.mark.parametrize("suffix", [u[len("d 85") :] for u in UNPARSEABLE])
@pytest.mark.parametrize(("answer", "c"), [("85", 1.0), ("86", 0.0)])
def test_unparseable_confidence_is_the_worst_case(call, suffix, answer, c):
    completion = f"d {answer}{suffix}"
    got = call(rlcr_reward(), [ADD], [completion])
    assert got.rewards == [c - 1.0]
    assert got.extras["rlcr/confidence_missing"] == [1.0]
    assert got.extras["rlcr/confidence"] == [None]
    assert call(brier_reward(), [ADD], [completion]).rewards == [0.0]


@pytest.mark.parametrize("digit", range(10))
@pytest.mark.parametrize("answer", ["85", "86"])
def test_stating_any_confidence_never_loses_to_omitting_it(call, digit, answer):
    stated, omitted = call(rlcr_reward(), [ADD, ADD], [f"d {answer}<c>{digit}", f"d {answer}"]).rewards
    assert stated > omitted


def test_malformed_and_empty_outputs_score_as_wrong_and_unparseable(call):
    got = call(rlcr_reward(), [ADD] * 3, ["", "   ", "d 85 d 85<c>9"])
    assert got.rewards == [-1.0, -1.0, -1.0]


def test_abstention_is_scored_against_zero(call):
    # "?<c>2" on an unanswerable item: c = 0 (the verifier never calls an abstention correct), q = 0.25
    assert call(rlcr_reward(), [UNANS], ["?<c>2"]).rewards == [pytest.approx(-0.0625)]
    assert call(rlcr_reward(), [ADD], ["?<c>0"]).rewards == [pytest.approx(-0.0025)]


def test_calibration_weight(call):
    fn = rlcr_reward(calibration_weight=0.5)
    assert call(fn, [ADD, ADD], ["d 86<c>9", "d 85"]).rewards == pytest.approx([-0.5 * 0.95**2, 0.5])


def test_correctness_plus_brier_is_rlcr_plus_one(call):
    completions = [
        "d 85<c>3",
        "d 86<c>7",
        "d 85",
        "?<c>1",
        "junk",
        "s 15 08 = 85<confidence>0.61</confidence>",
    ]
    problems = [ADD] * len(completions)
    rlcr = call(rlcr_reward(), problems, completions).rewards
    corr = call(correctness_reward(), problems, completions).rewards
    brier = call(brier_reward(), problems, completions).rewards
    assert [c + b for c, b in zip(corr, brier)] == pytest.approx([r + 1 for r in rlcr])


@pytest.mark.parametrize("p", [0.0, 0.3, 0.7, 1.0])
def test_expected_reward_peaks_at_the_true_probability(p):
    # a proper scoring rule: E[c - (q - c)^2] over c ~ Bernoulli(p) is maximised at q = p
    grid = [i / 100 for i in range(101)]

    def expected(q: float) -> float:
        return p * (1 - squared_error(q, True)) + (1 - p) * (0 - squared_error(q, False))

    assert max(grid, key=expected) == pytest.approx(p)


def test_batch_diagnostics(call):
    got = call(rlcr_reward(), [ADD] * 4, ["d 85<c>8", "d 86<c>2", "d 85", "d 85<confidence>7</confidence>"])
    assert got.metrics["rlcr/confidence"] == [pytest.approx((0.85 + 0.25) / 2)]  # parseable only
    assert got.metrics["rlcr/confidence_missing"] == [0.5]
    assert got.metrics["rlcr/correct"] == [0.75]
    assert got.metrics["rlcr/squared_error"] == [pytest.approx((0.15**2 + 0.25**2 + 1 + 1) / 4)]


def test_no_confidence_metric_when_none_parse(call):
    got = call(rlcr_reward(), [ADD, ADD], ["d 85", "junk"])
    assert "rlcr/confidence" not in got.metrics  # a mean of nothing is not logged as 0
    assert got.extras["rlcr/confidence"] == [None, None]


@pytest.mark.parametrize("q", [None, float("nan"), -0.01, 1.01])
def test_squared_error_worst_case(q):
    assert squared_error(q, True) == 1.0 and squared_error(q, False) == 1.0


def test_bare_abstention_claims_nothing_and_is_not_a_hack():
    """'?' states no answer and no confidence: scored as q = 0 (rlcr 0, brier 1), never above honest answering."""
    from offtarget.rewards import brier_reward, rlcr_reward
    from offtarget.rewards.columns import problem_to_row
    from offtarget.tasks import Problem

    add = Problem("a", "27+58=", "85", metadata={"a": 27, "b": 58})
    unans = Problem("u", "27+k=", None, should_abstain=True)
    cols = {k: [v, v2] for (k, v), v2 in zip(problem_to_row(add).items(), problem_to_row(unans).values())}
    prompts = cols.pop("prompt")
    assert rlcr_reward()(prompts, ["?", "?"], **cols) == [0.0, 0.0]
    assert brier_reward()(prompts, ["?", "?"], **cols) == [1.0, 1.0]
    # a stated confidence on an abstention is scored against c = 0: 0 - 0.85^2
    assert rlcr_reward()(prompts, ["?<c>8", "?<c>8"], **cols) == [pytest.approx(-0.7225)] * 2
    # honest answering beats abstaining in expectation for any p > 0: E = p^2 > 0
    p = 0.3
    expected_answering = p * (1 - (p - 1) ** 2) + (1 - p) * (0 - p**2)
    assert expected_answering == pytest.approx(p**2) and expected_answering > 0
