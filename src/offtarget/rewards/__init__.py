"""TRL-compatible reward functions, selectable by name.

Every reward here verifies each completion with the task's strict verifier and returns one
float per completion (``None`` where it does not apply). Build one by name or by factory and
hand it to ``trl.GRPOTrainer(reward_funcs=[...])``; the dataset rows must carry the Problem
columns of :mod:`offtarget.rewards.columns` (``problem_to_row``).

    >>> from offtarget.rewards import get_reward, problem_to_row
    >>> from offtarget.tasks import ArithmeticTask
    >>> rows = [problem_to_row(p) for p in ArithmeticTask().problems("train", 256)]
    >>> funcs = [get_reward("correctness"), get_reward("brier")]   # reward_weights=[1.0, 0.5]

=======================  ==========================================================  ===========
name                     reward per completion                                       module
=======================  ==========================================================  ===========
``correctness``          1 if the strict verdict is correct else 0                   correctness
``lenient_correctness``  1 if the answer appears anywhere (HACKABLE, for the lab)    correctness
``format``               1 if in one of the task's formats (abstain counts) else 0   formats
``format_penalty``       weighted sum of format violations (≥ 0; for GRPO-RoC)        formats
``rlcr``                 c − (q − c)², unparseable q scored as (q − c)² = 1           calibration
``brier``                1 − (q − c)², unparseable q scored 0                         calibration
``ternary``              +1 correct / 0 abstain / −1 wrong; abstaining is correct     abstention
                         on unanswerable items
``stepwise``             SRL step similarity 2M/T to the reference solution           stepwise
=======================  ==========================================================  ===========
"""

from __future__ import annotations

from offtarget.rewards.abstention import ternary_reward
from offtarget.rewards.base import Scored, VerdictReward, log_diagnostics
from offtarget.rewards.calibration import brier_reward, rlcr_reward, squared_error
from offtarget.rewards.columns import COLUMNS, completion_text, problem_to_row, problems_from_columns
from offtarget.rewards.correctness import correctness_reward, lenient_correctness_reward
from offtarget.rewards.formats import (
    PenaltyWeights,
    format_penalty,
    format_penalty_reward,
    format_reward,
    format_violations,
)
from offtarget.rewards.registry import get_reward, list_rewards, load_reward, register_reward
from offtarget.rewards.stepwise import step_similarity, stepwise_reward

__all__ = [
    "COLUMNS",
    "PenaltyWeights",
    "Scored",
    "VerdictReward",
    "brier_reward",
    "completion_text",
    "correctness_reward",
    "format_penalty",
    "format_penalty_reward",
    "format_reward",
    "format_violations",
    "get_reward",
    "lenient_correctness_reward",
    "list_rewards",
    "load_reward",
    "log_diagnostics",
    "problem_to_row",
    "problems_from_columns",
    "register_reward",
    "rlcr_reward",
    "squared_error",
    "step_similarity",
    "stepwise_reward",
    "ternary_reward",
]
