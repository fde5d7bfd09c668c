"""The coin routes behind relabellings: fair coins, exact Binomial(n, ½) counts, table lookups equal
to the matrix product they replace."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, chisquare

from offtarget.stats import coins


def test_word_masks_split_groups_into_words_of_at_most_64():
    masks, owner = coins.word_masks(np.array([3, 64, 150, 1]))
    assert owner.tolist() == [0, 1, 2, 2, 2, 3]
    assert [int(m).bit_count() for m in masks] == [3, 64, 64, 64, 22, 1]
    assert coins.word_masks(np.array([5, 7]))[0].dtype == np.uint8


@pytest.mark.parametrize("n", [5, 40, 64, 150])
def test_grouped_halves_follow_the_binomial(n):
    masks, _ = coins.word_masks(np.array([n]))
    heads = coins.binomial_halves(np.random.default_rng(n), 40_000, masks).sum(1)
    observed = np.bincount(heads, minlength=n + 1)
    expected = binom.pmf(np.arange(n + 1), n, 0.5) * heads.size
    keep = expected > 5  # chi-square cells with enough expected counts; the tails pooled into one
    pooled = [observed[~keep].sum()] if (~keep).any() else []
    _, p = chisquare(np.r_[observed[keep], pooled], np.r_[expected[keep], [expected[~keep].sum()] if pooled else []])
    assert p > 1e-4


def test_table_shifts_equal_the_matrix_product_of_the_same_coins():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(203, 3))  # not a multiple of 8: the last byte's padding adds nothing
    tables = coins.byte_tables(rows)
    got = coins.table_shifts(tables, np.random.default_rng(7), 50)
    raw = np.frombuffer(np.random.default_rng(7).bytes(50 * 26), dtype=np.uint8).reshape(50, 26)
    flips = np.unpackbits(raw, axis=1)[:, :203].astype(float)  # the same bytes, eight coins each
    np.testing.assert_allclose(got, flips @ rows, rtol=1e-12, atol=1e-12)
    assert coins.byte_tables(rng.normal(size=(203, 30))) is None  # many sums: the product is cheaper
