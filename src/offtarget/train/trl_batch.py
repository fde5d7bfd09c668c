"""Row surgery on the output dict of TRL's ``GRPOTrainer._generate_and_score_completions``.

Curation keeps some rows of a generated batch and joins batches from several generation rounds;
these functions index and re-pad every row-aligned tensor of TRL 1.16's (text-only) output so
the result is a batch TRL's ``_prepare_inputs`` and loss accept unchanged.

    >>> import torch
    >>> out = take_rows({"advantages": torch.tensor([1.0, 2.0, 3.0]), "num_items_in_batch": 7}, [2, 0])
    >>> out["advantages"].tolist(), out["num_items_in_batch"]
    ([3.0, 1.0], 7)
"""

from __future__ import annotations

from typing import Any

import torch

from offtarget.errors import OfftargetError

# Row-aligned keys of TRL 1.16's `_generate_and_score_completions` output (text-only), and how each
# is padded when batches from separate generation rounds are joined.
LEFT_PADDED = {"prompt_ids": "pad", "prompt_mask": 0}
RIGHT_PADDED = {
    "completion_ids": "pad",
    "completion_mask": 0,
    "old_per_token_logps": 0.0,
    "ref_per_token_logps": 0.0,
    "sampling_per_token_logps": 0.0,
    "importance_sampling_ratio": 0.0,
    "tool_mask": 1,
}
PER_ROW = {"advantages"}
PER_BATCH = {"num_items_in_batch"}



def take_rows(output: dict[str, Any], rows: list[int] | torch.Tensor) -> dict[str, Any]:
    """The rows ``rows`` of every row-aligned tensor of a TRL output dict (scalars are copied).

    Raises for keys this module does not know how to index (images, token types): curation
    supports text-only GRPO.
    """
    idx = torch.as_tensor(rows, dtype=torch.long)
    out: dict[str, Any] = {}
    for key, value in output.items():
        if key in PER_BATCH:
            out[key] = value
        elif key in LEFT_PADDED or key in RIGHT_PADDED or key in PER_ROW:
            out[key] = None if value is None else value[idx.to(value.device)]
        else:
            raise OfftargetError(
                f"GRPO-RoC / dynamic sampling support text-only GRPO; TRL's batch has {key!r}: "
                "turn off --roc and --dynamic-sampling for this model"
            )
    return out


def _pad_to(t: torch.Tensor, width: int, value: float, left: bool) -> torch.Tensor:
    extra = width - t.shape[1]
    if extra <= 0:
        return t
    filler = torch.full((t.shape[0], extra, *t.shape[2:]), value, dtype=t.dtype, device=t.device)
    return torch.cat([filler, t] if left else [t, filler], dim=1)


def concat_batches(parts: list[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """Join TRL output dicts row-wise, re-padding prompts on the left and completions on the right."""
    if len(parts) == 1:
        return dict(parts[0])
    out: dict[str, Any] = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        if key in PER_BATCH:
            out[key] = values[0]
            continue
        if any(v is None for v in values):
            out[key] = None
            continue
        if key in PER_ROW or values[0].dim() < 2 or (key == "importance_sampling_ratio" and values[0].shape[1] == 1):
            out[key] = torch.cat(values, dim=0)
            continue
        left = key in LEFT_PADDED
        fill = (LEFT_PADDED if left else RIGHT_PADDED)[key]
        fill = pad_token_id if fill == "pad" else fill
        width = max(v.shape[1] for v in values)
        out[key] = torch.cat([_pad_to(v, width, fill, left) for v in values], dim=0)
    return out


def loss_tokens(output: dict[str, Any]) -> torch.Tensor:
    """Tokens that enter the loss: the completion mask (times the tool mask when present)."""
    mask = output["completion_mask"]
    if output.get("tool_mask") is not None:
        mask = mask * output["tool_mask"]
    return mask.sum()
