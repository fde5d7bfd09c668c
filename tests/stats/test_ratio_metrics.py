"""The ratio metrics of abstention, shortcuts and formats (and the mean of defined per-problem values) as sums: the values, intervals and p-values
of computing each metric on every relabelled or resampled data set.

Each metric is checked against its definition written out here on whole arrays (Σ num / Σ den over
the pooled samples, shares of pooled per-format counts), the bootstrap replicates against the
gathered resamples (1e-12), and the permutation p against the same test with the sums route hidden
(every relabelled data set rebuilt), on fixed seeds, within Monte Carlo error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from offtarget.metrics import get
from offtarget.metrics.formats import share_of
from offtarget.stats import permutation_test
from offtarget.stats.bootstrap import ProblemLayout, draw_problems, replicates


def pooled(a):
    return a.reshape(a.shape[0], -1).sum(1)


def by_definition(name):
    """The metric on (resamples, ...) arrays as its definition reads, from whole-array sums."""
    def div(n, d):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, n / np.where(d > 0, d, 1), np.nan)

    def fmt_shares(c):
        tot = c.sum(1).sum(1, keepdims=True)
        return div(c.sum(1), tot)

    def entropy(c):
        p = fmt_shares(c)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
        return np.where(np.isnan(p).any(1), np.nan, h)

    return {
        "abstention_precision": lambda a, s: div(pooled(a * s), pooled(a)),
        "abstention_f1": lambda a, s: div(2 * pooled(a * s), 2 * pooled(a * s) + pooled(a * (1 - s))
                                          + pooled((1 - a) * s)),
        "accuracy_given_attempted": lambda c, t: div(pooled(c), pooled(t)),
        "computation_skipped_rate": lambda k, t: div(pooled(k), pooled(t)),
        "format_share_json": lambda c: fmt_shares(c)[:, 1],
        "dominant_format_share": lambda c: fmt_shares(c).max(1),
        "format_entropy": entropy,
        "response_agreement": lambda v: div(np.nansum(v.reshape(len(v), -1), 1), np.isfinite(v).reshape(len(v), -1).sum(1)),
    }[name]


def computation(name):
    return share_of(1) if name == "format_share_json" else get(name).compute


def arms(name, rng, problems=12, samples=6, shift=0.2):
    """(reference arrays, tuned arrays): 0/1 per-sample arrays, or per-problem format counts."""
    out = []
    for d in (0.0, shift):
        if name.startswith(("format", "dominant")):
            p = np.array([0.5 - d, 0.3, 0.2 + d])
            out.append((rng.multinomial(samples, p, size=problems).astype(float),))
            continue
        if name == "response_agreement":  # one value per problem, undefined (NaN) on some
            v = np.clip(rng.random(problems) * 0.8 + d, 0, 1)
            v[rng.random(problems) < 0.2] = np.nan
            out.append((v,))
            continue
        a = (rng.random((problems, samples)) < 0.3 + d).astype(float)
        b = (rng.random((problems, samples)) < 0.5).astype(float)
        if name.startswith("abstention"):
            b = np.repeat((rng.random(problems) < 0.4)[:, None], samples, axis=1).astype(float)
        elif name in ("accuracy_given_attempted", "computation_skipped_rate"):
            a = a * b  # the numerator counts only samples in the denominator
        out.append((a, b))
    return out


NAMES = ["abstention_precision", "abstention_f1", "accuracy_given_attempted", "computation_skipped_rate",
         "format_share_json", "dominant_format_share", "format_entropy", "response_agreement"]
PER_PROBLEM = ("format", "dominant", "response_agreement")


class Rebuilt:
    """The same computation with its sums hidden: the permutation test rebuilds each data set."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *arrays):
        return self.fn(*arrays)


@pytest.mark.parametrize("name", NAMES)
def test_value_and_bootstrap_replicates_equal_the_definition(name):
    rng = np.random.default_rng(3)
    ref, _ = arms(name, rng)
    stat, defn = computation(name), by_definition(name)
    assert hasattr(stat, "unit_sums")
    batch = [np.stack([a, a[::-1], a[:, ::-1] if a.ndim == 2 else a[::2].repeat(2)[:len(a)]]) for a in ref]
    np.testing.assert_allclose(stat(*batch), defn(*batch), rtol=0, atol=1e-12)
    draws = draw_problems(ref[0].shape[0], 300, seed=5)
    fast = replicates(stat, list(ref), ProblemLayout(ref[0].shape[0]), draws, vectorized=True)
    gathered = np.array([defn(*[a[d][None] for a in ref])[0] for d in draws])
    np.testing.assert_allclose(fast, gathered, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_permutation_p_equals_rebuilding_every_relabelled_data_set(name):
    rng = np.random.default_rng(11)
    ref, tuned = arms(name, rng, problems=14 if name.startswith(PER_PROBLEM) else 8)
    stat = computation(name)
    unit = "problem" if name.startswith(PER_PROBLEM) else "sample"
    b = 4000
    fast = permutation_test(ref, tuned, stat, unit=unit, vectorized=True, seed=1, n_permutations=b,
                            stop_after_hits=None)
    slow = permutation_test(ref, tuned, Rebuilt(stat), unit=unit, vectorized=True, seed=2, n_permutations=b,
                            stop_after_hits=None)
    assert fast.statistic == pytest.approx(slow.statistic, abs=1e-12)
    t_def = float(by_definition(name)(*[a[None] for a in tuned])[0] - by_definition(name)(*[a[None] for a in ref])[0])
    assert fast.statistic == pytest.approx(t_def, abs=1e-12)
    p = max(fast.p_value, slow.p_value, 1 / b)
    se = math.sqrt(2 * p * (1 - p) / b)
    assert abs(fast.p_value - slow.p_value) <= 4.5 * se + 2 / b, (fast.p_value, slow.p_value)
