"""LoRA adapter directories wherever a checkpoint is accepted: merged once (W + alpha/r · B A, checked by
hand), identified by base and adapter together, audited like any checkpoint; a missing or wrong base is
one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SFT, BASE = ROOT / "models" / "lab" / "sft", ROOT / "models" / "lab" / "base"
RANK, ALPHA = 4, 8


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFTARGET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def make_adapter(out: Path, base: Path = SFT, seed: int = 0) -> Path:
    """A LoRA adapter with random (non-zero) A and B on q_proj and v_proj, saved as train --lora saves it."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from offtarget.models.adapters import record_base

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(model, LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False))
    peft_model.save_pretrained(out)
    for f in base.iterdir():
        if f.name.startswith("tokenizer"):
            shutil.copy2(f, out / f.name)
    record_base(out, str(base))
    return out


def run_cli(*args, env_home: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OFFTARGET_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT, check=False)


def test_adapter_resolves_to_its_base_merged_by_hand(tmp_path, home):
    from safetensors.torch import load_file

    from offtarget.models.loading import fingerprint
    from offtarget.models.registry import resolve_model_path

    adapter = make_adapter(tmp_path / "ad")
    merged = Path(resolve_model_path(str(adapter)))
    assert merged.parent == home / "merged" and (merged / "config.json").exists()
    assert (merged / "tokenizer.json").exists()
    base_w = load_file(SFT / "model.safetensors")
    lora = load_file(adapter / "adapter_model.safetensors")
    got = load_file(merged / "model.safetensors")
    name = "model.layers.2.self_attn.q_proj"
    a = lora[f"base_model.model.{name}.lora_A.weight"]
    b = lora[f"base_model.model.{name}.lora_B.weight"]
    torch.testing.assert_close(got[f"{name}.weight"], base_w[f"{name}.weight"] + (ALPHA / RANK) * b @ a)
    torch.testing.assert_close(got["model.layers.2.mlp.up_proj.weight"], base_w["model.layers.2.mlp.up_proj.weight"],
                               rtol=0, atol=0)
    assert fingerprint(merged) != fingerprint(SFT)
    assert resolve_model_path(str(adapter)) == str(merged)  # written once, reused


def test_identity_covers_base_and_adapter(tmp_path):
    from safetensors.torch import load_file, save_file

    from offtarget.models.adapters import adapter_fingerprint

    adapter = make_adapter(tmp_path / "ad")
    first = adapter_fingerprint(adapter, SFT)
    assert adapter_fingerprint(adapter, BASE) != first
    tensors = load_file(adapter / "adapter_model.safetensors")
    key = min(tensors)
    tensors[key] = tensors[key] * 2
    save_file(tensors, adapter / "adapter_model.safetensors")
    assert adapter_fingerprint(adapter, SFT) != first
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    save_file(load_file(adapter / "adapter_model.safetensors"), adapter / "adapter_model.safetensors")
    second = adapter_fingerprint(adapter, SFT)
    cfg["lora_alpha"] = 16  # same weights, twice the scale: a different model
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    assert adapter_fingerprint(adapter, SFT) != second


def test_interrupted_merge_leaves_nothing(tmp_path, home, monkeypatch):
    from offtarget.models import adapters

    adapter = make_adapter(tmp_path / "ad")

    def broken(adapter_dir, base, out):
        (out / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(adapters, "_merge_into", broken)
    with pytest.raises(KeyboardInterrupt):
        adapters.merged_checkpoint(adapter)
    assert list((home / "merged").iterdir()) == []


@pytest.mark.slow
def test_audit_accepts_an_adapter_and_weights_probe_sees_its_rank(tmp_path, home):
    adapter = make_adapter(tmp_path / "ad")
    out = tmp_path / "audit"
    proc = run_cli("audit", "--model", f"sft={SFT}", "--model", f"lora={adapter}", "--problems", "6",
                   "--samples", "2", "--probes", "accuracy,weights", "--bootstrap", "100", "--out", out,
                   env_home=home)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    lora = next(c for c in results["checkpoints"] if c["name"] == "lora")
    assert lora["adapter"] == str(adapter.resolve()) and lora["base"] == str(SFT)
    weights = next(p for p in results["probes"] if p["probe"] == "weights")
    rows = {r["metric"]: r for r in weights["metrics"] if r["checkpoint"] == "lora"}
    assert 0 < rows["mean_effective_rank"]["value"] <= RANK + 1e-6  # a rank-4 update per adapted matrix


def test_adapter_with_a_missing_base_is_one_line(tmp_path, home):
    adapter = make_adapter(tmp_path / "ad")
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "models/lab/gone"
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    proc = run_cli("audit", "--model", f"sft={SFT}", "--model", f"lora={adapter}", "--out", tmp_path / "a",
                   env_home=home)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "models/lab/gone" in lines[0] and "not on this machine" in lines[0]


def test_adapter_on_a_changed_base_is_one_line(tmp_path, home):
    adapter = make_adapter(tmp_path / "ad")  # trained on sft; now claims the (same-shaped) base model
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(BASE)
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    proc = run_cli("preflight", "--model", adapter, "--out", tmp_path / "p", env_home=home)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "fingerprint" in lines[0] and "wrong or changed base" in lines[0]


def test_adapter_on_a_base_of_other_shapes_is_one_line(tmp_path, home):
    from offtarget.models.tiny import TinyModelConfig, new_tiny_model

    other = tmp_path / "narrow"
    model, tok = new_tiny_model(TinyModelConfig(hidden=64, ffn=192))
    model.save_pretrained(other)
    tok.save_pretrained(other)
    adapter = make_adapter(tmp_path / "ad")
    (adapter / "offtarget_adapter.json").unlink()  # no recorded fingerprint: the shapes must catch it
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(other)
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    proc = run_cli("audit", "--model", f"sft={SFT}", "--model", f"lora={adapter}", "--out", tmp_path / "a",
                   env_home=home)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not fit its base" in lines[0]


def test_eval_log_checkpoint_may_be_an_adapter(tmp_path, home):
    from offtarget.evidence.source import resolve_spec
    from offtarget.models.registry import resolve_model_path

    adapter = make_adapter(tmp_path / "ad")
    log = tmp_path / "c.jsonl"
    log.write_text("")
    assert resolve_spec(f"completions:{log}@{adapter}") == f"completions:{log}@{resolve_model_path(str(adapter))}"
    assert resolve_spec(f"completions:{log}") == f"completions:{log}"
