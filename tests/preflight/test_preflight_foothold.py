"""Foothold numbers against hand-worked values and brute force; verdict rules; the window JSONL."""

from __future__ import annotations

import itertools
import json
from math import comb

import numpy as np
import pytest

from offtarget.preflight.foothold import (
    FootholdThresholds,
    measure_foothold,
    success,
    success_matrix,
    tied_probability,
    verdict_for,
    write_window_jsonl,
)
from offtarget.rewards import problems_from_columns
from offtarget.tasks import ArithmeticTask, Problem, Verdict


def _problems(n: int) -> list[Problem]:
    return ArithmeticTask(unanswerable_share=0).problems("train", n, seed=3)


def test_tied_probability_hand_values():
    # 2 successes of 4, groups of 2: all-wrong C(2,2)/C(4,2) = 1/6, all-right 1/6
    assert tied_probability(2, 4, 2) == pytest.approx((1 / 6, 1 / 6))
    assert tied_probability(0, 16, 8) == (1.0, 0.0)
    assert tied_probability(16, 16, 8) == (0.0, 1.0)
    # G > k falls back to the plug-in p^G + (1-p)^G
    assert tied_probability(1, 2, 4) == pytest.approx((0.5**4, 0.5**4))


@pytest.mark.parametrize("c,k,g", [(3, 8, 4), (5, 6, 3), (1, 7, 2)])
def test_tied_probability_is_the_share_of_tied_subgroups(c, k, g):
    """The U-statistic is exactly the share of size-G subsets of the k samples that are tied."""
    samples = [1] * c + [0] * (k - c)
    subsets = list(itertools.combinations(range(k), g))
    wrong = sum(all(samples[i] == 0 for i in s) for s in subsets) / len(subsets)
    right = sum(all(samples[i] == 1 for i in s) for s in subsets) / len(subsets)
    assert tied_probability(c, k, g) == pytest.approx((wrong, right))


def test_tied_probability_is_unbiased_for_p_to_the_g():
    """E[C(c,G)/C(k,G)] over c ~ Binomial(k, p) equals p^G (the plug-in p̂^G does not)."""
    p, k, g = 0.3, 8, 4
    pmf = [comb(k, c) * p**c * (1 - p) ** (k - c) for c in range(k + 1)]
    expected_right = sum(w * tied_probability(c, k, g)[1] for c, w in enumerate(pmf))
    plug_in = sum(w * (c / k) ** g for c, w in enumerate(pmf))
    assert expected_right == pytest.approx(p**g)
    assert abs(plug_in - p**g) > 1e-3


def test_measure_foothold_numbers_and_histogram():
    s = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 0, 0]])
    fh = measure_foothold(s, _problems(4), group_size=2, window=(0.1, 0.9), n_resamples=200)
    assert fh.never_solved.value == 0.25 and fh.always_solved.value == 0.25
    assert fh.mean_pass_rate.value == pytest.approx(7 / 16)
    # per prompt tied: 1/3, 1, 1, C(3,2)/C(4,2) = 1/2
    assert fh.tied.value == pytest.approx((1 / 3 + 1 + 1 + 0.5) / 4)
    assert fh.tied_all_wrong == pytest.approx((1 / 6 + 1 + 0 + 0.5) / 4)
    assert fh.unbiased
    hist = fh.histogram()
    assert hist["kind"] == "hist" and hist["counts"] == [1, 1, 1, 0, 1]
    assert len(hist["edges"]) == len(hist["counts"]) + 1
    assert fh.window.kept == [fh.problems[0].id, fh.problems[3].id]
    assert fh.per_slice[0]["group"] == "all" and fh.per_slice[0]["in_window"] == 2


@pytest.mark.parametrize(
    "never,always,tied,wrong,right,want",
    [
        (0.97, 0.0, 0.98, 0.98, 0.0, "no foothold"),
        (0.0, 0.95, 0.96, 0.0, 0.96, "saturated"),
        (0.5, 0.1, 0.6, 0.5, 0.1, "mostly unsolved"),
        (0.1, 0.5, 0.6, 0.1, 0.5, "mostly saturated"),
        (0.1, 0.1, 0.3, 0.15, 0.15, "healthy"),
    ],
)
def test_verdict_rules(never, always, tied, wrong, right, want):
    assert verdict_for(never, always, tied, wrong, right) == want


def test_verdict_thresholds_are_configurable():
    assert verdict_for(0.5, 0.0, 0.5, 0.5, 0.0, FootholdThresholds(no_foothold=0.4)) == "no foothold"


def test_no_foothold_summary_says_zero_reward():
    fh = measure_foothold(np.zeros((10, 8)), _problems(10), group_size=8, n_resamples=100)
    assert fh.verdict == "no foothold"
    assert fh.summary.startswith("no foothold: 100% of prompts never solved") and "zero reward" in fh.summary
    assert fh.tied.value == 1.0 and not fh.window.kept


def test_success_counts_abstention_on_unanswerable_items():
    answerable = Problem("a", "2+2=", "4")
    unanswerable = Problem("u", "2+k=", None, should_abstain=True)
    abstain = Verdict(None, False, True, "abstain")
    assert success(unanswerable, abstain) and not success(answerable, abstain)
    assert success(answerable, Verdict("4", True, False, "direct"))
    task = ArithmeticTask()
    m = success_matrix([answerable, unanswerable], [[task.verify(answerable, t) for t in ("d 4", "d 5")],
                                                    [task.verify(unanswerable, t) for t in ("?", "d 5")]])
    assert m.tolist() == [[1.0, 0.0], [1.0, 0.0]]


def test_window_jsonl_rows_are_reward_columns(tmp_path):
    problems = _problems(3)
    fh = measure_foothold(np.array([[1, 0], [1, 1], [0, 0]]), problems, group_size=2, n_resamples=50)
    path = tmp_path / "window.jsonl"
    assert write_window_jsonl(path, fh) == 1
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["id"] for r in rows] == [problems[0].id]
    cols = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
    assert problems_from_columns([r["prompt"] for r in rows], **cols) == [problems[0]]


def test_bad_shape_raises():
    with pytest.raises(ValueError):
        measure_foothold(np.zeros((2, 3)), _problems(3))


def test_summary_names_slices_without_a_foothold():
    problems = ArithmeticTask(unanswerable_share=0).problems("train", 60, seed=1)
    hard = {p.id for p in problems if p.slice == "carries=2"}
    s = np.array([[0, 0, 0, 0] if p.id in hard else [1, 0, 1, 0] for p in problems])
    fh = measure_foothold(s, problems, group_size=4, n_resamples=100)
    assert fh.verdict != "no foothold" and len(hard) >= 5
    assert f"train/carries=2 (100% of {len(hard)})" in fh.summary and "train/carries=1" not in fh.summary
