"""What a comparison could have flagged: the minimum detectable effect, and the smallest p a
permutation test over N units can reach at all.

"No significant difference" means little without the size of difference the data could have
shown. For a paired comparison whose estimate diff has standard error SE, a two-sided test at
level a detects a true difference delta with power 1 − beta when

    |delta| >= (z_{1 − a/2} + z_{1 − beta}) · SE

(the normal power formula; e.g. Cohen 1988, "Statistical Power Analysis for the Behavioral
Sciences", ch. 2). We use a = alpha / m, the first (strictest) step of Holm over the report's
m tests, so the MDE is what a single change would need to be flagged in the report as it
stands; SE is the paired bootstrap's (interval width / 2·1.96), i.e. the per-problem
variance of the paired differences. Under the null the permutation distribution has the same
variance, so this is also the permutation test's scale.

    >>> round(minimum_detectable_effect(low=-0.05, high=0.05, alpha=0.05, m=100), 4)
    0.1103

Too small to test. :func:`p_floor` is the smallest p a permutation design can give at all
(2 / 2^units, the two most extreme relabellings): a group whose floor is not below the level it
must pass is reported as too small to test rather than tested (:func:`testable`).
"""

from __future__ import annotations

from scipy.stats import norm

Z95 = float(norm.ppf(0.975))


def minimum_detectable_effect(
    low: float | None, high: float | None, alpha: float = 0.05, m: int = 1, power: float = 0.8
) -> float | None:
    """|diff| flagged with probability ``power`` at level alpha / m, from the 95% interval's width.

    ``None`` without an interval, or when it has no width (every resample gave the same diff,
    e.g. both checkpoints always wrong on the group): the data then carry no estimate of spread.
    """
    if low is None or high is None or m < 1:
        return None
    se = (high - low) / (2 * Z95)
    if se <= 0:
        return None
    return float((norm.ppf(1 - alpha / (2 * m)) + norm.ppf(power)) * se)


def p_floor(units: int) -> float:
    """Smallest p a design of ``units`` exchangeable units can give: 2 / 2^units (the two most
    extreme relabellings)."""
    return min(1.0, 2.0 / 2.0 ** min(units, 1000))


def fewest_units(level: float) -> int:
    """Fewest units whose :func:`p_floor` is below ``level`` (6 at 0.05)."""
    n = 1
    while p_floor(n) >= level:
        n += 1
    return n


def testable(p_floor: float | None, level: float) -> bool:
    """Whether a test whose smallest attainable p is ``p_floor`` can pass ``level`` at all."""
    return p_floor is None or p_floor < level
