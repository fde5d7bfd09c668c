"""Audits from eval logs through the real CLI: the same completions give the same numbers
whatever file they come in, a log of a checkpoint audited against the checkpoint itself flags
nothing, and model-needing probes run only when the checkpoint is attached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from offtarget.cli import app
from offtarget.errors import OfftargetError
from offtarget.evidence import read_log
from offtarget.evidence.completions_jsonl import write as write_completions
from offtarget.store import GenerationStore

ROOT = Path(__file__).resolve().parents[2]
SUITE = ["--suite", "arithmetic", "--splits", "test", "--problems", "2000", "--device", "cpu"]


def _audit(out: Path, *models: str, extra: tuple[str, ...] = ()) -> dict:
    args = ["audit", *[a for m in models for a in ("--model", m)], *SUITE, "--bootstrap", "200",
            "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text())


def _numbers(results: dict) -> list:
    out = []
    for p in results["probes"]:
        out.append((p["probe"], p["error"]))
        out += [(p["probe"], m["metric"], m["group"], m["checkpoint"], m["value"], m["low"], m["high"])
                for m in p["metrics"]]
        out += [(p["probe"], c["metric"], c["group"], c["checkpoint"], c["diff"], c["low"], c["high"],
                 c["p_value"], c["p_adjusted"], c["flag"])
                for c in p["comparisons"]]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind, base, sft", [
    ("lmeval", "base_samples_offtarget_arith30.jsonl", "sft_samples_offtarget_arith30.jsonl"),
    ("inspect", "base_arith30_epochs4.eval", "sft_arith30_epochs4.eval"),
])
def test_log_audit_equals_plain_completions_audit(logs, tmp_path, kind, base, sft):
    direct = _audit(tmp_path / "log", f"base={kind}:{logs / base}", f"sft={kind}:{logs / sft}")
    files = {}
    for name, f in (("base", base), ("sft", sft)):
        files[name] = tmp_path / f"{name}.jsonl"
        write_completions(files[name], read_log(kind, str(logs / f)))
    plain = _audit(tmp_path / "plain", f"base=completions:{files['base']}", f"sft=completions:{files['sft']}")
    assert _numbers(direct) == _numbers(plain)
    assert len(_numbers(direct)) > 100

    ck = {c["name"]: c for c in direct["checkpoints"]}
    assert ck["sft"]["n_problems"] == 30 and ck["sft"]["n_samples"] == 4
    ev = ck["sft"]["evidence"]
    assert ev["source"] == kind and ev["sampling"]["temperature"] == 1.0 and ev["sampling"]["samples"] == 4
    assert ev["sampling"]["max_tokens"] == 16 and ev["checkpoint"] is None
    assert ck["sft"]["fingerprint"].startswith("log-")
    probes = {p["probe"]: p for p in direct["probes"]}
    for name in ("kl", "weights"):
        assert probes[name]["error"] == "unavailable: no checkpoint for base (evidence from a log)"
    div = probes["diversity"]
    assert not [m for m in div["metrics"] if m["metric"] == "mean_token_entropy"]  # not a fake 0
    assert any("mean_token_entropy unavailable" in n for n in div["notes"])
    assert any("likelihood confidence unavailable" in n for n in probes["calibration"]["notes"])
    acc = {(m["checkpoint"], m["group"]): m["value"] for m in probes["accuracy"]["metrics"]}
    want = {"lmeval": (88 / 120, 83 / 120), "inspect": (88 / 120, 94 / 120)}[kind]
    assert (acc["base", "test"], acc["sft", "test"]) == pytest.approx(want)


@pytest.mark.slow
def test_null_check_checkpoint_against_its_own_lmeval_log(logs, tmp_path):
    """offtarget samples models/lab/sft with the log's settings; the lm-eval log of the same
    checkpoint must then differ by nothing beyond sampling noise."""
    res = _audit(tmp_path / "null", f"direct={ROOT / 'models/lab/sft'}",
                 f"lmeval=lmeval:{logs / 'sft_samples_offtarget_arith30.jsonl'}",
                 extra=("--samples", "4", "--max-new-tokens", "16", "--temperature", "1"))
    rows = [c for p in res["probes"] for c in p["comparisons"]]
    assert len([c for c in rows if c["p_value"] is not None]) > 20
    assert [(c["probe"], c["metric"], c["group"]) for c in rows if c["flag"] != "none"] == []
    assert not any("sampling differs" in n for n in res["evidence_notes"])
    assert {c["name"]: c["n_samples"] for c in res["checkpoints"]} == {"direct": 4, "lmeval": 4}


@pytest.mark.slow
def test_attached_checkpoint_runs_model_probes(logs, tmp_path):
    res = _audit(tmp_path / "att", f"base=inspect:{logs / 'base_arith30_epochs4.eval'}@{ROOT / 'models/lab/base'}",
                 f"sft=inspect:{logs / 'sft_arith30_epochs4.eval'}@{ROOT / 'models/lab/sft'}",
                 extra=("--probes", "kl,weights,calibration,diversity"))
    probes = {p["probe"]: p for p in res["probes"]}
    assert all(p["error"] is None for p in probes.values())
    kl = [m for m in probes["kl"]["metrics"] if m["metric"] == "kl_per_token" and m["checkpoint"] == "sft"]
    assert kl and kl[0]["value"] > 0.1
    assert any(m["metric"] == "mean_token_entropy" for m in probes["diversity"]["metrics"])
    assert any(m["metric"] == "brier_likelihood" for m in probes["calibration"]["metrics"])
    # teacher-forced log-probs of the log's completions equal the ones Inspect logged
    log = read_log("inspect", str(logs / "sft_arith30_epochs4.eval"))
    fp = next(c["fingerprint"] for c in res["checkpoints"] if c["name"] == "sft")
    store = GenerationStore(tmp_path / "att" / "generations.sqlite")
    (key,) = [k for (k,) in store.db.execute("SELECT DISTINCT params FROM generations WHERE checkpoint=?", (fp,))]
    by = log.by_problem()
    got = store.get(fp, key, list(by), 4)
    diffs = np.concatenate([np.abs(np.array(s.logprobs[: len(r.completion)]) - np.array(r.token_logprobs, float))
                            for pid, rows in by.items() for r, s in zip(rows, got[pid])])
    store.close()
    # one char of 1199: a special token the decoded text dropped shifts the character lookup
    assert len(diffs) == 1199 and (diffs < 1e-4).mean() > 0.99


def _cli(*args: str):
    """The installed entry point (it turns OfftargetError into one line and exit 2)."""
    return subprocess.run([sys.executable, "-m", "offtarget.cli", *args], capture_output=True, text=True, check=False,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_malformed_and_missing_logs_are_one_line_cli_errors(tmp_path):
    bad = tmp_path / "samples_x.jsonl"
    bad.write_text('{"doc_id": 0}\n')
    missing = tmp_path / "none.eval"
    for spec, message in ((f"lmeval:{bad}", "not an lm-eval samples record"), (f"inspect:{missing}", "file not found")):
        r = _cli("audit", "--model", f"a={spec}", "--model", f"b={spec}", *SUITE, "--out", str(tmp_path / "o"))
        assert r.returncode == 2, r.stderr
        assert message in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "results.json").exists()


@pytest.mark.parametrize("body, message", [('{"doc_id": 0}\n', "not an lm-eval samples record"),
                                           (None, "file not found")])
def test_bad_log_raises_offtarget_error_before_writing(tmp_path, body, message):
    log = tmp_path / "samples_x.jsonl"
    if body is not None:
        log.write_text(body)
    result = CliRunner().invoke(app, ["audit", "--model", f"a=lmeval:{log}", *SUITE, "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, OfftargetError) and message in str(result.exception)
    assert "\n" not in str(result.exception)
    assert not (tmp_path / "o" / "results.json").exists()
