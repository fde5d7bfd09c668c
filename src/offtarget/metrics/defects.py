"""What SFT planted that RL would amplify: the metrics of preflight's defect audit
(:mod:`offtarget.preflight.sft_defects`).

``overconfidence`` here is *excess stated confidence per sample*: Σ (q − correct) over the
samples that answer with a confidence, divided by **all** samples (a sample without one adds 0),
so it grows both with the gap and with how often a model states a confidence; the calibration
probe's ``overconfidence_verbalized`` divides by the confident samples only (it equals this
one / ``confident_answer_share``). ``mean_confidence`` is ``mean_confidence_verbalized``'s
computation on the defect audit's groups.
"""

from __future__ import annotations

from offtarget.metrics.calibration import RLCR, mean_confidence
from offtarget.metrics.definition import SHARE, define, ratio_of_sums

define("accuracy_in_<format>", "correct / answers written in that format", "higher", "off_target", SHARE,
       "sft_defects", "Echo Chamber, Zhao et al. 2025 (arXiv 2504.07912)", pattern="accuracy_in_*",
       compute=ratio_of_sums)
define("overconfidence", "excess stated confidence per sample: Σ (q − correct) over samples that answer with a "
       "confidence / all samples", "lower", "off_target", "difference in [-1, 1]", "sft_defects", RLCR,
       compute=ratio_of_sums)
define("confident_answer_share", "share of samples that answer and state a confidence", "descriptive",
       "descriptive", SHARE, "sft_defects", RLCR)
define("mean_confidence", "mean stated confidence of the samples that answer with one", "descriptive",
       "descriptive", SHARE, "sft_defects", RLCR, compute=mean_confidence)
define("accuracy_when_confident", "accuracy of the samples that answer with a stated confidence", "descriptive",
       "descriptive", SHARE, "sft_defects", RLCR, compute=ratio_of_sums)
define("steps_skipped_rate", "right step-format answers whose steps are missing or wrong", "lower",
       "off_target", SHARE, "sft_defects", "the note 'Do overly hard RLVR samples actually harm model "
       "capabilities?'", compute=ratio_of_sums)
