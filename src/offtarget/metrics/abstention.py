"""Abstention as detection with *should-abstain* as the label (AbstentionBench, Kirichenko et al.
2025, arXiv 2506.09038), and SimpleQA's accuracy given attempted (Wei et al. 2024).

Over the pooled samples of a group: ``abstained`` and ``should`` are 0/1 arrays
``(resamples, problems, samples)``.
"""

from __future__ import annotations

import numpy as np

from offtarget.metrics.definition import SHARE, define, flat_sum, metric, ratio, ratio_of_sums

ABST = "AbstentionBench, Kirichenko et al. 2025 (arXiv 2506.09038)"


@metric("abstention_precision", "abstentions that were on unanswerable problems", "higher", "off_target",
        SHARE, "abstention", ABST)
def precision(abstained: np.ndarray, should: np.ndarray) -> np.ndarray:
    return ratio(flat_sum(abstained * should), flat_sum(abstained))


define("abstention_recall", "share of samples of unanswerable problems that abstain", "higher", "serving_veto",
       SHARE, "abstention", ABST)


@metric("abstention_f1", "F1 of abstention with should-abstain as the label", "higher", "serving_veto",
        SHARE, "abstention", ABST)
def f1(abstained: np.ndarray, should: np.ndarray) -> np.ndarray:
    tp = flat_sum(abstained * should)
    fp = flat_sum(abstained * (1 - should))
    fn = flat_sum((1 - abstained) * should)
    return ratio(2 * tp, 2 * tp + fp + fn)


define("over_answer_rate", "share of samples of unanswerable problems that state a parsed answer", "lower",
       "serving_veto", SHARE, "abstention", ABST)
define("over_refusal_rate", "share of samples of answerable problems that abstain", "lower", "serving_veto",
       SHARE, "abstention", ABST)


@metric("accuracy_given_attempted", "correct among non-abstained samples of answerable problems", "higher",
        "serving_veto", SHARE, "abstention", "SimpleQA, Wei et al. 2024 (arXiv 2411.04368)")
def accuracy_given_attempted(correct: np.ndarray, attempted: np.ndarray) -> np.ndarray:
    return ratio_of_sums(correct, attempted)


define("abstention_rate", "share of all samples that abstain (answerable or not)", "descriptive", "descriptive",
       SHARE, "abstention", ABST)
