"""Dynamic sampling: tied groups dropped, batch filled to B informative groups."""

from __future__ import annotations

import math

import pytest

from offtarget.train.curation import group_values, is_tied, prompts_to_draw, select_groups


def test_tied_groups_are_dropped_and_the_batch_counts_what_is_missing():
    groups = [[1, 1, 1, 1], [0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 1]]
    sel = select_groups(groups, batch_groups=3)
    assert sel.keep == [1, 3]
    assert sel.tied == [0, 2]
    assert sel.surplus == []
    assert sel.needed == 1 and not sel.full
    assert sel.informative_rate == 0.5


def test_surplus_beyond_the_batch_and_earlier_rounds():
    groups = [[0, 1], [1, 1], [1, 0], [0, 1], [0, 0], [1, 0]]
    sel = select_groups(groups, batch_groups=4, have=2)
    assert sel.keep == [0, 2]
    assert sel.surplus == [3, 5]
    assert sel.needed == 0 and sel.full
    already_full = select_groups(groups, batch_groups=4, have=4)
    assert already_full.keep == [] and already_full.surplus == [0, 2, 3, 5] and already_full.needed == 0


def test_all_tied_round():
    sel = select_groups([[1, 1], [0, 0]], batch_groups=2)
    assert sel.keep == [] and sel.needed == 2 and sel.informative_rate == 0.0


def test_correctness_versus_reward():
    # all wrong, but a Brier term varies: tied on correctness, informative on reward
    correctness = [[0, 0, 0, 0]]
    reward = [[0.0 - 0.25, 0.0 - 0.01, 0.0 - 0.64, 0.0 - 0.25]]
    assert select_groups(correctness, 1).keep == []
    assert select_groups(reward, 1).keep == [0]


def test_tolerance_and_nan():
    assert is_tied([0.5, 0.5 + 1e-9])
    assert not is_tied([0.5, 0.5 + 1e-9], tol=0.0)
    assert is_tied([1.0, math.nan, 1.0])
    assert is_tied([1.0, math.nan, None])  # fewer than two defined values
    assert not is_tied([1.0, math.nan, 0.0])
    assert is_tied([])


def test_group_values_reshapes_trl_layout():
    assert group_values([1, 0, 1, 1, None, 0], 3)[1][:1] == [1.0]
    assert math.isnan(group_values([1, 0, 1, 1, None, 0], 3)[1][1])
    with pytest.raises(ValueError, match="groups of 4"):
        group_values([1, 0, 1], 4)


@pytest.mark.parametrize(
    ("needed", "rate", "kwargs", "expected"),
    [
        (0, 0.5, {}, 0),
        (3, 0.5, {}, 6),
        (3, 0.3, {}, 10),
        (3, 0.0, {}, 30),
        (3, 0.0, {"cap": 8}, 8),
        (4, 1.0, {}, 4),
    ],
)
def test_prompts_to_draw(needed, rate, kwargs, expected):
    assert prompts_to_draw(needed, rate, **kwargs) == expected


def test_bad_arguments():
    with pytest.raises(ValueError):
        select_groups([[0, 1]], batch_groups=0)
    with pytest.raises(ValueError):
        prompts_to_draw(2, 0.5, floor=0.0)
