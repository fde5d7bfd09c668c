"""pass@k against exact rational arithmetic (scipy.special.comb) and hand-worked values."""

from fractions import Fraction

import numpy as np
import pytest
from scipy.special import comb

from offtarget.stats import crossover_k, pass_at_k, pass_at_k_curve


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k) with exact integers (comb(a, k) = 0 when k > a)."""
    return float(1 - Fraction(int(comb(n - c, k, exact=True)), int(comb(n, k, exact=True))))


def test_hand_values():
    # n=4, c=2, k=2: 1 - C(2,2)/C(4,2) = 1 - 1/6 = 5/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6, rel=1e-15)
    # n=5, c=1, k=1: 1 - C(4,1)/C(5,1) = 1 - 4/5 = 0.2 (pass@1 is the plain success rate c/n)
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2, rel=1e-15)
    # n=10, c=3, k=4: 1 - C(7,4)/C(10,4) = 1 - 35/210 = 5/6
    assert pass_at_k(10, 3, 4) == pytest.approx(5 / 6, rel=1e-15)


def test_matches_exact_combinatorics_vectorised():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 60, size=300)
    c = rng.integers(0, n + 1)
    k = 1
    got = pass_at_k(n, c, k)
    want = [exact_pass_at_k(int(a), int(b), k) for a, b in zip(n, c, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    n_fixed = 40
    c = rng.integers(0, n_fixed + 1, size=50)
    curve = pass_at_k_curve(n_fixed, c)
    assert curve.shape == (50, 40)
    want = np.array([[exact_pass_at_k(n_fixed, int(ci), k) for k in range(1, 41)] for ci in c])
    np.testing.assert_allclose(curve, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n", [1, 7, 64])
def test_edges_c0_cn_kn(n):
    ks = np.arange(1, n + 1)
    assert np.all(pass_at_k_curve(n, [0], ks) == 0.0)  # c=0: nothing to find
    assert np.all(pass_at_k_curve(n, [n], ks) == 1.0)  # c=n: every draw passes
    # k=n: all samples drawn, so pass@n is 1 iff c >= 1
    assert pass_at_k(n, 0, n) == 0.0
    assert pass_at_k(n, 1, n) == 1.0


def test_k_greater_than_n_minus_c_is_exactly_one():
    # n=10, c=7: only 3 wrong samples, any 4 draws must contain a correct one
    assert pass_at_k(10, 7, 4) == 1.0
    # k = n - c exactly: C(3,3)/C(10,3) = 1/120, not 1
    assert pass_at_k(10, 7, 3) == pytest.approx(1 - 1 / 120, rel=1e-15)


def test_numerically_stable_at_large_n():
    # c=1 of 10 000: pass@1 = 1e-4 to full relative precision (1 - 0.9999 would lose digits)
    assert pass_at_k(10_000, 1, 1) == pytest.approx(1e-4, rel=1e-13)
    # C(1000, 500) overflows float64; the product form does not care
    got = pass_at_k(2000, 3, 500)
    assert got == pytest.approx(exact_pass_at_k(2000, 3, 500), rel=1e-12)
    assert np.isfinite(pass_at_k_curve(5000, [1, 2500, 4999])).all()


def test_curve_is_monotone_in_k():
    curve = pass_at_k_curve(30, [0, 1, 5, 29, 30])
    assert np.all(np.diff(curve, axis=1) >= -1e-15)


def test_shapes_and_varying_n():
    assert pass_at_k(8, 3, 2).shape == ()
    assert pass_at_k(np.array([4, 8]), np.array([1, 1]), 2).tolist() == pytest.approx([0.5, 0.25])
    # default ks run to the smallest n
    assert pass_at_k_curve([4, 8], [1, 1]).shape == (2, 4)


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(4, 5, 1), (4, -1, 1), (4, 2, 5), (4, 2, 0), (0, 0, 1), (4, 1.5, 1)],
)
def test_bad_input_raises(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_crossover():
    ks = [1, 2, 4, 8]
    tuned = [0.6, 0.7, 0.75, 0.78]
    base = [0.3, 0.5, 0.75, 0.9]  # tie at k=4 is not an overtake (Yue et al.: strictly above)
    assert crossover_k(base, tuned, ks) == 8
    assert crossover_k([0.3, 0.5, 0.76, 0.9], tuned, ks) == 4
    assert crossover_k([0.5, 0.9, 1.0, 1.0], [0.6, 0.95, 1.0, 1.0], ks) is None  # both saturate: no crossover
    assert crossover_k([0.3, 0.5, 0.74, 0.9], tuned, ks) == 8
    assert crossover_k([0.1, 0.2, 0.3, 0.4], tuned, ks) is None
    assert crossover_k([0.7, 0.8], [0.6, 0.7]) == 1  # tuned never ahead
    with pytest.raises(ValueError):
        crossover_k([0.1, 0.2], [0.1])


def test_crossover_on_real_curves():
    # tuned solves problems 0-1 always and 2-3 never: 0.5 at every k.
    # base has c = 1, 1, 2, 0 of 8: mean pass@4 = (4/8 + 4/8 + (1 - 15/70) + 0)/4 = 0.446,
    # pass@5 = (5/8 + 5/8 + (1 - 6/56) + 0)/4 = 0.536, so base overtakes at k = 5
    base = pass_at_k_curve(8, [1, 1, 2, 0]).mean(axis=0)
    tuned = pass_at_k_curve(8, [8, 8, 0, 0]).mean(axis=0)
    assert base[3] == pytest.approx((0.5 + 0.5 + 1 - 15 / 70) / 4)
    assert crossover_k(base, tuned) == 5


def test_chunked_rows_match_unchunked(monkeypatch):
    from offtarget.stats import passk

    rng = np.random.default_rng(3)
    c = rng.integers(0, 33, size=100)
    whole = pass_at_k_curve(32, c)
    monkeypatch.setattr(passk, "_CHUNK_ELEMENTS", 32 * 7)  # 7 problems per chunk
    np.testing.assert_array_equal(pass_at_k_curve(32, c), whole)
