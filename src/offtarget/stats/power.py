"""Minimum detectable effect: how large a change a comparison could have flagged.

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
