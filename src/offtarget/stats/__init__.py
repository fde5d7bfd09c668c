"""Statistics for honest checkpoint comparisons: pure numpy/scipy, no model code.

One concept per module:

- ``passk``       unbiased pass@k (Chen et al. 2021) and the k where the reference catches up
- ``calibration`` the reliability diagram and equal-mass bins (the metrics: :mod:`offtarget.metrics.calibration`)
- ``bootstrap``   percentile bootstrap over problems (clustered) and the ``Estimate`` record
- ``paired``      paired bootstrap and McNemar for tuned - reference, the ``PairedDiff`` record
- ``permutation`` paired within-problem permutation test: the p-value behind every flag
- ``additive``    statistics of additive per-sample sums, resampled as one matrix product
- ``power``       minimum detectable effect of a comparison at the report's Holm level
- ``multiple``    Holm correction and the gain / regression / none flag rule
- ``diversity``   distinct-n, distinct answers, Shannon entropy

    >>> import numpy as np
    >>> from offtarget.stats import paired_bootstrap, flag_family
    >>> x = np.array([1, 0, 1, 1, 0, 1])
    >>> flag_family([paired_bootstrap(x, x, metric="accuracy", n_resamples=100)])
    [(1.0, 'none')]
"""

from offtarget.stats.additive import Additive
from offtarget.stats.bootstrap import Estimate, bootstrap, bootstrap_mean
from offtarget.stats.calibration import ReliabilityBin, reliability_diagram
from offtarget.stats.diversity import distinct_answers, distinct_n, entropy, label_entropy
from offtarget.stats.multiple import bonferroni_level, flag, flag_family, holm, min_resamples
from offtarget.stats.paired import PairedDiff, mcnemar, paired_bootstrap
from offtarget.stats.passk import crossover_k, pass_at_k, pass_at_k_curve
from offtarget.stats.permutation import PermutationTest, permutation_test
from offtarget.stats.power import minimum_detectable_effect, testable

__all__ = [
    "Additive",
    "Estimate",
    "PairedDiff",
    "PermutationTest",
    "ReliabilityBin",
    "bonferroni_level",
    "bootstrap",
    "bootstrap_mean",
    "crossover_k",
    "distinct_answers",
    "distinct_n",
    "entropy",
    "flag",
    "flag_family",
    "holm",
    "label_entropy",
    "mcnemar",
    "min_resamples",
    "minimum_detectable_effect",
    "paired_bootstrap",
    "pass_at_k",
    "pass_at_k_curve",
    "permutation_test",
    "reliability_diagram",
    "testable",
]
