"""The benchmark harness runs end to end on tiny sizes and writes a well-formed results file.

Speed is never asserted here (that is what ``make bench`` reports); these runs only check the
plumbing: every benchmark returns ratios with finite medians, results.json is strict JSON, and a
smoke run leaves the README alone.
"""

import json
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run as bench


def _smoke(tmp_path, only: str) -> dict:
    readme = (ROOT / "README.md").read_text()
    out = tmp_path / "results.json"
    threads = torch.get_num_threads()  # the harness pins torch threads: keep the test session's
    data = bench.main(["--smoke", "--repeats", "1", "--only", only, "--lock", "", "--threads", str(threads),
                       "--out", str(out), "--work", str(tmp_path / "work")])
    assert (ROOT / "README.md").read_text() == readme
    on_disk = json.loads(out.read_text())  # strict JSON: a NaN would not parse back as equal
    assert on_disk["benchmarks"].keys() == data["benchmarks"].keys()
    assert data["kind"] == "offtarget_benchmarks" and data["schema_version"] == bench.SCHEMA_VERSION
    assert data["preset"] == "smoke" and data["repeats"] == 1
    assert data["environment"]["threads"] == threads
    names = only.split(",")
    assert list(data["benchmarks"]) == names
    for name in names:
        b = data["benchmarks"][name]
        assert b["status"] == "ok", (name, b["reason"], b["notes"])
        assert b["ratios"] and b["notes"] and b["config"]
        for r in b["ratios"]:
            assert r["repeats"] == 1 and len(r["values"]) == 1
            assert isinstance(r["median"], float) and math.isfinite(r["median"]), (name, r)
            assert r["met"] in (True, False, None)
    assert len(data["table"]) == sum(len(data["benchmarks"][n]["ratios"]) for n in names)
    return data


def test_in_process_benchmarks_smoke(tmp_path):
    data = _smoke(tmp_path, "sampling,scoring,cache")
    sampling = data["benchmarks"]["sampling"]
    assert {r["name"] for r in sampling["ratios"]} >= {"engine/naive", "engine/trl_batched"}
    assert all(v > 0 for v in sampling["measurements"]["engine"]["tokens"])
    scoring = data["benchmarks"]["scoring"]["measurements"]
    assert scoring["max_abs_recorded_minus_teacher_forced_logprob"] < 1e-3
    cache = data["benchmarks"]["cache"]["measurements"]
    assert cache["rerun_costs"]["sampling_seconds"] <= cache["first_costs"]["sampling_seconds"]
    assert cache["rerun_profile"] and "function" in cache["rerun_profile"][0]


@pytest.mark.slow
def test_subprocess_benchmarks_smoke(tmp_path):
    """GRPO with and without the monitor, and audits in subprocesses for the scaling points."""
    data = _smoke(tmp_path, "monitor,scaling")
    mon = data["benchmarks"]["monitor"]["measurements"]
    assert all(p >= 1 for p in mon["on"]["monitor_passes"])
    points = data["benchmarks"]["scaling"]["measurements"]["points"]
    assert [p["size"] for p in points] == sorted(p["size"] for p in points) and len(points) == 4
    assert all(p["peak_rss_mib_median"] > 0 for p in points)


def test_real_model_benchmark_runs_or_says_how_to_fetch_the_model(tmp_path):
    from offtarget.models.registry import model_dir

    threads = torch.get_num_threads()
    data = bench.main(["--smoke", "--repeats", "1", "--only", "real_model", "--lock", "", "--threads", str(threads),
                       "--out", str(tmp_path / "results.json"), "--work", str(tmp_path / "work")])
    b = data["benchmarks"]["real_model"]
    if not (model_dir("smollm2-135m-instruct") / "config.json").exists():
        assert b["status"] == "skipped" and "offtarget models get smollm2-135m-instruct" in b["reason"]
        return
    assert b["status"] == "ok", (b["reason"], b["notes"])
    rates = b["measurements"]["tokens_per_second"]
    assert rates["real"] > 0 and rates["toy"] > 0
    (ratio,) = b["ratios"]
    assert ratio["name"] == "real/toy" and math.isclose(ratio["median"], ratio["values"][0])
def test_stats_benchmark_smoke(tmp_path):
    data = _smoke(tmp_path, "stats")
    stats = data["benchmarks"]["stats"]
    assert {r["name"] for r in stats["ratios"]} == {"probes/sampling", "old/new"}
    m = stats["measurements"]
    assert m["real_audit_skipped"].startswith("not asked for")  # the smoke preset leaves the real model out
    assert m["costs"]["sampling_seconds"] > 0 and m["probe_stage_seconds"] > 0
    # both implementations compared every calibration comparison; bootstrap intervals are the same numbers
    assert m["p_agreement"]["comparisons"] > 0
    assert m["p_agreement"]["same_interval"] == m["p_agreement"]["comparisons"]
