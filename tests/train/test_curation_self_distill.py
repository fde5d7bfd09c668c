"""The self-distillation keep rules and statistics against cases worked by hand."""

from __future__ import annotations

import pytest

from offtarget.errors import OfftargetError
from offtarget.train.curation.self_distill import SampleRecord, select_samples, selection_stats


def rec(pid, i, correct, answer, fmt="direct", tokens=5, finish="stop", steps_ok=None):
    return SampleRecord(pid, i, tokens, finish, correct, answer, fmt, steps_ok)


# problem a: answer 85; samples: correct direct (6 tok), correct steps with bad steps (9), wrong 84 (5),
# correct reversed (4), truncated (32). problem b: answer 10; two wrong "11", one correct "10", one abstain.
RECORDS = [
    rec("a", 0, True, "85", tokens=6),
    rec("a", 1, True, "85", fmt="steps", tokens=9, steps_ok=False),
    rec("a", 2, False, "84", tokens=5),
    rec("a", 3, True, "85", fmt="reversed", tokens=4),
    rec("a", 4, False, None, fmt="malformed", tokens=32, finish="length"),
    rec("b", 0, False, "11"),
    rec("b", 1, False, "11", tokens=3),
    rec("b", 2, True, "10", tokens=7),
    rec("b", 3, False, None, fmt="abstain", tokens=2),
]


def ids(records):
    return [(r.problem_id, r.index) for r in records]


def test_all_keeps_everything_but_truncated():
    assert ids(select_samples(RECORDS, "all")) == [(r.problem_id, r.index) for r in RECORDS if r.index != 4
                                                   or r.problem_id != "a"]
    assert len(select_samples(RECORDS, "all", keep_truncated=True)) == 9


def test_correct_is_the_verifier():
    assert ids(select_samples(RECORDS, "correct")) == [("a", 0), ("a", 1), ("a", 3), ("b", 2)]


def test_correct_formatted_drops_inconsistent_steps_and_other_formats():
    assert ids(select_samples(RECORDS, "correct-formatted")) == [("a", 0), ("a", 3), ("b", 2)]
    assert ids(select_samples(RECORDS, "correct-formatted", formats=["reversed"])) == [("a", 3)]


def test_majority_is_label_free_plurality():
    # a: 85 three times vs 84 once -> the three 85s; b: 11 twice vs 10 once (abstain has no answer) -> the 11s
    assert ids(select_samples(RECORDS, "majority")) == [("a", 0), ("a", 1), ("a", 3), ("b", 0), ("b", 1)]
    tie = [rec("c", 0, True, "1"), rec("c", 1, False, "2")]
    assert select_samples(tie, "majority") == []


def test_shortest_correct_one_per_problem_first_on_ties():
    assert ids(select_samples(RECORDS, "shortest-correct")) == [("a", 3), ("b", 2)]
    same = [rec("d", 0, True, "1", tokens=4), rec("d", 1, True, "1", tokens=4)]
    assert ids(select_samples(same, "shortest-correct")) == [("d", 0)]


def test_unknown_rule_is_a_one_line_error():
    with pytest.raises(OfftargetError, match="--keep"):
        select_samples(RECORDS, "best")


def test_statistics_by_hand():
    kept = select_samples(RECORDS, "shortest-correct")
    s = selection_stats(RECORDS, kept)
    assert (s["problems"], s["samples"], s["kept"], s["correct"], s["truncated"]) == (2, 9, 2, 4, 1)
    assert s["kept_share"] == pytest.approx(2 / 9) and s["correct_share"] == pytest.approx(4 / 9)
    assert s["coverage"] == 1.0 and s["kept_per_problem"] == {"1": 2}
    assert s["kept_formats"] == {"direct": 1, "reversed": 1}
    assert s["per_problem"][0] == {"id": "a", "samples": 5, "correct": 3, "kept": 1}
    none = selection_stats(RECORDS, [])
    assert none["coverage"] == 0.0 and none["kept_per_problem"] == {"0": 2}
