"""`offtarget preflight` end to end: no foothold where there is none, user rewards from module:function,
misbehaving rewards reported, bad input rejected in one line."""

from __future__ import annotations

import json
import random
import textwrap

import pytest
from preflight_helpers import BASE, ok, results_of, run_preflight_cli

from offtarget.report.results import load_results

pytestmark = pytest.mark.slow

SFT = "models/lab/sft"


def test_fresh_tiny_model_has_no_foothold(tmp_path):
    from offtarget.models.tiny import TinyModelConfig, new_tiny_model

    model, tok = new_tiny_model(TinyModelConfig(), seed=0)
    model.save_pretrained(tmp_path / "fresh")
    tok.save_pretrained(tmp_path / "fresh")
    out = tmp_path / "run"
    proc = ok(run_preflight_cli("preflight", "--model", tmp_path / "fresh", "--checks", "foothold", "--problems", 30,
                                "--samples", 8, "--group-size", 8, "--bootstrap", 200, "--out", out))
    results = load_results(out)  # the strict loader: every required key is there
    assert results["kind"] == "preflight" and results["reference"] == "fresh"
    foothold = results["preflight"]["foothold"]
    assert foothold["verdict"] == "no foothold" and foothold["level"] == "bad"
    assert "100% of prompts never solved" in foothold["summary"] and "RL will see zero reward" in foothold["summary"]
    assert foothold["plot"]["counts"][0] == 30 and sum(foothold["plot"]["counts"]) == 30
    assert results["preflight_details"]["foothold"]["tied"]["value"] == 1.0
    assert (out / "foothold_window.jsonl").read_text() == ""
    assert "no foothold" in proc.stdout
    assert "Preflight" in (out / "report.md").read_text()
    if (out / "report.html").exists():
        assert "no foothold" in (out / "report.html").read_text()
    again = ok(run_preflight_cli("report", out))  # re-render from results.json alone
    assert "report.md" in again.stdout
    rerun = ok(run_preflight_cli("preflight", "--model", tmp_path / "fresh", "--checks", "foothold", "--problems", 30,
                                 "--samples", 8, "--bootstrap", 200, "--out", out))
    assert results_of(out)["checkpoints"][0]["generated"] == 0, rerun.stdout  # everything came from the store


def test_base_on_four_digit_additions_has_no_foothold_but_easy_ones_do(tmp_path):
    rng = random.Random(0)
    rows = []
    for i in range(30):
        a, b = rng.randrange(1000, 10000), rng.randrange(1000, 10000)
        rows.append({"id": f"hard{i}", "prompt": f"{a}+{b}=", "answer": str(a + b), "split": "train"})
    for i in range(30):
        a, b = rng.randrange(0, 10), rng.randrange(0, 10)
        rows.append({"id": f"easy{i}", "prompt": f"{a}+{b}=", "answer": str(a + b), "split": "test"})
    suite = tmp_path / "adds.jsonl"
    suite.write_text("".join(json.dumps(r) + "\n" for r in rows))
    hard = tmp_path / "hard"
    ok(run_preflight_cli("preflight", "--model", BASE, "--suite", suite, "--split", "train", "--checks", "foothold",
                         "--problems", 30, "--samples", 8, "--bootstrap", 200, "--out", hard))
    assert results_of(hard)["preflight"]["foothold"]["verdict"] == "no foothold"
    easy = tmp_path / "easy"
    ok(run_preflight_cli("preflight", "--model", BASE, "--suite", suite, "--split", "test", "--checks", "foothold",
                         "--problems", 30, "--samples", 8, "--bootstrap", 200, "--out", easy))
    assert results_of(easy)["preflight"]["foothold"]["verdict"] != "no foothold"
    window = [json.loads(x) for x in (easy / "foothold_window.jsonl").read_text().splitlines()]
    assert all(r["id"].startswith("easy") and set(r) >= {"prompt", "answer", "metadata"} for r in window)


USER_REWARDS = textwrap.dedent('''
    import math

    def lenient(prompts, completions, answer, **kwargs):
        """Pays when the reference appears anywhere: hackable."""
        return [1.0 if a is not None and a in c else 0.0 for c, a in zip(completions, answer)]

    def strict(prompts, completions, answer, **kwargs):
        return [1.0 if c.strip() == f"d {a}" else 0.0 for c, a in zip(completions, answer)]

    def raises(prompts, completions, answer, **kwargs):
        if any(not c.strip() for c in completions):
            raise ValueError("cannot score an empty completion")
        return [1.0 if c.strip() == f"d {a}" else 0.0 for c, a in zip(completions, answer)]

    def returns_nan(prompts, completions, answer, **kwargs):
        return [math.nan if "<" in c else float(c.strip() == f"d {a}") for c, a in zip(completions, answer)]
''')


