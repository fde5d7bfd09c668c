"""GRPO-RoC: lowest-penalty positives, uniformly sampled negatives, at least two of each."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from offtarget.train.curation import roc_counts, roc_select, roc_select_batch

#          0  1  2  3  4  5  6  7
CORRECT = [1, 0, 1, 0, 0, 1, 0, 0]
PENALTY = [0, 0, 2, 0, 0, 1, 0, 0]  # positives 0, 2, 5 with penalties 0, 2, 1
NEGATIVES = [1, 3, 4, 6, 7]


def test_brief_example_keeps_the_two_cleanest_positives():
    sel = roc_select(CORRECT, PENALTY, keep=4, rng=0)
    assert sel.positives == [0, 5]  # penalties 0 and 1; the penalty-2 positive is dropped
    assert len(sel.negatives) == 2 and set(sel.negatives) <= set(NEGATIVES)
    assert sel.kept == sorted(sel.positives + sel.negatives)
    assert (sel.n_positive, sel.n_negative) == (3, 5)


def test_seeded_and_deterministic():
    assert roc_select(CORRECT, PENALTY, 4, rng=7) == roc_select(CORRECT, PENALTY, 4, rng=7)
    assert len({tuple(roc_select(CORRECT, PENALTY, 4, rng=s).negatives) for s in range(50)}) > 1


def test_negatives_are_uniform():
    counts = Counter()
    trials = 4000
    for seed in range(trials):
        counts.update(roc_select(CORRECT, PENALTY, 4, rng=seed).negatives)
    for i in NEGATIVES:
        assert counts[i] / trials == pytest.approx(2 / 5, abs=0.04)  # each kept with probability k⁻/n⁻


def test_all_positive_group_keeps_the_lowest_penalties():
    sel = roc_select([1] * 8, [5, 0.5, 3, 0.1, 7, 2, 0.2, 9], keep=4)
    assert sel.kept == [1, 3, 5, 6] and sel.negatives == []


def test_all_negative_group_keeps_a_random_half():
    sel = roc_select([0] * 8, [0] * 8, keep=4, rng=1)
    assert len(sel.kept) == 4 and sel.positives == [] and len(set(sel.kept)) == 4


def test_a_lone_positive_is_kept():
    sel = roc_select([0, 0, 0, 1, 0, 0, 0, 0], [0] * 8, keep=4)
    assert sel.positives == [3] and len(sel.negatives) == 3


def test_a_lone_negative_is_kept():
    # target k⁺ = round(4 · 7/8) = 4 would drop the only failure and erase the group's signal
    sel = roc_select([1, 1, 1, 0, 1, 1, 1, 1], [6, 5, 4, 9, 3, 2, 1, 0], keep=4)
    assert sel.negatives == [3]
    assert sel.positives == [5, 6, 7]


def test_two_positives_are_both_kept_even_below_their_share():
    sel = roc_select([1, 1, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0], keep=4)
    assert sel.positives == [0, 1]  # share gives 1; the floor of two raises it


def test_nan_penalty_ranks_last():
    sel = roc_select([1, 1, 1, 1], [math.nan, 0.5, 0.2, 0.9], keep=2, min_each=0)
    assert sel.positives == [1, 2]


def test_penalty_ties_keep_rollout_order():
    assert roc_select([1] * 6, [0] * 6, keep=3).positives == [0, 1, 2]


@pytest.mark.parametrize(
    ("n_pos", "n_neg", "keep", "expected"),
    [
        (3, 5, 4, (2, 2)),  # 1.5 rounds up
        (1, 7, 4, (1, 3)),  # 0.5 rounds up to 1
        (2, 6, 4, (2, 2)),  # share 1, floor of two
        (6, 2, 4, (2, 2)),  # share 3, but two negatives must stay
        (7, 1, 4, (3, 1)),
        (8, 0, 4, (4, 0)),
        (0, 8, 4, (0, 4)),
        (4, 12, 8, (2, 6)),
        (10, 6, 8, (5, 3)),
        (3, 3, 3, (2, 1)),  # keep=3: floors shrink to one each
        (5, 1, 2, (1, 1)),
    ],
)
def test_counts(n_pos, n_neg, keep, expected):
    assert roc_counts(n_pos, n_neg, keep) == expected


@pytest.mark.parametrize("keep", [2, 3, 4, 8])
def test_count_invariants(keep):
    n = 2 * keep
    for n_pos in range(n + 1):
        n_neg = n - n_pos
        k_pos, k_neg = roc_counts(n_pos, n_neg, keep)
        assert k_pos + k_neg == keep
        assert 0 <= k_pos <= n_pos and 0 <= k_neg <= n_neg
        m = min(2, keep // 2)
        assert k_pos >= min(m, n_pos) and k_neg >= min(m, n_neg)
        if n_pos and n_neg:
            assert k_pos >= 1 and k_neg >= 1  # a mixed group stays mixed


def test_bad_inputs():
    with pytest.raises(ValueError, match="cannot keep 9 of 8"):
        roc_select([1] * 8, [0] * 8, keep=9)
    with pytest.raises(ValueError, match="penalties"):
        roc_select([1, 0], [0], keep=1)


def test_batch_over_trl_layout():
    correct = CORRECT + [1] * 8 + [0] * 8
    penalty = PENALTY + [5, 0.5, 3, 0.1, 7, 2, 0.2, 9] + [0] * 8
    kept = roc_select_batch(correct, penalty, group_size=8, keep=4, seed=3)
    assert len(kept) == 12 and kept == sorted(kept)
    assert [i for i in kept if i < 8 and correct[i]] == [0, 5]
    assert [i for i in kept if 8 <= i < 16] == [9, 11, 13, 14]
    assert all(16 <= i < 24 for i in kept[8:])
    assert kept == roc_select_batch(correct, penalty, group_size=8, keep=4, seed=3)
    with pytest.raises(ValueError, match="groups of 8"):
        roc_select_batch(correct[:-1], penalty[:-1], group_size=8, keep=4)
