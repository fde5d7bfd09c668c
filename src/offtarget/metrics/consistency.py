"""One draw against the model's usual answer (self-consistency, Wang et al. 2023, arXiv 2203.11171)."""

from __future__ import annotations

from offtarget.metrics.definition import SHARE, define, nanmean_rows

SELF = "self-consistency, Wang et al. 2023 (arXiv 2203.11171)"

define("greedy_majority_agreement", "the greedy response is a modal sampled response", "higher", "off_target",
       SHARE, "consistency", SELF, compute=nanmean_rows)
define("modal_answer_share", "share of samples giving the modal response", "higher", "off_target", SHARE,
       "consistency", SELF)
