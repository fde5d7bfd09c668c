"""``OfftargetGRPOTrainer``: TRL's GRPOTrainer plus GRPO-RoC and dynamic sampling, and nothing else.

Tested against TRL 1.16.0 (``pyproject`` pins ``trl>=1.14,<1.17``). TRL has no public hook
between "rewards are known" and "advantages are fixed" (callbacks never see the batch; reward
functions cannot drop or add rows), so the two curation rules need a subclass. It overrides
exactly two methods, at the narrowest points found in TRL 1.16's ``grpo_trainer.py``:

- ``_calculate_rewards``: calls TRL's and keeps the gathered per-function rewards
  (``N_global × n_funcs``) it returns. Why: the outcome (correctness) and penalty columns are
  needed per row, *before* TRL's weighted sum folds them into one number.
- ``_generate_and_score_completions``: calls TRL's (generation, log-probs, rewards, advantages,
  TRL's own metrics) one or more times, then, in training only:

  1. **GRPO-RoC** (rStar2-Agent, arXiv 2508.20722): TRL generated ``2G`` per prompt; keep ``G``
     per group with :func:`offtarget.train.curation.roc_select` (positives with the lowest
     ``format_penalty``, negatives sampled in proportion, at least two of each where possible).
  2. **Dynamic sampling** (DAPO, arXiv 2503.14476; TRL lacks it, trl issue 3708): a group whose
     *outcome* reward (correctness, never the shaped total: verl-recipe PR 125) ties carries no
     GRPO signal. While some process has fewer informative groups than its share of the batch,
     every process generates another round from extra prompts (its own seeded draw from the
     training set) — the number of rounds is decided from gathered counts, so all processes
     run the same collectives. After ``max_refill_rounds`` the batch is filled with tied groups
     (advantage 0, exactly what TRL would have trained on) and the shortfall is logged.
  3. The kept rows are indexed out of every row-aligned tensor of TRL's output (re-padded when
     rounds are joined: prompts left-padded, completions and log-probs right-padded), their
     advantages are recomputed over the kept rows only with TRL's formula (group mean; std per
     group or over the whole kept batch), and ``num_items_in_batch`` is recomputed as the
     gathered sum of the kept loss mask.

  Refill lives here rather than in ``_prepare_inputs`` (the notes' first suggestion): TRL's
  ``_prepare_inputs`` then buffers, shuffles and splits the already-curated batch unchanged,
  so none of its code is copied.

TRL's own ``reward``, ``frac_reward_zero_std`` and length metrics describe the *generated* pool
(every round); the ``curation/*`` metrics describe what was trained on. Every generated sample
(prompt, completion, per-function rewards, trained advantage, group, kept or not) is kept in
``trainer.sample_log`` for :class:`SampleLogWriter`, which writes ``samples.jsonl``.

Limits: text-only (no images, tools or environments) and ``multi_objective_aggregation=
"sum_then_normalize"`` when curation is on; the trainer raises otherwise.

Row surgery on TRL's output is :mod:`offtarget.train.trl_batch`, the advantage formula
:mod:`offtarget.train.grpo_advantages`, the sample records :mod:`offtarget.train.sample_log`.

    >>> Curation(keep=4, roc=True).active, Curation(keep=4).active
    (True, False)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object
from packaging.version import Version
from trl import GRPOTrainer

from offtarget.errors import OfftargetError
from offtarget.train.curation import is_tied, prompts_to_draw, roc_select
from offtarget.train.grpo_advantages import group_advantages
from offtarget.train.sample_log import mark_kept, sample_records
from offtarget.train.trl_batch import concat_batches, loss_tokens, take_rows

TESTED_TRL = "1.16.0"
"""The TRL release these overrides were written and tested against."""
SUPPORTED_TRL = (Version("1.14"), Version("1.17"))
"""pyproject's pin, ``trl>=1.14,<1.17``."""


@dataclass(frozen=True)
class Curation:
    """Which curation rules the trainer applies to each generation batch (training only)."""

    keep: int
    """Completions trained per prompt, G (TRL's ``num_generations`` is 2G under RoC, else G)."""
    dynamic_sampling: bool = False
    """Replace groups whose outcome ties by groups from extra prompts."""
    roc: bool = False
    """GRPO-RoC down-sampling of 2G rollouts to G."""
    outcome: str = "correctness"
    """Name of the reward function whose value > 0 means success (and whose ties mean no signal)."""
    penalty: str = "format_penalty"
    """Name of the reward function RoC ranks positives by (lower is cleaner)."""
    roc_min_each: int = 2
    """RoC keeps at least this many positives and negatives where the pool has them."""
    max_refill_rounds: int = 2
    """Extra generation rounds per batch at most."""
    seed: int = 0
    """Seeds RoC's negative sampling and the refill prompt draws (with step, round and rank)."""
    log_samples: bool = True
    """Keep every generated sample in ``trainer.sample_log``."""

    @property
    def active(self) -> bool:
        return self.dynamic_sampling or self.roc


