"""The record of every sample a GRPO run generated, and the callback that writes ``samples.jsonl``.

One record per generated row: prompt, completion, per-function rewards, weighted reward,
outcome, group, whether its group tied, whether curation kept it and the advantage it was
trained with. The trainer stages a round's records when its rewards are known and resolves them
once the kept rows and their advantages are fixed.

    >>> recs = sample_records([[1.0], [0.0]], ["p", "p"], ["a", "b"], ["correctness"], [1.0], 0, 2, 3, 0)
    >>> recs[(0, 1)]["reward"], recs[(0, 1)]["group_tied"]
    (0.0, False)
"""

from __future__ import annotations

import math
from typing import Any

from transformers import TrainerCallback

from offtarget.rewards.columns import completion_text
from offtarget.train.curation import is_tied


def sample_records(rows: list[list[float]], prompts: list, completions: list, names: list[str],
                   weights: list[float], outcome_index: int | None, group_size: int, step: int,
                   round_index: int) -> dict[tuple[int, int], dict]:
    """One unresolved record per row of per-function rewards ``rows``, keyed by (round, row).

    ``prompts``/``completions`` are the round's last entries of TRL's ``_logs`` (None where
    missing); ``outcome_index`` names the outcome column, whose ties within a group mean no signal.
    """
    oi, size = outcome_index, group_size
    out: dict[tuple[int, int], dict] = {}
    for i, values in enumerate(rows):
        group_values = [r[oi] for r in rows[(i // size) * size : (i // size + 1) * size]] if oi is not None else None
        out[(round_index, i)] = {
            "step": step,
            "round": round_index,
            "group": i // size,
            "prompt": prompts[i] if i < len(prompts) else None,
            "completion": completion_text(completions[i]) if i < len(completions) else None,
            "rewards": {nm: (None if math.isnan(v) else v) for nm, v in zip(names, values, strict=True)},
            "reward": sum(w * v for w, v in zip(weights, values, strict=True) if not math.isnan(v)),
            "outcome": None if oi is None or math.isnan(values[oi]) else values[oi],
            "group_tied": is_tied(group_values) if group_values is not None else None,
            "kept": False,
            "advantage": None,
        }
    return out


def mark_kept(staged: dict[tuple[int, int], dict], kept: list[tuple[int, int, float]]) -> list[dict]:
    """The staged records in (round, row) order, with ``kept`` and ``advantage`` set for the
    trained rows ``(round, row, advantage)``."""
    for ri, row, adv in kept:
        rec = staged.get((ri, row))
        if rec is not None:
            rec["kept"], rec["advantage"] = True, adv
    return [staged[k] for k in sorted(staged)]


class SampleLogWriter(TrainerCallback):
    """Appends ``trainer.pop_samples()`` to ``samples.jsonl`` at every logging step and at the end."""

    def __init__(self, trainer: Any, path: Any) -> None:
        self.trainer, self.path = trainer, path

    def _flush(self) -> None:
        if self.trainer.accelerator.is_main_process:
            from offtarget.train.rundir import append_jsonl

            append_jsonl(self.path, self.trainer.pop_samples())

    def on_log(self, args, state, control, **kwargs):
        self._flush()

    def on_train_end(self, args, state, control, **kwargs):
        self._flush()
