"""Degenerate behaviour after training on too-hard prompts: repeated wrong answers, skipped
computation, length collapse, truncation (the note 'Do overly hard RLVR samples actually harm
model capabilities?'; DAPO, arXiv 2503.14476, for overlong output)."""

from __future__ import annotations

from offtarget.metrics.definition import SHARE, define, ratio_of_sums

HARD = ("the note 'Do overly hard RLVR samples actually harm model capabilities?' "
        "(in 'What trade-offs emerge between training objectives and model reliability?')")

define("repeated_wrong_answer_rate", "answerable problems whose modal wrong answer covers ≥ half the samples",
       "lower", "off_target", SHARE, "shortcuts", HARD)
define("computation_skipped_rate", "step-format answers whose steps are missing or wrong", "lower",
       "off_target", SHARE, "shortcuts", HARD, compute=ratio_of_sums)
define("mean_completion_tokens", "mean completion length in generated tokens", "descriptive", "descriptive",
       "tokens ≥ 0", "shortcuts", "length")
define("short_completion_rate", "completions no longer than half the reference's median length", "lower",
       "off_target", SHARE, "shortcuts", HARD)
define("truncation_rate", "completions cut by max_new_tokens", "lower", "serving_veto", SHARE, "shortcuts",
       "DAPO (arXiv 2503.14476) overlong shaping")
