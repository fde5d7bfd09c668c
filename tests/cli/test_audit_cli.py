"""`offtarget audit` end to end on the real lab checkpoints, and its handling of bad input."""

import json

import pytest

BASE, SFT = "models/lab/base", "models/lab/sft"

pytestmark = pytest.mark.slow


def test_base_vs_sft_audit_writes_results_and_resumes(tmp_path, cli):
    out = tmp_path / "run"
    args = ["audit", "--model", f"base={BASE}", "--model", f"sft={SFT}", "--out", out, "--problems", "40",
            "--samples", "4", "--probes", "accuracy,passk", "--bootstrap", "200"]
    first = cli(*args, check=True)
    results = json.loads((out / "results.json").read_text())
    assert results["schema_version"] == 1 and results["reference"] == "base"
    assert [c["generated"] for c in results["checkpoints"]] == [80 * 5, 80 * 5]  # 40+40 problems x (4 + greedy)
    acc = {(m["checkpoint"], m["group"]): m for p in results["probes"] for m in p["metrics"] if m["metric"] == "accuracy"}
    assert acc[("sft", "test")]["value"] > acc[("base", "test")]["value"]  # SFT was trained past the base
    assert (out / "report.md").exists()
    assert "pass@4" in first.stdout or "accuracy" in first.stdout
    again = cli(*args, check=True)
    results2 = json.loads((out / "results.json").read_text())
    assert [c["generated"] for c in results2["checkpoints"]] == [0, 0]  # everything came from the store
    assert "probe accuracy: cached" in again.stdout  # probe results too, keyed by settings and fingerprints
    assert results2["probes"] == results["probes"] and results2["headline"] == results["headline"]
    assert "Traceback" not in again.stderr
    more = cli(*args[:-4], "--probes", "accuracy", "--bootstrap", "300", check=True)  # a setting changed
    assert "probe accuracy: cached" not in more.stdout


def test_checkpoint_against_itself_flags_nothing(tmp_path, cli):
    out = tmp_path / "self"
    cli("audit", "--model", f"a={SFT}", "--model", f"b={SFT}", "--out", out, "--problems", "30", "--samples", "4",
        "--probes", "accuracy,passk", "--bootstrap", "200", "--fail-on", "any", check=True)
    results = json.loads((out / "results.json").read_text())
    flags = [c["flag"] for p in results["probes"] for c in p["comparisons"]]
    assert flags and set(flags) == {"none"}
    assert all(c["diff"] == 0 for p in results["probes"] for c in p["comparisons"] if c["diff"] is not None)


def test_fail_on_regression_gates_exit_code(tmp_path, cli):
    # an untrained model of the same architecture as "tuned": every accuracy falls, so a regression is flagged
    from offtarget.models.tiny import TinyModelConfig, new_tiny_model

    model, tok = new_tiny_model(TinyModelConfig(), seed=1)
    model.save_pretrained(tmp_path / "untrained")
    tok.save_pretrained(tmp_path / "untrained")
    common = ["--model", f"sft={SFT}", "--model", f"untrained={tmp_path / 'untrained'}", "--problems", "30",
              "--samples", "2", "--probes", "accuracy", "--bootstrap", "200"]
    proc = cli("audit", *common, "--out", tmp_path / "gate", "--fail-on", "regression")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "flagged changes found" in proc.stdout
    # the same audit without the gate exits 0
    assert cli("audit", *common, "--out", tmp_path / "gate").returncode == 0


@pytest.mark.parametrize("args, needle", [
    (["audit", "--model", "base=does/not/exist"], "not found"),
    (["audit", "--model", "nopath"], "NAME=PATH"),
    (["audit"], "no checkpoints"),
    (["audit", "--model", f"base={BASE}", "--probes", "nope"], "unknown probe"),
    (["report", "/nonexistent/run"], "no results.json"),
])
def test_bad_input_is_one_line_error(tmp_path, cli, args, needle):
    proc = cli(*args, "--out", tmp_path / "x") if args[0] == "audit" else cli(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert len([ln for ln in proc.stderr.strip().splitlines() if ln.strip()]) <= 2


def test_malformed_task_file_leaves_results_untouched(tmp_path, cli):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text('{"keep": true}')
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "1+1=", "answer": "2"}\n{oops\n')
    proc = cli("audit", "--model", f"base={BASE}", "--suite", bad, "--out", out)
    assert proc.returncode == 2 and "bad.jsonl:2" in proc.stderr
    assert (out / "results.json").read_text() == '{"keep": true}'


def test_report_rerenders_without_models(tmp_path, cli):
    out = tmp_path / "run"
    cli("audit", "--model", f"base={BASE}", "--model", f"sft={SFT}", "--out", out, "--problems", "20",
        "--samples", "2", "--probes", "accuracy", "--bootstrap", "100", check=True)
    (out / "report.md").unlink()
    proc = cli("report", out, check=True)
    assert (out / "report.md").exists() and "reference" in (out / "report.md").read_text() + proc.stdout


def test_checkpoint_with_nan_weights_is_named(tmp_path, cli):
    import shutil

    from safetensors.torch import load_file, save_file

    bad = tmp_path / "nan_model"
    shutil.copytree(SFT, bad)
    weights = load_file(bad / "model.safetensors")
    name = min(k for k in weights if "layers.1.mlp" in k)
    weights[name][0, 0] = float("nan")
    save_file(weights, bad / "model.safetensors", metadata={"format": "pt"})
    proc = cli("audit", "--model", f"sft={SFT}", "--model", f"bad={bad}", "--out", tmp_path / "run",
               "--problems", "10", "--samples", "2", "--probes", "accuracy")
    assert proc.returncode == 2 and "NaN" in proc.stderr and "layers.1.mlp" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
