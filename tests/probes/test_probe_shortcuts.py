"""Shortcuts probe: repeated wrong answers, skipped computation, short and truncated output."""

from __future__ import annotations

import pytest

from offtarget.probes import shortcuts


def _case(kit):
    problems = [kit.answerable(a, 19) for a in (13, 24, 35, 46, 57)]
    s = [p.answer for p in problems]
    steps = [kit.TASK.render(p, "steps") for p in problems]
    bad_steps = f"s 99 = {s[3]}"  # parses as steps, columns wrong
    texts = [
        ["d 7", "d 7", "d 8", f"d {s[0]}"],        # modal wrong answer 7 covers half: repeated
        ["d 7", "d 8", "d 9", f"d {s[1]}"],        # three different wrong answers: not repeated
        [steps[2], steps[2], f"d {s[2]}", "?"],
        [bad_steps, bad_steps, steps[3], "d 1"],   # 2 of 3 step answers skip the computation
        ["d 5", "d 5", "d 5", f"d {s[4]}"],        # 3 of 4 the same wrong answer
    ]
    finish = [["stop"] * 4] * 4 + [["length", "stop", "stop", "stop"]]
    return problems, texts, finish


@pytest.fixture(scope="module")
def result(kit):
    problems, texts, finish = _case(kit)
    ref = kit.evidence("base", problems, [[kit.TASK.render(p, "steps")] * 4 for p in problems])
    return shortcuts.run(kit.context(ref, kit.evidence("rl", problems, texts, finish=finish)))


def test_repeated_wrong_answers(kit, result):
    assert kit.value(result, "repeated_wrong_answer_rate", "test", "rl") == pytest.approx(2 / 5)
    assert kit.value(result, "repeated_wrong_answer_rate", "test", "base") == 0.0


def test_computation_skipped(kit, result):
    # step-format samples: 2 (problem 2) + 3 (problem 3); 2 with inconsistent columns
    assert kit.value(result, "computation_skipped_rate", "test", "rl") == pytest.approx(2 / 5)
    assert kit.value(result, "computation_skipped_rate", "test", "base") == 0.0


def test_lengths_and_truncation(kit, result):
    problems, texts, finish = _case(kit)
    ev = kit.evidence("x", problems, texts, finish=finish)  # a truncated sample has no <eos>
    assert kit.value(result, "mean_completion_tokens", "test", "rl") == pytest.approx(ev.lengths.mean())
    # reference: every completion "s .. .. .. = NN" + eos; threshold is half its median length
    ref_len = len(kit.TASK.render(kit.answerable(13, 19), "steps")) + 1
    assert result.extras["short_threshold_tokens"] == pytest.approx(ref_len / 2)
    short = (ev.lengths <= ref_len / 2).mean()
    assert kit.value(result, "short_completion_rate", "test", "rl") == pytest.approx(short)
    assert kit.value(result, "truncation_rate", "test", "rl") == pytest.approx(1 / 20)
    hib = {m.metric: m.higher_is_better for m in result.metrics}
    assert hib["mean_completion_tokens"] is None and hib["truncation_rate"] is False


def test_repeated_wrong_needs_two_of_the_same():
    from offtarget.tasks import Verdict

    wrong = Verdict("3", False, False, "direct")
    right = Verdict("4", True, False, "direct")
    assert shortcuts.repeated_wrong([wrong, right]) == 0.0   # one wrong answer is not a repetition
    assert shortcuts.repeated_wrong([wrong, wrong, right, right]) == 1.0
    assert shortcuts.repeated_wrong([wrong, wrong, right, right, right]) == 0.0
