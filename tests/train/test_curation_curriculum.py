"""Curriculum order: stable, deterministic, off by default."""

from __future__ import annotations

import pytest

from offtarget.errors import OfftargetError
from offtarget.tasks import Problem
from offtarget.train.curation import CurriculumConfig, apply_curriculum, order_by_difficulty, order_by_family


def _p(pid: str, family: str | None = None) -> Problem:
    return Problem(pid, "x", "1", metadata={} if family is None else {"family": family})


PROBLEMS = [
    _p("w1", "words"),
    _p("a1", "arith"),
    _p("c1", "code"),
    _p("a2", "arith"),
    _p("w2", "words"),
    _p("d1"),
]


def test_family_order_structured_first_then_by_first_appearance():
    got = order_by_family(PROBLEMS, ["arith"])
    assert [p.id for p in got] == ["a1", "a2", "w1", "w2", "c1", "d1"]
    got = order_by_family(PROBLEMS, ["arith", "code", "default"])
    assert [p.id for p in got] == ["a1", "a2", "c1", "d1", "w1", "w2"]


def test_family_function_is_pluggable():
    got = order_by_family(PROBLEMS, ["2"], family=lambda p: p.id[1])
    assert [p.id for p in got] == ["a2", "w2", "w1", "a1", "c1", "d1"]


def test_difficulty_easy_to_hard_stable_unmeasured_last():
    rates = {"w1": 0.5, "a1": 0.9, "c1": 0.5, "a2": 0.1, "w2": 0.9}
    assert [p.id for p in order_by_difficulty(PROBLEMS, rates)] == ["a1", "w2", "w1", "c1", "a2", "d1"]


def test_off_by_default_returns_a_copy_in_input_order():
    got = apply_curriculum(PROBLEMS)
    assert got == PROBLEMS and got is not PROBLEMS
    assert CurriculumConfig().mode == "off"


def test_apply_curriculum_modes():
    cfg = CurriculumConfig(mode="family", family_order=("code",))
    assert apply_curriculum(PROBLEMS, cfg)[0].id == "c1"
    cfg = CurriculumConfig(mode="difficulty")
    assert apply_curriculum(PROBLEMS, cfg, {"d1": 1.0})[0].id == "d1"


def test_deterministic_across_calls():
    rates = {p.id: 0.5 for p in PROBLEMS}
    assert (
        order_by_difficulty(PROBLEMS, rates) == order_by_difficulty(list(PROBLEMS), dict(rates)) == PROBLEMS
    )


@pytest.mark.parametrize(
    ("cfg", "rates", "match"),
    [
        (CurriculumConfig(mode="family"), None, "family_order"),
        (CurriculumConfig(mode="difficulty"), None, "pass rates"),
        (CurriculumConfig(mode="random"), None, "unknown curriculum mode"),  # type: ignore[arg-type]
    ],
)
def test_config_errors(cfg, rates, match):
    with pytest.raises(OfftargetError, match=match):
        apply_curriculum(PROBLEMS, cfg, rates)
