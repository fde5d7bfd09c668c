"""Data-curation rules for GRPO: pure selection logic, no TRL and no torch.

The trainer subclass calls these; each is a pure function of measured correctness, rewards
and penalties, so it can be tested without a model.

- :mod:`.difficulty`: offline difficulty window on per-prompt pass rates (correctness only).
- :mod:`.dynamic_sampling`: drop groups whose values tie, count what the batch still needs (DAPO).
- :mod:`.roc`: GRPO-RoC down-sampling of 2G rollouts to G (rStar2-Agent).
- :mod:`.curriculum`: structured-first or easy → hard ordering (off by default).
- :mod:`.self_distill`: which of the model's own samples self-distillation keeps (SSD).
- :mod:`.refinement`: the student's likelihood band over teacher-refined examples.

    >>> from offtarget.train.curation import difficulty_window, roc_select, select_groups
"""

from __future__ import annotations

from offtarget.train.curation.curriculum import (
    CurriculumConfig,
    apply_curriculum,
    default_family,
    order_by_difficulty,
    order_by_family,
)
from offtarget.train.curation.difficulty import (
    STRICT,
    DifficultyReport,
    DifficultyWindow,
    difficulty_window,
    pass_rates,
    strict_window,
)
from offtarget.train.curation.dynamic_sampling import (
    GroupSelection,
    group_values,
    is_tied,
    prompts_to_draw,
    select_groups,
)
from offtarget.train.curation.roc import RocSelection, roc_counts, roc_select, roc_select_batch

__all__ = [
    "STRICT",
    "CurriculumConfig",
    "DifficultyReport",
    "DifficultyWindow",
    "GroupSelection",
    "RocSelection",
    "apply_curriculum",
    "default_family",
    "difficulty_window",
    "group_values",
    "is_tied",
    "order_by_difficulty",
    "order_by_family",
    "pass_rates",
    "prompts_to_draw",
    "roc_counts",
    "roc_select",
    "roc_select_batch",
    "select_groups",
    "strict_window",
]
