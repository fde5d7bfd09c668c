"""GuardMonitor in a plain TRL script (no offtarget CLI), as docs/train.md shows it: the baseline and
every pass reach log_history, a tripped guard restores the start state, and a re-run into the same
directory from another model draws its own KL reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SFT, BASE = ROOT / "models" / "lab" / "sft", ROOT / "models" / "lab" / "base"


def _train(model_path: Path, out: Path, steps: int, **guards):
    # -- the docs/train.md snippet, with tiny sizes ------------------------------------------------
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from offtarget.rewards import get_reward
    from offtarget.rewards.columns import problem_to_row
    from offtarget.tasks import get_task
    from offtarget.train import GuardMonitor, MonitorOptions

    task = get_task("arithmetic")
    model = AutoModelForCausalLM.from_pretrained(model_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    rows = [problem_to_row(p) for p in task.problems("train", 32, seed=0)]
    args = GRPOConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=12, learning_rate=5e-3, logging_steps=1, save_strategy="no",
                      report_to="none", use_cpu=True, bf16=False, disable_tqdm=True, temperature=1.0)
    trainer = GRPOTrainer(model=model, reward_funcs=[get_reward("correctness", task=task)], args=args,
                          train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    opts = MonitorOptions(monitor_every=2, monitor_problems=4, monitor_samples=2, monitor_max_new_tokens=12,
                          **guards)
    monitor = GuardMonitor(opts, task, echo=False).attach(trainer)
    trainer.train()
    # ----------------------------------------------------------------------------------------------
    return trainer, monitor


@pytest.mark.slow
def test_plain_trl_run_logs_restores_and_keys_its_reference(tmp_path):
    import torch
    from safetensors.torch import load_file

    from offtarget.models.loading import fingerprint

    out = tmp_path / "g1"
    # lr 5e-3 moves the policy past kl_max=1e-4 by the first periodic pass (step 2); the baseline (KL 0
    # up to float noise) passes, so restore loads the start model back
    trainer, monitor = _train(SFT, out, steps=4, kl_max=1e-4, guard_action="restore")
    assert trainer.state.global_step == 2 and monitor.stop_reason == "kl_max"
    logged = [r for r in trainer.state.log_history if "monitor/accuracy" in r]
    assert [(r["step"], r["monitor/baseline"]) for r in logged] == [(0, 1.0), (2, 0.0)]
    assert logged[0]["monitor/kl_per_token"] == pytest.approx(0.0, abs=1e-6) and logged[1]["monitor/kl_per_token"] > 0
    assert any("loss" in r for r in trainer.state.log_history)  # the trainer's own logs still happen
    assert monitor.restored_step == 0
    start = load_file(str(SFT / "model.safetensors"))
    live = trainer.accelerator.unwrap_model(trainer.model).state_dict()
    for name, t in start.items():
        torch.testing.assert_close(live[name].float(), t.float())  # the restored model is the start model
    rows = [json.loads(line) for line in (out / "monitor.jsonl").read_text().splitlines()]
    assert [r["decision"] for r in rows] == ["continue", "restore"]
    # two-phase entropy each pass: the toy model writes digits (execution tokens), hardly any planning phrase
    assert all(0.0 <= r["execution_token_entropy"] and "planning_token_entropy" in r for r in rows)
    assert all("monitor/execution_token_entropy" in r for r in logged)
    reference = json.loads((out / "monitor_reference.json").read_text())
    assert reference["start_fingerprint"] == fingerprint(SFT)

    # a re-run into the same directory from another model must not reuse the SFT model's samples
    _train(BASE, out, steps=1)
    assert json.loads((out / "monitor_reference.json").read_text())["start_fingerprint"] == fingerprint(BASE)
