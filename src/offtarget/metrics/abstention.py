"""Abstention as detection with *should-abstain* as the label (AbstentionBench, Kirichenko et al.
2025, arXiv 2506.09038), and SimpleQA's accuracy given attempted (Wei et al. 2024).

Over the pooled samples of a group: ``abstained`` and ``should`` are 0/1 arrays
``(resamples, problems, samples)``. Precision, F1 and accuracy given attempted are ratios of sums over
samples (:class:`~offtarget.stats.additive.Additive`): resampled as matrix products of per-sample sums.
"""

from __future__ import annotations

import numpy as np

from offtarget.metrics.definition import SHARE, define, ratio, ratio_of_sums
from offtarget.stats.additive import additive

ABST = "AbstentionBench, Kirichenko et al. 2025 (arXiv 2506.09038)"


def _detection(abstained: np.ndarray, should: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-sample (true positive, false positive, false negative) with should-abstain as the label."""
    return abstained * should, abstained * (1 - should), (1 - abstained) * should


def _abstentions(abstained: np.ndarray, should: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample (abstained on an unanswerable problem, abstained)."""
    return abstained * should, abstained


@additive(_abstentions)
def precision(sums: np.ndarray) -> np.ndarray:
    """Σ abstained·should / Σ abstained: abstentions on unanswerable problems among all abstentions."""
    return ratio(sums[:, 0], sums[:, 1])


define("abstention_precision", "abstentions that were on unanswerable problems", "higher", "off_target",
       SHARE, "abstention", ABST, compute=precision)
define("abstention_recall", "share of samples of unanswerable problems that abstain", "higher", "serving_veto",
       SHARE, "abstention", ABST)


@additive(_detection)
def f1(sums: np.ndarray) -> np.ndarray:
    """2 Σ tp / (2 Σ tp + Σ fp + Σ fn)."""
    return ratio(2 * sums[:, 0], 2 * sums[:, 0] + sums[:, 1] + sums[:, 2])


define("abstention_f1", "F1 of abstention with should-abstain as the label", "higher", "serving_veto",
       SHARE, "abstention", ABST, compute=f1)


define("over_answer_rate", "share of samples of unanswerable problems that state a parsed answer", "lower",
       "serving_veto", SHARE, "abstention", ABST)
define("over_refusal_rate", "share of samples of answerable problems that abstain", "lower", "serving_veto",
       SHARE, "abstention", ABST)


define("accuracy_given_attempted", "correct among non-abstained samples of answerable problems", "higher",
       "serving_veto", SHARE, "abstention", "SimpleQA, Wei et al. 2024 (arXiv 2411.04368)", compute=ratio_of_sums)


define("abstention_rate", "share of all samples that abstain (answerable or not)", "descriptive", "descriptive",
       SHARE, "abstention", ABST)
