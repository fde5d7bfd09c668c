"""Formats probe: shares, dominant share and format entropy of a known mix."""

from __future__ import annotations

import math

import pytest

from offtarget.probes import formats


@pytest.fixture(scope="module")
def result(kit):
    problems = [kit.answerable(a, 3) for a in (11, 12, 13, 14, 15)]
    s = [p.answer for p in problems]
    # answers: direct 4, reversed 2, steps 2; plus one abstention and one malformed sample
    texts = [
        [f"d {s[0]}", f"d {s[0]}"],
        [f"d {s[1]}", "?"],
        [f"r {s[2][::-1]}", f"d {s[2]}"],
        [f"r {s[3][::-1]}", kit.TASK.render(problems[3], "steps")],
        [kit.TASK.render(problems[4], "steps"), "oops"],
    ]
    collapsed = kit.evidence("collapsed", problems, [[f"d {a}"] * 2 for a in s])
    return formats.run(kit.context(collapsed, kit.evidence("mixed", problems, texts)))


def test_known_mix(kit, result):
    v = lambda m: kit.value(result, m, "test", "mixed")
    assert (v("format_share_direct"), v("format_share_reversed"), v("format_share_steps")) == pytest.approx(
        (0.5, 0.25, 0.25))
    assert v("dominant_format_share") == pytest.approx(0.5)
    assert v("format_entropy") == pytest.approx(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))
    assert v("malformed_share") == pytest.approx(1 / 10)


def test_collapsed_reference(kit, result):
    assert kit.value(result, "format_entropy", "test", "collapsed") == 0.0
    assert kit.value(result, "dominant_format_share", "test", "collapsed") == 1.0
    hib = {m.metric: m.higher_is_better for m in result.metrics}
    assert hib["dominant_format_share"] is False and hib["format_entropy"] is True
    assert hib["format_share_direct"] is None and hib["malformed_share"] is False


def test_plot_holds_the_same_shares(result):
    assert result.plots["format_shares"]["test"]["mixed"] == pytest.approx(
        {"direct": 0.5, "reversed": 0.25, "steps": 0.25})
    assert result.plots["format_shares"]["test"]["collapsed"]["steps"] == 0.0


def test_single_format_task(kit):
    class OneFormat:
        formats = ("answer",)

    problems = [kit.answerable(a, 3) for a in range(5)]
    evs = [kit.evidence(name, problems, [["d 1"], ["?"], ["d 2"], ["d 3"], ["d 4"]]) for name in "ab"]
    ctx = kit.context(*evs)
    ctx.task = OneFormat()
    # a label the task does not declare is still counted as a format
    assert formats.run(ctx).extras["formats"] == ["answer", "direct"]
    for ev in evs:
        ev.formats[ev.formats == "direct"] = "answer"
    res = formats.run(ctx)
    assert {m.metric for m in res.metrics} == {"format_share_answer", "malformed_share"}
    assert kit.value(res, "format_share_answer", "test", "a") == 1.0  # the abstention is not a format
    assert any("one answer format" in n for n in res.notes)


def test_answers_to_unanswerable_items_do_not_count(kit):
    problems = [kit.answerable(a, 3) for a in range(5)] + [kit.unanswerable(i) for i in range(5)]
    texts = [[f"d {p.answer}", f"r {p.answer[::-1]}"] for p in problems[:5]] + [["d 1", "x"]] * 5
    res = formats.run(kit.context(kit.evidence("a", problems, texts), kit.evidence("b", problems, texts)))
    assert kit.value(res, "format_share_direct", "test", "a") == pytest.approx(0.5)
    assert kit.row(res, "format_entropy", "test/unanswerable", "a") is None
    assert kit.value(res, "malformed_share", "test/unanswerable", "a") == pytest.approx(0.5)
