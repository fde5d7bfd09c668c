"""Consistency probe: greedy vs the sampled mode, and the modal-answer share."""

from __future__ import annotations

import pytest

from offtarget.probes import consistency


def _case(kit):
    problems = [kit.answerable(a, 1) for a in range(10, 15)] + [kit.unanswerable(0)]
    texts = [
        ["d 11", "d 11", "d 12", "d 13"],   # mode 11 (share .5); greedy 11 agrees
        ["d 12", "d 13", "d 13", "d 12"],   # tie 12/13 (share .5); greedy 13 agrees
        ["d 13", "d 13", "d 13", "d 13"],   # share 1; greedy 99 disagrees
        ["x", "y", "z", "w"],               # all malformed: no mode, left out of agreement; share 0
        ["?", "?", "d 15", "q"],            # abstention is a response: mode <abstain> (.5); greedy ? agrees
        ["?", "?", "?", "d 4"],             # share .75; greedy malformed disagrees
    ]
    greedy = ["d 11", "d 13", "d 99", "d 14", "?", "zzz"]
    return problems, texts, greedy


@pytest.fixture(scope="module")
def result(kit):
    problems, texts, greedy = _case(kit)
    ev = kit.evidence("rl", problems, texts, greedy=greedy)
    ref = kit.evidence("base", problems, [[f"d {p.answer}"] * 4 for p in problems],
                       greedy=[f"d {p.answer}" for p in problems])
    return consistency.run(kit.context(ref, ev))


def test_greedy_majority_agreement(kit, result):
    assert kit.value(result, "greedy_majority_agreement", "test", "rl") == pytest.approx(3 / 5)
    assert kit.value(result, "greedy_majority_agreement", "test", "base") == 1.0


def test_modal_answer_share(kit, result):
    assert kit.value(result, "modal_answer_share", "test", "rl") == pytest.approx((.5 + .5 + 1 + 0 + .5 + .75) / 6)
    assert {m.higher_is_better for m in result.metrics} == {True}


def test_without_greedy(kit):
    problems, texts, _ = _case(kit)
    res = consistency.run(kit.context(kit.evidence("a", problems, texts), kit.evidence("b", problems, texts)))
    assert {m.metric for m in res.metrics} == {"modal_answer_share"}
    assert "skipped" in res.notes[0]
