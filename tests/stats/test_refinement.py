"""Holm-aware refinement: the decisions of refining every small p, at a fraction of the relabellings,
and a false-alarm rate that still holds at alpha."""

from __future__ import annotations

import numpy as np
import pytest

from offtarget.metrics.definition import ratio_of_sums
from offtarget.stats import holm, permutation_test
from offtarget.stats.refinement import Refinement, p_interval, settle, staged_permutation_test

ALPHA = 0.05


def test_p_interval_is_clopper_pearson():
    low, high = p_interval(0, 999)
    assert low == 0.0 and high == pytest.approx(1 - 0.0005 ** (1 / 999), rel=1e-9)
    low, high = p_interval(20, 200)
    assert 0.04 < low < 0.1 < high < 0.2


def test_settle_compares_the_interval_with_the_smallest_and_largest_holm_thresholds():
    assert settle(0, 999, ALPHA, 24) == "open"  # p ≤ 0.0076 with 99.9%: not yet below 0.05 / 24
    assert settle(0, 4032, ALPHA, 24) == "below"
    assert settle(0, 19_999, ALPHA, 240) == "open"  # 0.05 / 240 needs more than 19 999
    assert settle(20, 150, ALPHA, 24) == "above"
    assert settle(20, 300, ALPHA, 24) == "open"


def family(rng, m=24, problems=20, samples=8):
    """m comparisons from clear nulls to clear effects: per-sample 0/1 outcomes, a mean or a ratio."""
    out = []
    for i in range(m):
        effect = [0.0, 0.03, 0.08, 0.15, 0.3][i % 5]
        rate = rng.uniform(0.2, 0.7, problems)[:, None]
        ref = (rng.random((problems, samples)) < rate).astype(float)
        tuned = (rng.random((problems, samples)) < np.clip(rate + effect, 0, 1)).astype(float)
        if i % 2:
            out.append(((ref,), (tuned,), None))
        else:
            den = (rng.random((problems, samples)) < 0.8).astype(float)
            out.append(((ref * den, den), (tuned * den, den), ratio_of_sums))
    return out


def holm_flags(ps):
    return [a is not None and a < ALPHA for a in holm(ps)]


@pytest.mark.parametrize("seed", [0, 1])
def test_decisions_equal_the_full_two_stage_path_with_fewer_relabellings(seed):
    comps = family(np.random.default_rng(seed))
    full = [permutation_test(r, t, s, vectorized=s is not None, seed=100 + i) for i, (r, t, s) in enumerate(comps)]
    staged = [staged_permutation_test(r, t, s, vectorized=s is not None, seed=100 + i)
              for i, (r, t, s) in enumerate(comps)]
    m = len(comps)
    final = [pending.resolve(ALPHA, m) if pending else first for first, pending in staged]
    assert holm_flags([f.p_value for f in final]) == holm_flags([f.p_value for f in full])
    flagged = sum(holm_flags([f.p_value for f in full]))
    assert 0 < flagged < m  # a family with both decisions
    assert sum(f.n_permutations for f in final) < 0.6 * sum(f.n_permutations for f in full)
    decisions = {p.decision(ALPHA, m) for _, p in staged if p is not None}
    assert "open" in decisions


def test_a_settled_comparison_keeps_its_first_stage_p():
    rng = np.random.default_rng(4)
    ref = (rng.random((30, 8)) < 0.3).astype(float)
    tuned = (rng.random((30, 8)) < 0.9).astype(float)  # Hoeffding bound far below alpha / m
    first, pending = staged_permutation_test(ref, tuned, seed=1)
    assert isinstance(pending, Refinement) and first.bound
    assert pending.decision(ALPHA, 100) == "below"
    assert pending.resolve(ALPHA, 100) is first


@pytest.mark.parametrize("problems", [5, 10, 50])
def test_size_holds_at_alpha_with_holm_aware_refinement(problems):
    """Null families (both checkpoints one distribution): raw p < alpha in at most about alpha of the
    tests, and Holm flags something in at most about alpha of the families."""
    rng = np.random.default_rng(problems)
    m, families, below, any_flag = 8, 150, 0, 0
    for f in range(families):
        ps = []
        for j in range(m):
            rate = rng.uniform(0.1, 0.9, problems)[:, None]
            ref = (rng.random((problems, 8)) < rate).astype(float)
            tuned = (rng.random((problems, 8)) < rate).astype(float)
            if j % 2:  # a ratio of sums (no tail bound) as well as a mean
                den = (rng.random((problems, 8)) < 0.8).astype(float)
                ref, tuned = (ref * den, den), (tuned * den, den)
            stat = ratio_of_sums if j % 2 else None
            first, pending = staged_permutation_test(ref, tuned, stat, vectorized=bool(j % 2), seed=f * m + j)
            ps.append((pending.resolve(ALPHA, m) if pending else first).p_value)
        below += sum(p < ALPHA for p in ps)
        any_flag += any(holm_flags(ps))
    n = families * m
    assert below / n <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / n)
    assert any_flag / families <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / families)


def test_a_family_too_large_for_19_999_relabellings_gets_a_stage_sized_to_it():
    """In a family of 1 200 at 0.05, p = 1 / 20 000 would stay above alpha / m: the stage grows to
    1.25 m / alpha, and a ratio no relabelling reaches ends below Holm's first threshold."""
    from offtarget.stats.refinement import stage2_budget

    assert stage2_budget(ALPHA, 24) == 19_999 and stage2_budget(ALPHA, 800) == 19_999
    assert stage2_budget(ALPHA, 1_200) == 29_999
    rng = np.random.default_rng(3)
    den = (rng.random((40, 8)) < 0.8).astype(float)
    ref, tuned = (rng.random((40, 8)) < 0.2).astype(float), (rng.random((40, 8)) < 0.9).astype(float)
    _, pending = staged_permutation_test((ref * den, den), (tuned * den, den), ratio_of_sums, vectorized=True)
    final = pending.resolve(ALPHA, 1_200)
    assert final.n_permutations == 29_999 and final.p_value == pytest.approx(1 / 30_000)
    assert final.p_value < ALPHA / 1_200


def test_refining_on_two_threads_gives_the_serial_p_values():
    """Each refinement has its own random stream: the schedule cannot change a p-value."""
    from offtarget.stats.refinement import resolve_all

    comps = family(np.random.default_rng(5))

    def pendings():
        staged = [staged_permutation_test(r, t, s, vectorized=s is not None, seed=200 + i)
                  for i, (r, t, s) in enumerate(comps)]
        return [p for _, p in staged if p is not None]

    serial = [f.p_value for f in resolve_all(pendings(), ALPHA, len(comps), workers=1)]
    threaded = [f.p_value for f in resolve_all(pendings(), ALPHA, len(comps), workers=2)]
    assert len(serial) >= 4 and threaded == serial
