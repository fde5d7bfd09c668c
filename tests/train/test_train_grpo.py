"""OfftargetGRPOTrainer: row selection, re-padding and advantage recomputation.

Pure helpers are checked on hand-built tensors; the trainer itself runs TRL's real generation
on the lab SFT model with *crafted* reward functions whose values depend only on a row's
position in its group, so the right RoC / dynamic-sampling selection is known in advance.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from offtarget.errors import OfftargetError
from offtarget.train.grpo_advantages import group_advantages
from offtarget.train.trl_batch import concat_batches, loss_tokens, take_rows

SFT = Path(__file__).resolve().parents[2] / "models" / "lab" / "sft"


# ---------------------------------------------------------------------------------------------
# Pure helpers


def _output(rows: int, prompt_w: int, comp_w: int, start: int = 0) -> dict:
    ids = torch.arange(start, start + rows).unsqueeze(1)
    return {
        "prompt_ids": ids.repeat(1, prompt_w),
        "prompt_mask": torch.ones(rows, prompt_w, dtype=torch.long),
        "completion_ids": ids.repeat(1, comp_w),
        "completion_mask": torch.ones(rows, comp_w, dtype=torch.long),
        "ref_per_token_logps": -ids.float().repeat(1, comp_w),
        "old_per_token_logps": None,
        "advantages": ids.float().squeeze(1),
        "num_items_in_batch": torch.tensor(rows * comp_w),
    }


def test_take_rows_indexes_every_row_aligned_tensor():
    out = take_rows(_output(6, 3, 4), [1, 4])
    assert out["prompt_ids"][:, 0].tolist() == [1, 4]
    assert out["completion_ids"][:, 0].tolist() == [1, 4]
    assert out["ref_per_token_logps"][:, 0].tolist() == [-1.0, -4.0]
    assert out["advantages"].tolist() == [1.0, 4.0]
    assert out["old_per_token_logps"] is None
    assert int(out["num_items_in_batch"]) == 24  # scalars are copied; the trainer recomputes it


def test_take_rows_refuses_unknown_keys():
    bad = {**_output(2, 1, 1), "pixel_values": torch.zeros(2, 3)}
    with pytest.raises(OfftargetError, match="text-only"):
        take_rows(bad, [0])


def test_concat_repads_prompts_left_and_completions_right():
    a, b = _output(2, 2, 3), _output(1, 4, 1, start=10)
    joined = concat_batches([a, b], pad_token_id=0)
    assert joined["prompt_ids"].shape == (3, 4) and joined["completion_ids"].shape == (3, 3)
    assert joined["prompt_ids"][0].tolist() == [0, 0, 0, 0] and joined["prompt_mask"][0].tolist() == [0, 0, 1, 1]
    assert joined["prompt_ids"][1].tolist() == [0, 0, 1, 1]
    assert joined["completion_ids"][2].tolist() == [10, 0, 0]
    assert joined["completion_mask"][2].tolist() == [1, 0, 0]
    assert joined["ref_per_token_logps"][2].tolist() == [-10.0, 0.0, 0.0]
    assert joined["advantages"].tolist() == [0.0, 1.0, 10.0]
    assert int(loss_tokens(joined)) == 2 * 3 + 1


def test_group_advantages_match_hand_values():
    # two groups of 3; weights 1 and 0.5; the second function is None on one row
    r = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, float("nan")], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    w = torch.tensor([1.0, 0.5])
    rewards = torch.tensor([1.0, 0.5, 1.0])  # nansum of weighted
    mean = rewards.mean()
    std = rewards.std()  # Bessel, like TRL's nanstd
    want_group = torch.cat([(rewards - mean) / (std + 1e-4), torch.zeros(3)])
    torch.testing.assert_close(group_advantages(r, w, 3, "group"), want_group)
    all_rewards = torch.cat([rewards, torch.zeros(3)])
    want_batch = (all_rewards - torch.tensor([mean] * 3 + [0.0] * 3)) / (all_rewards.std() + 1e-4)
    torch.testing.assert_close(group_advantages(r, w, 3, "batch"), want_batch)
    torch.testing.assert_close(group_advantages(r, w, 3, "none"), torch.cat([rewards - mean, torch.zeros(3)]))


def test_unscorable_rows_get_zero_advantage():
    r = torch.tensor([[1.0], [float("nan")], [0.0], [1.0]])
    adv = group_advantages(r, torch.tensor([1.0]), 2, "none")
    assert adv.tolist() == [0.0, 0.0, -0.5, 0.5]


# ---------------------------------------------------------------------------------------------
# The trainer on crafted groups


def outcome_by_position(prompts, completions, pattern, **kwargs):
    """Row k scores pattern[k][k % len(pattern[k])]: the outcome depends only on the rollout's slot."""
    return [float(p[k % len(p)]) for k, p in enumerate(pattern)]


def penalty_by_position(prompts, completions, penalty, **kwargs):
    return [float(p[k % len(p)]) for k, p in enumerate(penalty)]


def _trainer(tmp_path, rows, *, keep, roc, dynamic, scale="none", max_refill=2):
    pytest.importorskip("trl")
    from datasets import Dataset
    from trl import GRPOConfig

    from offtarget.models.loading import load_checkpoint
    from offtarget.train.grpo import Curation, OfftargetGRPOTrainer

    ckpt = load_checkpoint(str(SFT), device="cpu")
    group = 2 * keep if roc else keep
    n_prompts = 2
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=n_prompts * group, num_generations=group,
        max_completion_length=6, use_cpu=True, bf16=False, report_to="none", beta=0.0, scale_rewards=scale,
        reward_weights=[1.0, 0.0], logging_steps=1, save_strategy="no", disable_tqdm=True, seed=0,
    )
    outcome_by_position.__name__ = "outcome"
    penalty_by_position.__name__ = "penalty"
    trainer = OfftargetGRPOTrainer(
        model=ckpt.model, reward_funcs=[outcome_by_position, penalty_by_position], args=args,
        train_dataset=Dataset.from_list(rows), processing_class=ckpt.tokenizer,
        curation=Curation(keep=keep, roc=roc, dynamic_sampling=dynamic, outcome="outcome", penalty="penalty",
                          roc_min_each=2, max_refill_rounds=max_refill, seed=0),
    )
    trainer.model.train()
    return trainer


