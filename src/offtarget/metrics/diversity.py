"""Spread of a prompt's samples: token entropy, distinct-n, distinct final answers.

Per problem, then averaged over the answerable problems of a group (Yue et al. 2025, arXiv
2504.13837; Cui et al. 2025, arXiv 2505.22617; Li et al. 2016 for distinct-n).
"""

from __future__ import annotations

from offtarget.metrics.definition import SHARE, define, nanmean_rows

YUE = "Yue et al. 2025 (arXiv 2504.13837)"
LI = "Li et al. 2016 (arXiv 1510.03055)"


def distinct_n_ids(rows: list[list[int]], n: int) -> float:
    """Unique / total token n-grams pooled over ``rows`` (one list of ids per sample); NaN if none."""
    grams = [tuple(r[i : i + n]) for r in rows for i in range(len(r) - n + 1)]
    return len(set(grams)) / len(grams) if grams else float("nan")


define("mean_token_entropy", "mean per-token entropy of the T=1 distribution, per problem then averaged, "
       "answerable problems", "higher", "off_target", "nats ≥ 0", "diversity", "Cui et al. 2025 (arXiv 2505.22617)")
define("distinct_2", "distinct token bigrams across a prompt's samples", "higher", "off_target", SHARE,
       "diversity", LI, compute=nanmean_rows)
define("distinct_3", "distinct token trigrams across a prompt's samples", "higher", "off_target", SHARE,
       "diversity", LI, compute=nanmean_rows)
define("distinct_answers", "different parsed final answers per prompt", "descriptive", "descriptive",
       "count ≥ 0", "diversity", YUE)
define("distinct_answer_ratio", "different parsed final answers per prompt / samples per prompt",
       "descriptive", "descriptive", SHARE, "diversity", YUE)
