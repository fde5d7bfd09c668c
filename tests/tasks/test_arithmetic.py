"""The arithmetic family: determinism, disjoint splits, and the strict grammar."""

import pytest

from offtarget.tasks import ArithmeticTask
from offtarget.tasks.arithmetic import carries, lenient_correct

TASK = ArithmeticTask()


def test_problems_are_deterministic_and_splits_disjoint():
    a = TASK.problems("train", 500, seed=3)
    assert [p.id for p in a] == [p.id for p in TASK.problems("train", 500, seed=3)]
    train_pairs = {(p.metadata["a"], p.metadata["b"]) for p in TASK.problems("train", 6000) if p.answer}
    test_pairs = {(p.metadata["a"], p.metadata["b"]) for p in TASK.problems("test", 1500) if p.answer}
    assert train_pairs and test_pairs and not (train_pairs & test_pairs)


def test_ood_holds_quadrant_and_surface_and_unanswerable_share():
    ood = TASK.problems("ood", 100, seed=0)
    slices = {p.slice for p in ood}
    assert slices == {"quadrant", "surface", "unanswerable"}
    assert all(p.metadata["a"] >= 50 and p.metadata["b"] >= 50 for p in ood if p.slice == "quadrant")
    assert all(" + " in p.prompt for p in ood if p.slice == "surface")
    assert sum(p.should_abstain for p in ood) == 10
    assert all(p.answer is None for p in ood if p.should_abstain)


def test_carries_by_hand():
    # 27 + 58: units 7+8=15 -> carry 1 digit 5; tens 2+5+1=8 -> carry 0 digit 8
    assert carries(27, 58) == [(1, 5), (0, 8)]
    # 67 + 58: 15 -> (1,5); 6+5+1=12 -> (1,2); the final carry makes the hundreds digit
    assert carries(67, 58) == [(1, 5), (1, 2)]


@pytest.mark.parametrize(
    "text, correct, fmt, conf",
    [
        ("d 85", True, "direct", None),
        ("r 58", True, "reversed", None),
        ("s 15 08 = 85", True, "steps", None),
        ("d 85<c>7", True, "direct", 0.75),
        ("d 85<confidence>0.3</confidence>", True, "direct", 0.3),
        ("d 85<confidence>1.3</confidence>", True, "direct", None),  # out of range: no confidence
        ("d 84", False, "direct", None),
        ("d 85 d 84", False, "malformed", None),  # several answers are never correct
        ("85", False, "malformed", None),
        ("", False, "malformed", None),
        ("?", False, "abstain", None),
    ],
)
def test_strict_verifier(text, correct, fmt, conf):
    from offtarget.tasks import Problem
    p = Problem("x", "27+58=", "85", metadata={"a": 27, "b": 58})
    v = TASK.verify(p, text)
    assert (v.correct, v.format, v.confidence) == (correct, fmt, conf)


def test_steps_consistency_detects_skipped_computation():
    from offtarget.tasks import Problem
    p = Problem("x", "27+58=", "85", metadata={"a": 27, "b": 58})
    assert TASK.verify(p, "s 15 08 = 85").steps_ok is True
    v = TASK.verify(p, "s 11 11 = 85")
    assert v.correct and v.steps_ok is False


def test_abstention_is_right_only_on_unanswerable():
    u = next(p for p in TASK.problems("test", 50) if p.should_abstain)
    v = TASK.verify(u, TASK.render(u, "abstain"))
    assert v.abstained and not v.correct


def test_render_roundtrip_all_formats():
    for p in TASK.problems("test", 60, seed=1):
        if p.should_abstain:
            continue
        for fmt in ("direct", "reversed", "steps"):
            v = TASK.verify(p, TASK.render(p, fmt, confidence=0.42))
            assert v.correct and v.format == fmt and v.confidence == pytest.approx(0.45)


def test_lenient_check_is_gameable_and_strict_is_not():
    from offtarget.tasks import Problem
    p = Problem("x", "27+58=", "85", metadata={"a": 27, "b": 58})
    spray = "d 84 d 85 d 86"
    assert lenient_correct(p, spray) and not TASK.verify(p, spray).correct
