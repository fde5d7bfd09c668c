"""Diversity probe: token entropy, token-level distinct-n and distinct answers, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from offtarget.probes import diversity


@pytest.fixture(scope="module")
def result(kit):
    problems = [kit.answerable(a, 1) for a in (10, 20, 30, 40, 50)]
    # every problem: answers 11, 11, 12 (+ a multiple of 10): two distinct answers of three samples
    texts = [[f"d {a + 1}", f"d {a + 1}", f"d {a + 2}"] for a in (10, 20, 30, 40, 50)]
    ent = [[0.2, 0.4, 0.6]] * 4 + [[1.0, 1.0, 1.0]]
    tuned = kit.evidence("tuned", problems, texts, entropies=ent)
    same = kit.evidence("base", problems, [[f"d {p.answer}"] * 3 for p in problems],
                        entropies=[[0.1] * 3] * 5)
    return diversity.run(kit.context(same, tuned))


def test_entropy_is_a_per_problem_average(kit, result):
    # per problem 0.4, 0.4, 0.4, 0.4, 1.0
    assert kit.value(result, "mean_token_entropy", "test", "tuned") == pytest.approx(2.6 / 5)
    assert kit.value(result, "mean_token_entropy", "test", "base") == pytest.approx(0.1)


def test_distinct_n_on_tokens(kit, result):
    # "d 11<eos>", "d 11<eos>", "d 12<eos>": bigrams (d, ) ( ,1) (1,1) (1,<eos>) twice and
    # (d, ) ( ,1) (1,2) (2,<eos>): 12 bigrams, 6 unique; trigrams 9, 5 unique
    assert kit.value(result, "distinct_2", "test", "tuned") == pytest.approx(6 / 12)
    assert kit.value(result, "distinct_3", "test", "tuned") == pytest.approx(5 / 9)
    assert kit.value(result, "distinct_2", "test", "base") == pytest.approx(4 / 12)


def test_distinct_answers(kit, result):
    assert kit.value(result, "distinct_answers", "test", "tuned") == pytest.approx(2.0)
    assert kit.value(result, "distinct_answer_ratio", "test", "tuned") == pytest.approx(2 / 3)
    assert kit.value(result, "distinct_answers", "test", "base") == pytest.approx(1.0)
    hib = {m.metric: m.higher_is_better for m in result.metrics}
    assert hib == {"mean_token_entropy": True, "distinct_2": True, "distinct_3": True,
                   "distinct_answers": None, "distinct_answer_ratio": None}


def test_entropy_histogram(result):
    h = result.plots["entropy_hist"]["test"]
    assert set(h) == {"base", "tuned"} and h["base"]["edges"] == h["tuned"]["edges"]
    assert sum(h["tuned"]["counts"]) == 15 and len(h["tuned"]["edges"]) == diversity.HIST_BINS + 1
    assert h["tuned"]["counts"][-1] == 3  # the three samples at the top entropy 1.0


def test_distinct_n_undefined_for_short_samples():
    assert np.isnan(diversity.distinct_n_ids([[1], [2]], 2))
    assert diversity.distinct_n_ids([[1, 2, 1, 2]], 2) == pytest.approx(2 / 3)


def test_unanswerable_problems_are_left_out(kit):
    problems = [kit.answerable(a, 1) for a in range(5)] + [kit.unanswerable(i) for i in range(5)]
    texts = [["d 1", "d 2"]] * 5 + [["?", "?"]] * 5
    res = diversity.run(kit.context(kit.evidence("a", problems, texts), kit.evidence("b", problems, texts)))
    assert {m.group for m in res.metrics} == {"test", "test/all"}
    assert sum(res.plots["entropy_hist"]["test"]["a"]["counts"]) == 10
