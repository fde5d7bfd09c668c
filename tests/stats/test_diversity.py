"""Diversity measures against hand counts and scipy.stats.entropy."""

import math

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from offtarget.stats import distinct_answers, distinct_n, entropy, label_entropy


def test_distinct_n_token_level():
    texts = ["the cat sat", "the cat ran"]
    # unigrams: 6 in all, unique {the, cat, sat, ran} = 4
    assert distinct_n(texts, n=1) == pytest.approx(4 / 6)
    # bigrams: (the cat), (cat sat), (the cat), (cat ran) -> 3 unique of 4
    assert distinct_n(texts, n=2) == pytest.approx(3 / 4)
    # trigrams never span two texts: 2 of 2 unique
    assert distinct_n(texts, n=3) == 1.0
    assert distinct_n(["same answer"] * 5, n=2) == pytest.approx(1 / 5)


def test_distinct_n_char_level():
    # "abab": bigrams ab, ba, ab -> 2 unique of 3; "aa": aa -> 1; pooled 3 unique of 4
    assert distinct_n(["abab", "aa"], n=2, level="char") == pytest.approx(3 / 4)
    assert distinct_n(["abc"], n=1, level="char") == 1.0


def test_distinct_n_no_ngrams():
    assert distinct_n([], n=1) is None
    assert distinct_n(["a", "b"], n=2) is None  # one-token texts have no bigrams
    with pytest.raises(ValueError):
        distinct_n(["a"], n=0)
    with pytest.raises(ValueError):
        distinct_n(["a"], level="word")


def test_distinct_answers():
    assert distinct_answers(["42", "42", "41", None, None]) == 2
    assert distinct_answers(["42", "42", "41", None, None], count_none=True) == 3
    assert distinct_answers([]) == 0


@pytest.mark.parametrize("counts", [[1, 1], [5, 0, 3, 2], [1], [0.2, 0.3, 0.5], [100, 1, 1, 1]])
def test_entropy_matches_scipy(counts):
    assert entropy(counts) == pytest.approx(scipy_entropy(counts), abs=1e-15)
    assert entropy(counts, unit="bits") == pytest.approx(scipy_entropy(counts, base=2), abs=1e-15)


def test_entropy_hand_values():
    assert entropy([1, 1, 1, 1], unit="bits") == pytest.approx(2.0)  # 4 equal categories: log2 4
    assert entropy([3]) == 0.0  # one category: no uncertainty
    assert entropy({"direct": 2, "steps": 2}) == pytest.approx(math.log(2))
    # format labels: 3 steps, 1 direct -> -(.75 ln .75 + .25 ln .25) = 0.5623351446
    assert label_entropy(["steps", "steps", "direct", "steps"]) == pytest.approx(0.5623351446188083)
    assert label_entropy(np.array(["a", "a"]), unit="bits") == 0.0


@pytest.mark.parametrize("bad", [[], [0, 0], [1, -1], [1, float("nan")]])
def test_entropy_bad_input(bad):
    with pytest.raises(ValueError):
        entropy(bad)
