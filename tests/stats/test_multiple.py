"""Holm correction and the flag rule."""

from fractions import Fraction

import numpy as np
import pytest

from offtarget.stats import (
    PairedDiff,
    bonferroni_level,
    flag,
    flag_family,
    holm,
    min_resamples,
    paired_bootstrap,
)


def sequential_holm_rejects(p, alpha):
    """Holm (1979) as a procedure: walk the sorted p-values, stop at the first p_(i) >= alpha / (m - i + 1)."""
    m, rejected = len(p), set()
    for i, j in enumerate(np.argsort(p, kind="stable")):
        if p[j] >= alpha / (m - i):
            break
        rejected.add(int(j))
    return rejected


def test_holm_textbook_example():
    # Wikipedia "Holm-Bonferroni method": p = .01, .04, .03, .005 at alpha = .05 rejects H1 and H4.
    # sorted .005, .01, .03, .04 times 4, 3, 2, 1 = .02, .03, .06, .04; running max .02, .03, .06, .06
    adj = holm([0.01, 0.04, 0.03, 0.005])
    assert adj == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [a < 0.05 for a in adj] == [True, False, False, True]


def test_holm_step_down_cap_and_monotone():
    # sorted = input, times 5..1: .05 .08 .09 .08 .05 -> running max .05 .08 .09 .09 .09; none < .05
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert holm([0.3, 0.9, 0.5]) == pytest.approx([0.9, 1.0, 1.0])  # .3*3 = .9, .5*2 = 1.0, .9*1 -> max 1.0
    assert holm([0.04]) == [0.04]  # a family of one is unadjusted
    assert holm([]) == []


def test_holm_agrees_with_sequential_procedure():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.uniform(0, 0.1, size=int(rng.integers(1, 12))) ** 1.5
        adj = np.array(holm(p.tolist()))
        assert {i for i, a in enumerate(adj) if a < 0.05} == sequential_holm_rejects(p, 0.05)
        order = np.argsort(p, kind="stable")
        assert np.all(np.diff(adj[order]) >= 0) and np.all(adj >= p) and np.all(adj <= 1)


def test_holm_leaves_untested_out():
    # None is not a test: the family is m = 2, so .02 * 2 = .04 and .03 * 1 -> max(.04, .03) = .04
    assert holm([0.02, None, 0.03]) == pytest.approx([0.04, None, 0.04])
    with pytest.raises(ValueError):
        holm([0.2, float("nan")])
    with pytest.raises(ValueError):
        holm([1.2])


@pytest.mark.parametrize(
    ("low", "high", "p", "hib", "want"),
    [
        (0.02, 0.10, 0.01, True, "gain"),
        (0.02, 0.10, 0.01, False, "regression"),  # e.g. ECE went up
        (-0.10, -0.02, 0.01, True, "regression"),
        (-0.10, -0.02, 0.01, False, "gain"),
        (-0.10, 0.02, 0.01, True, "none"),  # interval straddles 0
        (0.0, 0.10, 0.01, True, "none"),  # an end at exactly 0 does not exclude it
        (0.02, 0.10, 0.05, True, "none"),  # adjusted p must be strictly below alpha
        (0.02, 0.10, 0.20, True, "none"),
        (None, 0.10, 0.01, True, "none"),
        (0.02, 0.10, None, True, "none"),
    ],
)
def test_flag(low, high, p, hib, want):
    assert flag(low, high, p, alpha=0.05, higher_is_better=hib) == want


def test_self_audit_family_flags_nothing():
    rng = np.random.default_rng(1)
    metrics = [rng.integers(0, 2, size=(40, 4)) for _ in range(6)]
    diffs = [paired_bootstrap(m, m.copy(), metric=f"m{i}", n_resamples=100) for i, m in enumerate(metrics)]
    assert flag_family(diffs, higher_is_better=[True, False] * 3) == [(1.0, "none")] * 6


def test_flag_family_adjusts_before_flagging():
    def diff(low, high, p):
        return PairedDiff("m", 0.5, 0.6, 0.1, low, high, p, 100, "paired_bootstrap")

    # raw p .02 would flag alone; in a family of 3 Holm makes it .02 * 2 = .04 (< .05), .03 -> .04
    fam = [diff(0.01, 0.2, 0.02), diff(-0.3, -0.1, 0.001), diff(0.01, 0.2, 0.03)]
    adjusted, flags = zip(*flag_family(fam, higher_is_better=[True, True, False]), strict=True)
    assert adjusted == pytest.approx((0.04, 0.003, 0.04))
    assert flags == ("gain", "regression", "regression")
    fam.append(diff(0.01, 0.2, 0.04))  # m = 4: .001*4, .02*3 = .06 -> no longer flagged
    assert [f for _, f in flag_family(fam)] == ["none", "regression", "none", "none"]
    with pytest.raises(ValueError):
        flag_family(fam, higher_is_better=[True])


def test_bonferroni_level_and_min_resamples():
    assert bonferroni_level(0.95, 10) == pytest.approx(0.995)
    assert bonferroni_level(0.95, 1) == pytest.approx(0.95)
    # m = 1: 2/(B+1) < .05 needs B > 39 -> 40 ; m = 20: B > 799 -> 800
    assert min_resamples(1, 0.05) == 40
    assert min_resamples(20, 0.05) == 800
    assert min_resamples(7, 0.05) == 280  # 2m/alpha = 280 exactly: B must exceed 279
    for m in (1, 7, 50):
        b = min_resamples(m, 0.05)
        alpha = Fraction(1, 20)  # exact arithmetic: at B = 279, 2/280 == .05/7 is a tie, not below
        assert Fraction(2, b + 1) < alpha / m <= Fraction(2, b)
    with pytest.raises(ValueError):
        min_resamples(0)


def test_holm_equals_statsmodels_bit_for_bit():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    for _ in range(500):
        m = int(rng.integers(1, 60))
        p = rng.random(m) ** rng.uniform(0.5, 4)
        p[rng.random(m) < 0.2] = 5e-05  # ties at a Monte Carlo floor
        assert holm(list(p)) == list(multipletests(p, method="holm")[1])
