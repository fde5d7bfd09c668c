"""GRPO advantages of the rows curation kept, with TRL's formula.

TRL 1.16 computes advantages inline in ``GRPOTrainer._generate_and_score_completions`` (there is
no function to import), over the whole generated batch. After GRPO-RoC or dynamic sampling the
trained rows differ from the generated ones, so the same formula is applied again to the kept
rows only; ``trl.trainer.utils.nanstd`` is TRL's own.

    >>> import torch
    >>> group_advantages(torch.tensor([[1.0], [0.0], [1.0], [1.0]]), torch.tensor([1.0]), 2, "none").tolist()
    [0.5, -0.5, 0.0, 0.0]
"""

from __future__ import annotations

import torch
from trl.trainer.utils import nanstd

from offtarget.errors import OfftargetError


def group_advantages(
    rewards_per_func: torch.Tensor, weights: torch.Tensor, group_size: int, scale_rewards: str
) -> torch.Tensor:
    """TRL 1.16's ``sum_then_normalize`` advantages for rows laid out as contiguous groups.

    reward = Σ_f w_f r_f (NaN-skipping; a row where every function returned None stays NaN),
    advantage = (reward − group mean) / (std + 1e-4) with std per group (``group``), over all
    rows (``batch``), or no scaling (``none``); NaN advantages become 0.
    """
    weights = weights.to(rewards_per_func.device)
    unscorable = torch.isnan(rewards_per_func).all(dim=1)
    rewards = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
    rewards[unscorable] = torch.nan
    grouped = rewards.view(-1, group_size)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(group_size)
    if scale_rewards in ("group", "none"):
        std = nanstd(grouped, dim=1).repeat_interleave(group_size) if group_size > 1 else torch.zeros_like(rewards)
    elif scale_rewards == "batch":
        std = nanstd(rewards).expand_as(rewards) if rewards.numel() > 1 else torch.zeros_like(rewards)
    else:
        raise OfftargetError(f"scale_rewards {scale_rewards!r}: choose group, batch or none")
    advantages = rewards - mean
    if scale_rewards != "none":
        advantages = advantages / (std + 1e-4)
    return torch.nan_to_num(advantages, nan=0.0)
