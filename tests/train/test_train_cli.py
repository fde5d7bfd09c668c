"""`offtarget train grpo|sft` end to end on the lab checkpoints (real TRL, real tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offtarget.cli import app

ROOT = Path(__file__).resolve().parents[2]
SFT = ROOT / "models" / "lab" / "sft"
BASE = ROOT / "models" / "lab" / "base"

TINY = ["--steps", "4", "--train-problems", "48", "--difficulty-samples", "4", "--monitor-every", "2",
        "--monitor-problems", "8", "--monitor-samples", "2", "--logging-steps", "2", "--save-steps", "2",
        "--no-progress"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_grpo_run_directory_resume_and_audit(tmp_path):
    out = tmp_path / "g1"
    res = invoke("train", "grpo", "--model", str(SFT), "--out", str(out), "--reward", "correctness",
                 "--reward", "brier:0.5", *TINY)
    assert res.exit_code == 0, res.output
    assert "'loss'" not in res.output and "Loading weights" not in res.output  # quiet by default
    for name in ("config.yaml", "monitor.jsonl", "samples.jsonl", "summary.json", "train_problems.jsonl",
                 "difficulty.json", "monitor_reference.json"):
        assert (out / name).is_file(), name
    assert (out / "final" / "config.json").is_file() and (out / "final" / "tokenizer.json").is_file()
    assert not (out / "final.tmp").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["rewards"] == {"correctness": 1.0, "brier": 0.5}
    assert summary["difficulty"]["counts"]["total"] == 48
    monitor = jsonl(out / "monitor.jsonl")
    assert [r["step"] for r in monitor] == [0, 2, 4] and monitor[0]["baseline"]
    samples = jsonl(out / "samples.jsonl")
    kept_per_step = {}
    for r in samples:
        assert set(r) >= {"step", "group", "prompt", "completion", "rewards", "advantage", "kept"}
        kept_per_step[r["step"]] = kept_per_step.get(r["step"], 0) + r["kept"]
    assert kept_per_step == {0: 64, 1: 64, 2: 64, 3: 64}  # 8 prompts × 8 kept per step

    # the final model is what offtarget audit loads
    res = invoke("audit", "--model", f"sft={SFT}", "--model", f"rl={out / 'final'}", "--out",
                 str(tmp_path / "audit"), "--problems", "6", "--samples", "2", "--probes", "accuracy",
                 "--splits", "test", "--bootstrap", "50")
    assert res.exit_code == 0, res.output
    results = json.loads((tmp_path / "audit" / "results.json").read_text())
    assert [c["name"] for c in results["checkpoints"]] == ["sft", "rl"]

    # resume: the run's own config.yaml is read back, --steps raised, training continues at step 4
    res = invoke("train", "grpo", "--out", str(out), "--resume", "--steps", "6", "--verbose")
    assert res.exit_code == 0, res.output
    assert "'loss'" in res.output  # --verbose: TRL's log dicts are printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["config"]["model"] == str(SFT)
    steps = [r["step"] for r in jsonl(out / "monitor.jsonl")]
    assert steps == [0, 2, 4, 6], "no duplicated or lost monitor rows across the resume"
    assert max(r["step"] for r in jsonl(out / "samples.jsonl")) == 5


@pytest.mark.slow
def test_grpo_refuses_to_clobber_a_run(tmp_path):
    out = tmp_path / "g"
    out.mkdir()
    (out / "something").write_text("x")
    res = invoke("train", "grpo", "--model", str(SFT), "--out", str(out), *TINY)
    assert res.exit_code != 0
    assert "--resume" in str(res.exception) or "--resume" in res.output


@pytest.mark.slow
def test_grpo_with_roc_and_curriculum(tmp_path):
    out = tmp_path / "roc"
    res = invoke("train", "grpo", "--model", str(SFT), "--out", str(out), "--roc", "--num-generations", "4",
                 "--curriculum", "difficulty", "--no-dynamic-sampling", "--monitor-every", "0", "--steps", "2",
                 "--train-problems", "32", "--difficulty-samples", "4", "--save-steps", "0", "--no-progress")
    assert res.exit_code == 0, res.output
    samples = jsonl(out / "samples.jsonl")
    assert len(samples) == 2 * 8 * 8  # 2 steps × 8 prompts × 2G generated
    assert sum(r["kept"] for r in samples) == 2 * 8 * 4  # G kept per prompt
    assert all("format_penalty" in r["rewards"] for r in samples)  # added with weight 0 for RoC
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rewards"]["format_penalty"] == 0.0
    problems = jsonl(out / "train_problems.jsonl")
    rates = json.loads((out / "difficulty.json").read_text())["pass_rates"]
    ordered = [rates[p["id"]] for p in problems]
    assert ordered == sorted(ordered, reverse=True)  # easy → hard


@pytest.mark.slow
def test_sft_handful_of_steps(tmp_path):
    from offtarget.lab.corpus import sft_rows
    from offtarget.tasks import ArithmeticTask

    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in sft_rows(ArithmeticTask(), 64, {}, seed=0)))
    out = tmp_path / "s1"
    res = invoke("train", "sft", "--model", str(BASE), "--data", str(data), "--out", str(out), "--steps", "3",
                 "--batch-size", "8", "--logging-steps", "1", "--save-steps", "0", "--no-progress",
                 "--monitor-every", "3", "--monitor-problems", "4", "--monitor-samples", "1")
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["train_rows"] == 64
    monitor = jsonl(out / "monitor.jsonl")
    assert [r["step"] for r in monitor] == [0, 3]
    assert monitor[0]["kl_method"] == "sampled"  # SFTTrainer keeps no reference model
    assert (out / "final" / "model.safetensors").is_file()
    from offtarget.models.loading import load_checkpoint

    assert load_checkpoint(str(out / "final"), device="cpu").model.num_parameters() > 0


def test_bad_flags_exit_with_one_line_error(tmp_path):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "offtarget.cli", "train", "grpo", "--model", str(SFT), "--out",
                          str(tmp_path / "x"), "--scale-rewards", "token"], check=False, capture_output=True, text=True)
    assert res.returncode == 2
    assert "--scale-rewards" in res.stderr and "Traceback" not in res.stderr


def test_accelerate_config_command():
    res = invoke("train", "accelerate-config", "zero3")
    assert res.exit_code == 0 and res.output.strip().endswith("zero3.yaml")
    assert Path(res.output.strip()).is_file()


@pytest.mark.slow
def test_two_cpu_processes_with_torchrun(tmp_path):
    """Two processes (gloo): refill rounds, gathered rewards and the monitor's gathered decision in lockstep."""
    import os
    import subprocess
    import sys

    out = tmp_path / "g2"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "offtarget.cli",
           "--threads", "1", "train", "grpo", "--model", str(SFT), "--out", str(out), "--steps", "2",
           "--train-problems", "32", "--difficulty-samples", "4", "--monitor-every", "1", "--monitor-problems", "4",
           "--monitor-samples", "2", "--save-steps", "0", "--no-progress", "--kl-max", "0", "--guard-action", "stop"]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processes"] == 2
    rows = jsonl(out / "monitor.jsonl")
    assert rows[0]["n_samples"] == 2 * 4 * 2  # both processes' samples, gathered
    # kl_max 0 trips at the first pass after an update: both processes stop at step 1 (no hang)
    assert summary["steps"] == 1 and rows[-1]["decision"] == "stop"


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_complete_checkpoint(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "offtarget.cli", "--threads", "1", "train", "grpo", "--model", str(SFT),
           "--out", str(out), "--steps", "40", "--save-steps", "3", "--no-difficulty-window", "--train-problems", "32",
           "--monitor-every", "3", "--monitor-problems", "4", "--monitor-samples", "1", "--logging-steps", "1",
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "checkpoints" / "checkpoint-6" / "trainer_state.json").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "final").exists() and not (out / "summary.json").exists()
    from offtarget.train.rundir import RunDir

    ckpt = RunDir(out).last_checkpoint()
    resumed_from = int(ckpt.rsplit("-", 1)[1])
    assert resumed_from >= 6

    res = invoke("train", "grpo", "--out", str(out), "--resume", "--steps", str(resumed_from + 2))
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == resumed_from + 2
    steps = [r["step"] for r in jsonl(out / "monitor.jsonl")]
    assert steps == sorted(set(steps)) and steps[0] == 0, "monitor rows: no duplicates after the resume"
    sample_steps = [r["step"] for r in jsonl(out / "samples.jsonl")]
    assert sample_steps == sorted(sample_steps) and max(sample_steps) == resumed_from + 1
    assert (out / "final" / "model.safetensors").is_file()