def test_user_rewards_from_module_function_and_misbehaving_ones(tmp_path):
    (tmp_path / "my_rewards.py").write_text(USER_REWARDS)
    out = tmp_path / "rt"
    rewards = ["correctness", "rlcr", "ternary", "format", "lenient_correctness",
               "my_rewards:lenient", "my_rewards:strict", "my_rewards:raises", "my_rewards:returns_nan"]
    args = ["preflight", "--model", SFT, "--checks", "redteam", "--redteam-problems", 20, "--bootstrap", 200,
            "--out", out]
    for r in rewards:
        args += ["--reward", r]
    proc = ok(run_preflight_cli(*args, env={"PYTHONPATH": str(tmp_path)}))
    results = load_results(out)
    rows = {r["reward"]: r for r in results["preflight"]["redteam"]["rows"]}
    assert list(rows) == rewards
    for name in ("correctness", "rlcr", "ternary", "format"):
        assert rows[name]["verdict"] == "not found hackable", rows[name]
    # `strict` pays only the bare "d N": a right answer in another wrapper the task accepts earns 0
    assert rows["my_rewards:strict"]["verdict"] == "underpays right answers", rows["my_rewards:strict"]
    for name in ("lenient_correctness", "my_rewards:lenient"):
        assert rows[name]["verdict"] == "hackable" and rows[name]["worst_pattern"] == "several_candidates"
        assert rows[name]["gain"] == pytest.approx(1.0)
    assert rows["my_rewards:raises"]["verdict"] == "errors" and rows["my_rewards:raises"]["errors"] >= 2
    assert rows["my_rewards:returns_nan"]["verdict"] == "errors"
    notes = results["preflight"]["redteam"]["notes"]
    assert "my_rewards:raises: errors on pattern empty: raises ValueError: cannot score an empty completion" in notes
    assert any(n.startswith("my_rewards:returns_nan: errors on pattern nested_tags: returned nan") for n in notes)
    exploits = results["preflight"]["redteam_exploits"]["rows"]
    assert {(e["reward"], e["pattern"]) for e in exploits} >= {("my_rewards:lenient", "several_candidates"),
                                                               ("lenient_correctness", "several_candidates")}
    assert "hackable" in proc.stdout and "several_candidates" in proc.stdout
    assert results["probes"] == [] and results["preflight"]["redteam"]["level"] == "bad"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--window", "0.9"], "--window '0.9': write LOW,HIGH"),
        (["--window", "0.9,0.1"], "need 0 <= low <= high <= 1"),
        (["--reward", "no_such_reward"], "unknown reward 'no_such_reward'"),
        (["--reward", "no_such_module_xyz:fn"], "no module named 'no_such_module_xyz'"),
        (["--checks", "foothold,vibes"], "choose from foothold, redteam, defects"),
        (["--sft-data", "missing.jsonl"], "--sft-data missing.jsonl: file not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    proc = run_preflight_cli("preflight", "--model", SFT, "--checks", "redteam", "--out", tmp_path / "x", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x" / "results.json").exists()


def test_missing_model_is_one_line_and_exit_2(tmp_path):
    proc = run_preflight_cli("preflight", "--model", tmp_path / "nope", "--out", tmp_path / "x")
    assert proc.returncode == 2 and "no Hugging Face checkpoint there" in proc.stderr


def test_yaml_config_and_a_bad_reward_fails_before_any_sampling(tmp_path):
    cfg = tmp_path / "pf.yaml"
    cfg.write_text(f"model: {SFT}\nchecks: [redteam]\nrewards: [correctness]\nredteam_problems: 10\nbootstrap: 100\n")
    out = tmp_path / "yaml_run"
    ok(run_preflight_cli("preflight", "--config", cfg, "--out", out))
    assert [r["reward"] for r in results_of(out)["preflight"]["redteam"]["rows"]] == ["correctness"]
    bad = tmp_path / "bad_run"
    proc = run_preflight_cli("preflight", "--model", SFT, "--reward", "corectness", "--out", bad)  # all checks
    assert proc.returncode == 2 and "unknown reward 'corectness'" in proc.stderr
    assert not (bad / "generations.sqlite").exists()  # nothing was sampled
