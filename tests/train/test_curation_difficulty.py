"""Offline difficulty window on per-prompt pass rates (correctness only)."""

from __future__ import annotations

import pytest

from offtarget.errors import OfftargetError
from offtarget.tasks import Problem
from offtarget.train.curation import DifficultyWindow, difficulty_window, pass_rates, strict_window


def _k10(successes: int) -> list[bool]:
    return [True] * successes + [False] * (10 - successes)


CORRECTNESS = {f"p{s}": _k10(s) for s in range(11)}  # pass rates 0.0, 0.1, ..., 1.0


def test_default_window_is_closed_at_0_1_and_0_9():
    rep = difficulty_window(CORRECTNESS)
    assert rep.kept == [f"p{s}" for s in range(1, 10)]
    assert rep.too_hard == ["p0"]
    assert rep.too_easy == ["p10"]
    assert rep.counts() == {"total": 11, "kept": 9, "too_easy": 1, "too_hard": 1, "unmeasured": 0}


def test_narrow_window_counts():
    rep = difficulty_window(CORRECTNESS, low=0.3, high=0.6)
    assert rep.kept == ["p3", "p4", "p5", "p6"]
    assert rep.too_hard == ["p0", "p1", "p2"]
    assert rep.too_easy == ["p7", "p8", "p9", "p10"]


def test_open_window_drops_its_bounds():
    rep = difficulty_window(CORRECTNESS, low=0.3, high=0.6, closed=False)
    assert rep.kept == ["p4", "p5"]
    assert "p3" in rep.too_hard and "p6" in rep.too_easy


def test_strict_window_keeps_everything_with_signal():
    rep = strict_window({"all": [1, 1, 1], "none": [0, 0, 0], "one": [0, 0, 1], "most": [1, 1, 0]})
    assert rep.kept == ["one", "most"]
    assert rep.too_easy == ["all"] and rep.too_hard == ["none"]
    # 0.1 and 0.9 are inside the strict window
    assert strict_window(CORRECTNESS).kept == [f"p{s}" for s in range(1, 10)]


def test_unmeasured_prompts_are_dropped_and_reported():
    rep = difficulty_window({"a": [], "b": [1, 0]})
    assert rep.kept == ["b"] and rep.unmeasured == ["a"]
    assert rep.counts()["total"] == 2
    assert "a" not in rep.pass_rates


@pytest.mark.parametrize("value", [0.37, 0.5, -1, 2, "yes", None, float("nan")])
def test_shaped_rewards_are_refused(value):
    with pytest.raises(OfftargetError, match="0/1 correctness.*prompt 'q'.*not a shaped reward"):
        difficulty_window({"q": [1, value]})


def test_accepts_bools_ints_and_floats_0_1():
    assert pass_rates({"a": [True, 0, 1.0, 0.0]}) == {"a": 0.5}


def test_input_order_is_kept_and_filter_selects_problems():
    problems = [Problem(pid, "1+1=", "2") for pid in ["z", "a", "m"]]
    rep = difficulty_window({"z": [1, 0], "a": [1, 1], "m": [0, 1, 1]})
    assert rep.kept == ["z", "m"]
    assert [p.id for p in rep.filter(problems)] == ["z", "m"]
    assert rep.filter([{"id": "m"}, {"id": "a"}]) == [{"id": "m"}]


@pytest.mark.parametrize(("low", "high"), [(0.6, 0.4), (-0.1, 0.5), (0.2, 1.2)])
def test_bad_window_is_a_user_error(low, high):
    with pytest.raises(OfftargetError, match="0 <= low <= high <= 1"):
        DifficultyWindow(low, high)