def _inputs(rows, group):
    return [r for r in rows for _ in range(group)]


@pytest.mark.slow
def test_roc_keeps_lowest_penalty_positives_and_recomputes_advantages(tmp_path):
    rows = [
        {"prompt": "12+30=", "pattern": "11110000", "penalty": "30215555"},  # 4 pos / 4 neg → keep 2 + 2
        {"prompt": "41+7=", "pattern": "10000000", "penalty": "90000000"},  # 1 pos / 7 neg → keep 1 + 3
    ]
    trainer = _trainer(tmp_path, rows, keep=4, roc=True, dynamic=False)
    batch = trainer._generate_and_score_completions(_inputs(rows, 8))
    assert batch["completion_ids"].shape[0] == 8  # 2 groups × G = 4 of the 16 generated
    assert batch["prompt_ids"].shape[0] == 8 and batch["completion_mask"].shape[0] == 8
    records = trainer.pop_samples()
    assert len(records) == 16
    kept = [r for r in records if r["kept"]]
    # group 0: positives at slots 0..3 with penalties 3,0,2,1 → the two cleanest are slots 1 and 3
    g0 = [(i % 8, r) for i, r in enumerate(records) if r["group"] == 0 and r["kept"]]
    assert sorted(slot for slot, r in g0 if r["outcome"] == 1.0) == [1, 3]
    assert sum(r["outcome"] == 0.0 for _, r in g0) == 2
    g1 = [r for r in records if r["group"] == 1 and r["kept"]]
    assert [r["outcome"] for r in g1].count(1.0) == 1 and len(g1) == 4
    # advantages over the kept rows only (scale "none"): ±0.5 in group 0; 0.75 / -0.25 in group 1
    # (over all 8 rows TRL had 0.875 / -0.125 in group 1)
    want = [0.5 if r["outcome"] == 1.0 else -0.5 for r in kept[:4]]
    want += [0.75 if r["outcome"] == 1.0 else -0.25 for r in kept[4:]]
    torch.testing.assert_close(batch["advantages"], torch.tensor(want))
    assert [r["advantage"] for r in kept] == pytest.approx(want)
    assert int(batch["num_items_in_batch"]) == int(batch["completion_mask"].sum())
    m = trainer._metrics["train"]
    assert m["curation/roc_penalty_pool_positives"][-1] == pytest.approx((3 + 0 + 2 + 1 + 9) / 5)
    assert m["curation/roc_penalty_kept_positives"][-1] == pytest.approx((0 + 1 + 9) / 3)


@pytest.mark.slow
def test_dynamic_sampling_replaces_tied_groups(tmp_path):
    rows = [
        {"prompt": "12+30=", "pattern": "1111", "penalty": "0000"},  # tied: always right
        {"prompt": "41+7=", "pattern": "0000", "penalty": "0000"},  # tied: always wrong
        {"prompt": "5+5=", "pattern": "1100", "penalty": "0000"},
        {"prompt": "23+4=", "pattern": "1000", "penalty": "0000"},
    ]
    trainer = _trainer(tmp_path, rows, keep=4, roc=False, dynamic=True, max_refill=6)
    batch = trainer._generate_and_score_completions(_inputs(rows[:2], 4))  # the regular batch: both tied
    assert batch["completion_ids"].shape[0] == 8
    records = trainer.pop_samples()
    assert {r["round"] for r in records} != {0}, "tied groups must trigger a refill round"
    kept = [r for r in records if r["kept"]]
    assert len(kept) == 8
    kept_groups = {(r["round"], r["group"]) for r in kept}
    assert all(not r["group_tied"] for r in kept), "both slots were refilled with informative groups"
    assert len(kept_groups) == 2
    assert all(not r["kept"] for r in records if r["round"] == 0)
    want = []
    for key in sorted(kept_groups):
        outs = [r["outcome"] for r in kept if (r["round"], r["group"]) == key]
        mean = sum(outs) / len(outs)
        want += [o - mean for o in outs]
    torch.testing.assert_close(batch["advantages"], torch.tensor(want))
    assert int(batch["num_items_in_batch"]) == int(batch["completion_mask"].sum())
    m = trainer._metrics["train"]
    assert m["curation/refill_rounds"][-1] >= 1 and m["curation/tied_groups_trained"][-1] == 0


@pytest.mark.slow
def test_dynamic_sampling_fills_with_tied_groups_when_refills_run_out(tmp_path):
    rows = [{"prompt": "12+30=", "pattern": "1111", "penalty": "0000"},
            {"prompt": "41+7=", "pattern": "0000", "penalty": "0000"}]
    trainer = _trainer(tmp_path, rows, keep=4, roc=False, dynamic=True, max_refill=1)
    batch = trainer._generate_and_score_completions(_inputs(rows, 4))
    assert batch["completion_ids"].shape[0] == 8  # the batch stays full
    assert batch["advantages"].abs().sum() == 0  # tied groups carry advantage 0
    m = trainer._metrics["train"]
    assert m["curation/refill_rounds"][-1] == 1 and m["curation/tied_groups_trained"][-1] == 2
