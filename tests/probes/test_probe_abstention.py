"""Abstention probe: precision/recall/F1 on a hand-counted 2x2 table, one-class slices, SimpleQA."""

from __future__ import annotations

import pytest

from offtarget.probes import abstention


def _case(kit):
    """6 answerable + 5 unanswerable problems, 2 samples each.

    answerable (12 samples): 3 abstain (FP), 6 correct, 2 wrong, 1 malformed
    unanswerable (10 samples): 6 abstain (TP), 3 state an answer, 1 malformed (FN = 4)
    """
    ans = [kit.answerable(a, 10) for a in (1, 2, 3, 4, 5, 6)]
    una = [kit.unanswerable(i) for i in range(5)]
    s = [p.answer for p in ans]
    texts = [
        ["?", "?"], ["?", f"d {s[1]}"], [f"d {s[2]}", f"d {s[2]}"],
        [f"d {s[3]}", f"r {s[3][::-1]}"], [f"d {s[4]}", "d 0"], ["d 0", "zz"],
        ["?", "?"], ["?", "?"], ["?", "d 12"], ["?", "d 3"], ["d 7", "zz"],
    ]
    return ans + una, texts


@pytest.fixture(scope="module")
def result(kit):
    problems, texts = _case(kit)
    never = kit.evidence("base", problems, [["d 0", "d 0"]] * len(problems))
    return abstention.run(kit.context(never, kit.evidence("tuned", problems, texts)))


def test_two_by_two_table(kit, result):
    v = lambda m, g="test": kit.value(result, m, g, "tuned")
    assert v("abstention_precision") == pytest.approx(6 / 9)
    assert v("abstention_recall") == pytest.approx(6 / 10)
    assert v("abstention_f1") == pytest.approx(2 * 6 / (2 * 6 + 3 + 4))
    assert v("over_answer_rate") == pytest.approx(3 / 10)       # malformed is no answer
    assert v("over_refusal_rate") == pytest.approx(3 / 12)
    assert v("accuracy_given_attempted") == pytest.approx(6 / 9)  # malformed is a failed attempt
    assert v("abstention_rate") == pytest.approx(9 / 22)


def test_one_class_slices_keep_the_metrics_defined_there(kit, result):
    groups = {(m.metric, m.group) for m in result.metrics}
    assert ("abstention_recall", "test/unanswerable") in groups
    assert ("over_answer_rate", "test/unanswerable") in groups
    assert ("over_refusal_rate", "test/all") in groups
    assert kit.value(result, "abstention_recall", "test/unanswerable", "tuned") == pytest.approx(0.6)
    for metric in ("abstention_precision", "abstention_f1"):
        assert (metric, "test/unanswerable") not in groups and (metric, "test/all") not in groups
        assert not any(c.metric == metric and c.group != "test" for c in result.comparisons)
    assert ("abstention_recall", "test/all") not in groups


def test_directions_and_never_abstaining_reference(kit, result):
    hib = {m.metric: m.higher_is_better for m in result.metrics}
    assert hib == {"abstention_precision": True, "abstention_recall": True, "abstention_f1": True,
                   "over_answer_rate": False, "over_refusal_rate": False, "accuracy_given_attempted": True,
                   "abstention_rate": None}
    assert kit.value(result, "abstention_recall", "test", "base") == 0.0
    assert kit.row(result, "abstention_precision", "test", "base").value is None
    assert any("base never abstains" in n for n in result.notes)


def test_task_without_unanswerable_items(kit):
    problems = [kit.answerable(a, 1) for a in range(6)]
    ev = kit.evidence("a", problems, [[f"d {p.answer}", "?"] for p in problems])
    res = abstention.run(kit.context(ev, kit.evidence("b", problems, [[f"d {p.answer}", "?"] for p in problems])))
    assert {m.metric for m in res.metrics} == {"over_refusal_rate", "accuracy_given_attempted", "abstention_rate"}
    assert any("no unanswerable problems" in n for n in res.notes)
