"""Reliability probe: pairwise agreement, greedy-draw agreement, ICC(1) and omega, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from offtarget.probes import reliability


def _case(kit):
    problems = [kit.answerable(a, 1) for a in range(10, 15)] + [kit.unanswerable(0)]
    texts = [
        ["d 11", "d 11", "d 11", "d 11"],   # correct 1111; agreement 12/12
        ["d 12", "d 12", "d 13", "d 13"],   # 1100; (2+2)/12
        ["d 9", "d 9", "d 9", "d 9"],       # 0000; 12/12
        ["d 14", "x", "d 14", "d 1"],       # 1010 (x malformed); 2/12
        ["d 15", "d 15", "d 15", "d 2"],    # 1110; 6/12
        ["?", "?", "?", "d 4"],             # unanswerable: 3 abstentions; 6/12
    ]
    greedy = ["d 11", "d 12", "d 13", "d 14", "?", "zzz"]  # agreement 1, .5, 0, .5, 0, 0
    return problems, texts, greedy


@pytest.fixture(scope="module")
def result(kit):
    problems, texts, greedy = _case(kit)
    ev = kit.evidence("rl", problems, texts, greedy=greedy)
    right = [4, 3, 2, 1, 0, 0]  # correct draws per problem of the reference
    ref = kit.evidence("base", problems, [[f"d {p.answer}"] * r + ["d 0"] * (4 - r) for p, r in zip(problems, right)],
                       greedy=[f"d {p.answer}" for p in problems])
    return reliability.run(kit.context(ref, ev))


def test_agreements_by_hand(kit, result):
    assert kit.value(result, "response_agreement", "test", "rl") == pytest.approx((1 + 1 / 3 + 1 + 1 / 6 + .5 + .5) / 6)
    assert kit.value(result, "greedy_draw_agreement", "test", "rl") == pytest.approx(2 / 6)


def test_icc_and_omega_by_hand(kit, result):
    # pass rates 1, .5, 0, .5, .75 (grand .55): MSB = 4·0.55/4 = 0.55, MSW = 2.75/15;
    # ICC(1) = (MSB − MSW)/(MSB + 3·MSW) = 1/3, omega = ICC(1,4) = (MSB − MSW)/MSB = 2/3
    assert kit.value(result, "icc_single_draw", "test", "rl") == pytest.approx(1 / 3)
    assert kit.value(result, "omega_repeats", "test", "rl") == pytest.approx(2 / 3)
    # reference pass rates 1, .75, .5, .25, 0: MSB = 0.625, MSW = 2.5/15 → ICC 11/27, omega 11/15
    assert kit.value(result, "icc_single_draw", "test", "base") == pytest.approx(11 / 27)
    assert kit.value(result, "omega_repeats", "test", "base") == pytest.approx(11 / 15)
    row = kit.row(result, "icc_single_draw", "test", "rl")
    assert row.low <= row.value <= row.high


def test_paired_comparison_against_the_reference(result):
    c = next(c for c in result.comparisons if c.metric == "omega_repeats" and c.group == "test")
    assert c.checkpoint == "rl" and c.reference == "base" and c.p_value is not None
    assert c.diff == pytest.approx(2 / 3 - 11 / 15)
    assert c.low <= c.diff <= c.high


def test_omega_is_spearman_brown_of_icc():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 6)) < rng.random((40, 1))).astype(float)
    rho = reliability.icc_single(x[None])[0]
    assert reliability.omega_parallel(x[None])[0] == pytest.approx(6 * rho / (1 + 5 * rho))


def test_icc_recovers_the_beta_binomial_correlation():
    # draws of a problem with pass rate p ~ Beta(a, b) are correlated with ICC 1/(a + b + 1)
    rng = np.random.default_rng(1)
    for a, b in ((1.0, 1.0), (0.5, 2.0)):
        p = rng.beta(a, b, size=(6000, 1))
        x = (rng.random((6000, 8)) < p).astype(float)
        assert reliability.icc_single(x[None])[0] == pytest.approx(1 / (a + b + 1), abs=0.02)


def test_no_problem_variance_gives_negative_icc():
    # right on exactly half the draws of every problem: MSB = 0, MSW = 1/3 → ICC(1) = −1/3
    x = np.tile([1.0, 1.0, 0.0, 0.0], (5, 1))[None]
    assert reliability.icc_single(x)[0] == pytest.approx(-1 / 3)


def test_undefined_when_every_draw_is_the_same():
    assert np.isnan(reliability.icc_single(np.ones((1, 5, 4)))[0])
    assert np.isnan(reliability.omega_parallel(np.zeros((1, 5, 4)))[0])
    assert np.isnan(reliability.pairwise_agreement(["1"]))


def test_without_greedy(kit):
    problems, texts, _ = _case(kit)
    res = reliability.run(kit.context(kit.evidence("a", problems, texts), kit.evidence("b", problems, texts)))
    assert "greedy_draw_agreement" not in {m.metric for m in res.metrics}
    assert any("skipped" in n for n in res.notes)


def test_icc_and_omega_relabelled_from_row_sums_equal_recomputing_each_relabelled_data_set():
    """The batched relabelling (row sums and sums of squares moved by the swapped samples) gives the
    statistic of every rebuilt relabelled data set, on the same coin flips."""
    from offtarget.probes.reliability import icc_single, omega_parallel
    from offtarget.stats.permutation import _relabelling

    rng = np.random.default_rng(3)
    rate = rng.uniform(0.1, 0.9, 12)[:, None]
    ref = (rng.random((12, 6)) < rate).astype(float)
    tuned = rng.random((12, 6)) * rate  # not 0/1: the sums of squares move too
    for stat in (icc_single, omega_parallel):
        fast = _relabelling(stat, [ref], [tuned], "sample", True, False, ref.shape)
        slow = _relabelling(lambda x, s=stat: s(x), [ref], [tuned], "sample", True, False, ref.shape)
        a, b = fast(np.random.default_rng(5), 500), slow(np.random.default_rng(5), 500)
        assert np.isfinite(a).all() and np.ptp(a) > 0
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
