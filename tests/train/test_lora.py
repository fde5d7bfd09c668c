"""`offtarget train grpo|sft --lora` on the lab checkpoints: small adapters with a portable base, defaults
that depend on the start model, and TRL's reference being the adapter-disabled start model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offtarget.cli import app

ROOT = Path(__file__).resolve().parents[2]
SFT = ROOT / "models" / "lab" / "sft"

TINY = ["--steps", "2", "--prompts-per-step", "4", "--num-generations", "4", "--train-problems", "32",
        "--no-difficulty-window", "--monitor-every", "0", "--save-steps", "0", "--logging-steps", "1", "--no-progress"]


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.slow
def test_grpo_lora_saves_a_small_adapter_naming_its_base_portably(tmp_path, monkeypatch):
    from safetensors import safe_open

    from offtarget.models.loading import fingerprint

    monkeypatch.chdir(ROOT)  # the start model given as a relative path must stay relative in the adapter
    out = tmp_path / "g"
    res = invoke("train", "grpo", "--model", "models/lab/sft", "--out", out, "--lora", "--lora-rank", "4",
                 "--lora-alpha", "8", "--lora-target-modules", "q_proj,v_proj", *TINY)
    assert res.exit_code == 0, res.output
    final = out / "final"
    cfg = json.loads((final / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "models/lab/sft"
    assert (cfg["r"], cfg["lora_alpha"], sorted(cfg["target_modules"])) == (4, 8, ["q_proj", "v_proj"])
    record = json.loads((final / "offtarget_adapter.json").read_text())
    assert record["base_fingerprint"] == fingerprint(SFT)
    assert not (final / "model.safetensors").exists()
    with safe_open(final / "adapter_model.safetensors", "pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    layers = json.loads((SFT / "config.json").read_text())["num_hidden_layers"]
    hidden = json.loads((SFT / "config.json").read_text())["hidden_size"]
    assert len(shapes) == layers * 2 * 2  # q and v, lora_A and lora_B each
    assert all(4 in s and hidden in s for s in shapes.values())  # rank 4 by hidden
    saved = json.loads((out / "summary.json").read_text())["config"]
    assert saved["learning_rate"] == 2e-4 and saved["lora"] is True  # LoRA's default rate


@pytest.mark.slow
def test_sft_lora_trains_an_adapter(tmp_path):
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{a}+{a}=", "completion": f"{2 * a}\n"}) + "\n"
                            for a in range(10, 42)))
    out = tmp_path / "s"
    res = invoke("train", "sft", "--model", SFT, "--data", data, "--out", out, "--lora", "--steps", "2",
                 "--batch-size", "8", "--save-steps", "0", "--no-progress")
    assert res.exit_code == 0, res.output
    assert (out / "final" / "adapter_model.safetensors").exists()
    assert json.loads((out / "summary.json").read_text())["config"]["learning_rate"] == 2e-4


def test_lora_target_that_the_model_lacks_is_one_line(tmp_path):
    res = invoke("train", "grpo", "--model", SFT, "--out", tmp_path / "g", "--lora", "--lora-target-modules",
                 "c_attn", *TINY)
    assert res.exit_code != 0
    assert "c_attn" in str(res.exception) and "q_proj" in str(res.exception)


def test_defaults_follow_the_start_model(tmp_path):
    from transformers import AutoModelForCausalLM

    from offtarget.config import load_config
    from offtarget.train.config import GRPORunConfig, SFTRunConfig
    from offtarget.train.defaults import parameter_count

    n = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(SFT).parameters())
    # the safetensors header also lists the tied output head once saved separately; none here
    assert parameter_count(SFT) == n
    toy = load_config(GRPORunConfig, None, {"model": str(SFT)})
    assert (toy.learning_rate, toy.difficulty_window) == (1e-4, True)
    lora = load_config(GRPORunConfig, None, {"model": str(SFT), "lora": True})
    assert lora.learning_rate == 2e-4
    given = load_config(GRPORunConfig, None, {"model": str(SFT), "lora": True, "learning_rate": 3e-5})
    assert given.learning_rate == 3e-5
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "1+1=", "completion": "2"}\n')
    assert load_config(SFTRunConfig, None, {"model": str(SFT), "data": str(data)}).learning_rate == 1e-3


@pytest.mark.slow
def test_trl_reference_is_the_adapter_disabled_start_model(tmp_path):
    """With peft and beta > 0 TRL loads no reference copy: it disables the adapter. After training, the
    adapter-disabled network must still compute exactly the start model's logits, and KL is logged."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    tok = AutoTokenizer.from_pretrained(SFT)
    start = AutoModelForCausalLM.from_pretrained(SFT).eval()
    model = AutoModelForCausalLM.from_pretrained(SFT)
    rows = [{"prompt": f"{a}+{b}="} for a in range(10, 14) for b in range(20, 24)]
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=6, learning_rate=5e-2, logging_steps=1, save_strategy="no",
                      report_to="none", use_cpu=True, bf16=False, disable_tqdm=True, beta=0.1)
    trainer = GRPOTrainer(model=model, reward_funcs=[lambda completions, **_: [float(i % 2) for i in range(len(completions))]],
                          args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                          peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    assert trainer.ref_model is None
    trainer.train()
    assert any("kl" in r for r in trainer.state.log_history)
    ids = tok(["12+21="], return_tensors="pt").input_ids
    policy = trainer.model.eval()
    with torch.no_grad():
        trained = policy(ids).logits
        with policy.disable_adapter():
            reference = policy(ids).logits
        original = start(ids).logits
    torch.testing.assert_close(reference, original, rtol=0, atol=1e-6)
    assert (trained - original).abs().max() > 1e-4


@pytest.mark.slow
def test_monitor_scores_exact_kl_against_the_adapter_disabled_model(tmp_path):
    out = tmp_path / "g"
    res = invoke("train", "grpo", "--model", SFT, "--out", out, "--lora", "--learning-rate", "5e-3", "--steps", "4",
                 "--prompts-per-step", "4", "--num-generations", "4", "--train-problems", "32",
                 "--no-difficulty-window", "--save-steps", "0", "--no-progress",
                 "--monitor-every", "2", "--monitor-problems", "8", "--monitor-samples", "2")
    assert res.exit_code == 0, res.output
    passes = [json.loads(line) for line in (out / "monitor.jsonl").read_text().splitlines()]
    assert [p["kl_method"] for p in passes] == ["exact"] * 3
    assert passes[0]["kl_per_token"] == pytest.approx(0.0, abs=1e-6)  # the adapter starts at B = 0
    assert passes[-1]["kl_per_token"] > 1e-3