# ---------------------------------------------------------------------------------------------
# The trainer


@dataclass
class Round:
    """One call of TRL's ``_generate_and_score_completions`` and the selection made on it."""

    index: int
    """0 for the regular batch, 1.. for refills."""
    output: dict[str, Any]
    """TRL's output dict: this process's rows."""
    rewards: torch.Tensor
    """This process's rows of the gathered per-function rewards, ``(rows, n_funcs)``."""
    groups: list[list[int]]
    """Per local group, the local rows kept (all G, or RoC's G of 2G), ascending."""
    tied: list[bool]
    """Per local group: whether the kept rows' outcome values tie (no signal)."""
    first_row: int = 0
    """Global row index of this process's first row (TRL's process slice)."""
    penalty_stats: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    """RoC: [pool positives' penalty sum, count, kept positives' penalty sum, count]."""


class OfftargetGRPOTrainer(GRPOTrainer):
    """GRPOTrainer with GRPO-RoC and dynamic sampling; see the module docstring for why and how.

    ``curation`` selects the rules; with none active the trainer behaves exactly as TRL's and
    only records samples.
    """

    def __init__(self, *args: Any, curation: Curation | None = None, **kwargs: Any) -> None:
        check_trl_version()
        super().__init__(*args, **kwargs)
        self.curation = curation or Curation(keep=self.num_generations)
        self._stashed_rewards: torch.Tensor | None = None
        self._staged: dict[tuple[int, int], dict] = {}
        self.sample_log: list[dict] = []
        """Sample records waiting to be written (main process); :meth:`pop_samples` empties it."""
        self._check_curation()

    # -- checks ---------------------------------------------------------------------------------
    def _check_curation(self) -> None:
        c = self.curation
        names = list(self.reward_func_names)
        if len(set(names)) != len(names):
            raise OfftargetError(f"reward functions need distinct names, got {names}")
        if not c.active:
            return
        if self.multi_objective_aggregation != "sum_then_normalize":
            raise OfftargetError("--roc / --dynamic-sampling need multi_objective_aggregation='sum_then_normalize'")
        if self.tools or self.environment_factories is not None or self.rollout_func is not None:
            raise OfftargetError("--roc / --dynamic-sampling support plain text generation (no tools or environments)")
        if c.outcome not in names:
            raise OfftargetError(f"outcome reward {c.outcome!r} is not among the reward functions {names}")
        if c.roc and c.penalty not in names:
            raise OfftargetError(f"RoC penalty reward {c.penalty!r} is not among the reward functions {names}")
        expected = 2 * c.keep if c.roc else c.keep
        if self.num_generations != expected:
            raise OfftargetError(
                f"num_generations is {self.num_generations} but curation keeps {c.keep} per group "
                f"({'RoC generates 2G' if c.roc else 'no RoC'}): expected {expected}"
            )
        local_rows = self.args.per_device_train_batch_size * self.args.steps_per_generation
        if local_rows % self.num_generations:
            raise OfftargetError(
                f"each process generates {local_rows} rows, not a multiple of the group size "
                f"{self.num_generations}: groups would straddle processes; change prompts_per_step"
            )
        if (local_rows // self.num_generations * c.keep) % self.args.steps_per_generation:
            raise OfftargetError(
                "the curated batch does not split evenly into steps_per_generation micro-batches; "
                "change prompts_per_step or gradient_accumulation_steps"
            )

    # -- overrides ------------------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        # Why: the per-function columns (outcome, penalty) are needed per row after TRL has
        # folded them into one weighted reward; TRL returns them gathered over processes.
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._stashed_rewards = rewards
        return rewards

    def _generate_and_score_completions(self, inputs):
        # Why: this is the only place where a batch's rewards are known and its rows can still be
        # chosen before training on them (no public hook sits between rewards and advantages).
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        if not self.curation.active:
            output = super()._generate_and_score_completions(inputs)
            self._record_uncurated(output)
            return output
        quota = len(inputs) // self.num_generations
        rounds = [self._scored_round(inputs, 0)]
        while self.curation.dynamic_sampling and len(rounds) <= self.curation.max_refill_rounds:
            have = sum(not t for r in rounds for t in r.tied)
            counts = self.accelerator.gather(torch.tensor([have, sum(len(r.tied) for r in rounds)],
                                                          device=self.accelerator.device)).view(-1, 2)
            if int(counts[:, 0].min()) >= quota:
                break
            rate = float(counts[:, 0].sum()) / max(1.0, float(counts[:, 1].sum()))
            n_prompts = prompts_to_draw(quota - int(counts[:, 0].min()), rate, cap=quota)
            rounds.append(self._scored_round(self._refill_inputs(n_prompts, len(rounds)), len(rounds)))
        return self._curate(rounds, quota)

    # -- rounds ---------------------------------------------------------------------------------
    def _scored_round(self, inputs: list[dict], index: int) -> Round:
        output = super()._generate_and_score_completions(inputs)
        rewards = self._stashed_rewards
        n_local = output["prompt_ids"].shape[0]
        first = self.accelerator.process_index * n_local
        local = rewards[first : first + n_local]
        rnd = self._select_round(output, local, index, first)
        if self.curation.log_samples and self.accelerator.is_main_process:
            self._stage_samples(rewards, index)
        return rnd

    def _select_round(self, output: dict, rewards: torch.Tensor, index: int, first_row: int) -> Round:
        """RoC selection (if on) and the tie test, per local group of ``num_generations`` rows."""
        c, size = self.curation, self.num_generations
        names = list(self.reward_func_names)
        oi = names.index(c.outcome)
        pi = names.index(c.penalty) if c.roc else None
        groups, tied = [], []
        stats = [0.0, 0.0, 0.0, 0.0]
        for g in range(rewards.shape[0] // size):
            rows = list(range(g * size, (g + 1) * size))
            if c.roc:
                outcome = rewards[rows, oi].tolist()
                penalty = rewards[rows, pi].tolist()
                positive = [not math.isnan(v) and v > 0 for v in outcome]
                global_group = (first_row + g * size) // size
                rng = np.random.default_rng([c.seed, int(self.state.global_step), index, global_group])
                sel = roc_select(positive, penalty, c.keep, min_each=c.roc_min_each, rng=rng)
                pool_pen = [penalty[i] for i in range(size) if positive[i] and not math.isnan(penalty[i])]
                kept_pen = [penalty[i] for i in sel.positives if not math.isnan(penalty[i])]
                stats = [stats[0] + sum(pool_pen), stats[1] + len(pool_pen),
                         stats[2] + sum(kept_pen), stats[3] + len(kept_pen)]
                rows = [rows[i] for i in sel.kept]
            groups.append(rows)
            tied.append(is_tied(rewards[rows, oi].tolist()))
        return Round(index, output, rewards, groups, tied, first_row, stats)

    def _refill_inputs(self, n_prompts: int, index: int) -> list[dict]:
        """``n_prompts`` training rows, each repeated ``num_generations`` times (as TRL's sampler does).

        Drawn per process from the whole training set with a generator seeded by (seed, step,
        round, rank), so a resumed run draws the same prompts.
        """
        ds = self.train_dataset
        rng = np.random.default_rng(
            [self.curation.seed, int(self.state.global_step), index, self.accelerator.process_index]
        )
        idx = rng.choice(len(ds), size=n_prompts, replace=n_prompts > len(ds))
        rows = [ds[int(i)] for i in idx]
        return [row for row in rows for _ in range(self.num_generations)]

    def _curate(self, rounds: list[Round], quota: int) -> dict[str, Any]:
        """Keep ``quota`` groups per process, join them, recompute advantages and the token count."""
        c = self.curation
        informative = [(r.index, g) for r in rounds for g, t in enumerate(r.tied) if not t]
        tied = [(r.index, g) for r in rounds for g, t in enumerate(r.tied) if t]
        if c.dynamic_sampling:
            chosen = informative[:quota]
            fill = tied[: quota - len(chosen)]
        else:  # RoC only: every group of the one round, in order
            chosen, fill = [(rounds[0].index, g) for g in range(len(rounds[0].groups))], []
        picked = set(chosen + fill)
        parts, part_rewards, kept_ids = [], [], []
        for r in rounds:
            rows = [row for g in range(len(r.groups)) if (r.index, g) in picked for row in r.groups[g]]
            if not rows:
                continue
            parts.append(take_rows(r.output, rows))
            part_rewards.append(r.rewards[rows])
            kept_ids.extend((r.index, r.first_row + row) for row in rows)
        batch = concat_batches(parts, self._pad_token_id())
        local_rewards = torch.cat(part_rewards, dim=0)

        gathered = self.accelerator.gather(local_rewards)
        advantages = group_advantages(gathered, self.reward_weights, c.keep, self.scale_rewards)
        n_local = local_rewards.shape[0]
        start = self.accelerator.process_index * n_local
        batch["advantages"] = advantages[start : start + n_local].to(batch["completion_ids"].device)
        batch["num_items_in_batch"] = self.accelerator.gather(loss_tokens(batch)).sum()

        self._log_curation(rounds, gathered, len(fill))
        if c.log_samples:
            mine = [(ri, row, float(a)) for (ri, row), a in zip(kept_ids, batch["advantages"].tolist(), strict=True)]
            everyone = gather_object(mine)
            if self.accelerator.is_main_process:
                self._resolve_samples(everyone)
        return batch

    def _pad_token_id(self) -> int:
        tok = getattr(self, "_tokenizer", None) or self.processing_class
        return int(tok.pad_token_id)

    # -- metrics --------------------------------------------------------------------------------
    def _log_curation(self, rounds: list[Round], kept_rewards: torch.Tensor, n_fill: int) -> None:
        dev = self.accelerator.device
        local = torch.tensor(
            [sum(len(r.tied) for r in rounds), sum(r.tied.count(True) for r in rounds), n_fill,
             *[sum(r.penalty_stats[i] for r in rounds) for i in range(4)]],
            dtype=torch.float64, device=dev,
        )
        tot = self.accelerator.gather(local).view(-1, local.numel()).sum(dim=0).tolist()
        groups, n_tied, n_fill_all, pool_sum, pool_n, kept_sum, kept_n = tot
        names = list(self.reward_func_names)
        oi = names.index(self.curation.outcome)
        w = self.reward_weights.to(kept_rewards.device)
        total = (kept_rewards * w.unsqueeze(0)).nansum(dim=1)
        m = self._metrics["train"]
        m["curation/generated_groups"].append(groups)
        m["curation/tied_frac_generated"].append(n_tied / max(1.0, groups))
        m["curation/refill_rounds"].append(float(len(rounds) - 1))
        m["curation/tied_groups_trained"].append(n_fill_all)
        m["curation/outcome_mean"].append(torch.nanmean(kept_rewards[:, oi]).item())
        m["curation/reward_mean"].append(torch.nanmean(total).item())
        if self.curation.roc:
            m["curation/roc_penalty_pool_positives"].append(pool_sum / pool_n if pool_n else float("nan"))
            m["curation/roc_penalty_kept_positives"].append(kept_sum / kept_n if kept_n else float("nan"))

    # -- sample records -------------------------------------------------------------------------
    def _stage_samples(self, rewards: torch.Tensor, index: int) -> None:
        """Build one record per generated row of this round (main process), from TRL's ``_logs``."""
        n = rewards.shape[0]
        names = list(self.reward_func_names)
        self._staged.update(sample_records(
            rewards.tolist(), list(self._logs["prompt"])[-n:], list(self._logs["completion"])[-n:], names,
            self.reward_weights.tolist(), names.index(self.curation.outcome) if self.curation.outcome in names else None,
            self.num_generations, int(self.state.global_step), index,
        ))

    def _resolve_samples(self, kept: list[tuple[int, int, float]]) -> None:
        self.sample_log.extend(mark_kept(self._staged, kept))
        self._staged.clear()

    def _record_uncurated(self, output: dict[str, Any]) -> None:
        if not (self.curation.log_samples and self.accelerator.is_main_process):
            return
        rewards = self._stashed_rewards
        self._stage_samples(rewards, 0)
        advantages = list(self._logs["advantages"])[-rewards.shape[0] :]
        self._resolve_samples([(0, i, a) for i, a in enumerate(advantages)])

    def pop_samples(self) -> list[dict]:
        """The sample records collected since the last call (main process; empty elsewhere)."""
        out, self.sample_log = self.sample_log, []
        return out


def check_trl_version() -> None:
    """Warn when the installed TRL is outside the range these overrides were tested on."""
    import trl

    v = Version(trl.__version__)
    if not SUPPORTED_TRL[0] <= v < SUPPORTED_TRL[1]:
        warnings.warn(
            f"offtarget's GRPO subclass was tested with TRL {TESTED_TRL} (supported {SUPPORTED_TRL[0]}–<"
            f"{SUPPORTED_TRL[1]}); TRL {trl.__version__} may have moved the overridden internals",
            stacklevel=3,
        )


__all__ = ["TESTED_TRL", "Curation", "OfftargetGRPOTrainer", "Round", "check_trl_version"]
