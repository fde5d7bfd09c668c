"""Correctness and coverage: accuracy, greedy accuracy, pass@k, the OOD gap.

Each is the mean of a per-problem (or per-sample) array the probe extracts; pass@k's array is
the unbiased per-problem estimate 1 − C(n−c, k)/C(n, k) (Chen et al. 2021,
:func:`offtarget.stats.pass_at_k`).
"""

from __future__ import annotations

from offtarget.metrics.definition import SHARE, define

define("accuracy", "mean correctness over T=1 samples of answerable problems (pass@1)", "higher", "target",
       SHARE, "accuracy", "mean correctness")
define("greedy_accuracy", "correctness of the greedy (T=0) answer of answerable problems", "higher", "target",
       SHARE, "accuracy", "McNemar 1947 for comparisons")
define("pass@k", "unbiased pass@k, 1 − C(n−c, k)/C(n, k), answerable problems", "higher", "serving_veto",
       SHARE, "passk", "Chen et al. 2021 (arXiv 2107.03374); Yue et al. 2025 (arXiv 2504.13837)",
       pattern="pass@*")
define("ood_gap", "accuracy on the in-distribution split minus accuracy on an OOD group", "descriptive",
       "descriptive", "difference in [-1, 1]", "ood", "Chu et al. 2025 (arXiv 2501.17161)")
