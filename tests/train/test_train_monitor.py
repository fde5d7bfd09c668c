"""The side-effect monitor: metrics against hand-worked values, guard verdicts, and a real degrading run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offtarget.metrics.two_phase import load_patterns, sample_phase_means
from offtarget.train.config import MonitorOptions
from offtarget.train.monitor import FIELDS, GUARDS, MonitorMetrics, check_guards, compute_metrics
from offtarget.train.monitor.metrics import PHASE_KEYS

FORMATS = ("direct", "reversed", "steps")
SFT = Path(__file__).resolve().parents[2] / "models" / "lab" / "sft"


def rec(split="test", answerable=True, correct=False, abstained=False, fmt="direct", confidence=None, entropy=0.0,
        **extra):
    return {"split": split, "answerable": answerable, "correct": correct, "abstained": abstained, "format": fmt,
            "confidence": confidence, "entropy": entropy, **extra}


def test_metrics_hand_worked():
    samples = [
        rec(correct=True, confidence=0.95, entropy=0.1),
        rec(correct=True, confidence=0.95, fmt="reversed", entropy=0.3),
        rec(correct=False, confidence=0.35, entropy=0.5),
        rec(correct=False, fmt="malformed", entropy=0.7),
        rec(answerable=False, abstained=True, fmt="abstain", entropy=0.4),
        rec(split="ood", correct=True, confidence=0.9, entropy=9.0),
        rec(split="ood", correct=False, confidence=0.9, entropy=9.0),
        rec(split="ood", correct=False, confidence=0.9, entropy=9.0),
        rec(split="ood", answerable=False, abstained=False, fmt="direct", entropy=9.0),
    ]
    m = compute_metrics(samples, kl=[("a", 3.0, 12), ("b", 1.0, 2)], formats=FORMATS)
    assert m.accuracy == 0.5  # 2 of the 4 answerable test samples
    assert m.ood_accuracy == pytest.approx(1 / 3)
    assert m.mean_token_entropy == pytest.approx((0.1 + 0.3 + 0.5 + 0.7) / 4)  # answerable test problems only
    # ECE, 10 bins over the 3 test samples that did not abstain and state a confidence (a missing one is
    # left out, as in the audit): bin 9: q .95,.95 acc 1 → 2·0.05; bin 3: q .35 acc 0 → 0.35
    assert m.ece_verbalized == pytest.approx((2 * 0.05 + 0.35) / 3)
    assert m.brier_verbalized == pytest.approx((0.05**2 * 2 + 0.35**2) / 3)
    assert (m.dominant_format, m.dominant_format_share) == ("direct", pytest.approx(2 / 3))
    assert m.abstention_recall == 1.0  # the test split's one unanswerable sample abstained (ood is not pooled)
    assert m.over_refusal_rate == 0.0 and m.malformed_share == pytest.approx(1 / 5)  # over all 5 test samples
    assert m.kl_per_token == pytest.approx((3 / 12 + 1 / 2) / 2)  # per problem, then the mean over problems
    assert m.n_samples == 9


def test_entropy_is_a_mean_over_problems():
    samples = [rec(entropy=0.1, problem="p1"), rec(entropy=0.3, problem="p1"), rec(entropy=0.8, problem="p2")]
    assert compute_metrics(samples, [], FORMATS).mean_token_entropy == pytest.approx((0.2 + 0.8) / 2)


def test_two_phase_entropy_per_sample_then_problem_then_mean():
    nan = float("nan")
    samples = [
        rec(problem="p1", planning_entropy=2.0, execution_entropy=0.5, planning_share=0.2),
        rec(problem="p1", planning_entropy=nan, execution_entropy=1.0, planning_share=0.0),  # no planning token
        rec(problem="p2", planning_entropy=1.0, execution_entropy=0.25, planning_share=0.5),
        rec(problem="u", answerable=False, planning_entropy=9.0, execution_entropy=9.0, planning_share=1.0),
        rec(problem="o", split="ood", planning_entropy=9.0, execution_entropy=9.0, planning_share=1.0),
    ]
    m = compute_metrics(samples, [], FORMATS)
    # p1: planning 2.0 (the NaN left out), execution (0.5 + 1.0) / 2, share (0.2 + 0) / 2; p2 as it is;
    # then the mean over the two answerable test problems (unanswerable and ood records left out)
    assert m.planning_token_entropy == pytest.approx((2.0 + 1.0) / 2)
    assert m.execution_token_entropy == pytest.approx((0.75 + 0.25) / 2)
    assert m.planning_token_share == pytest.approx((0.1 + 0.5) / 2)
    assert {"planning_token_entropy", "execution_token_entropy", "planning_token_share"} <= set(m.numeric())
    bare = compute_metrics([rec(problem="p1")], [], FORMATS)  # records without token classes
    assert bare.planning_token_entropy is None and bare.execution_token_entropy is None


def test_monitor_sample_phases_by_hand():
    # "so 3+4=7": s, o planning ("so" is a planning phrase), 3 + 4 = 7 execution, the space neither
    ids = [ord(c) for c in "so 3+4=7"]
    ent = [1.0, 3.0, 9.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    plan, execute, share = sample_phase_means(ids, ent, CharTokenizer(), load_patterns())
    assert (plan, execute, share) == (pytest.approx(2.0), pytest.approx(0.3), pytest.approx(2 / 8))


def test_metrics_empty_parts_are_none():
    m = compute_metrics([rec(answerable=False, abstained=True, fmt="abstain")], kl=[], formats=FORMATS)
    assert m.accuracy is None and m.ece_verbalized is None and m.dominant_format_share is None
    assert m.kl_per_token is None and m.abstention_recall == 1.0


def test_guards_floor_ceiling_and_baseline_drop():
    base = compute_metrics([rec(split="ood", correct=True), rec(correct=True, entropy=0.5)], [("a", 0.0, 1)], FORMATS)
    now = compute_metrics([rec(split="ood", correct=False), rec(correct=True, entropy=0.05)], [("a", 0.4, 1)],
                          FORMATS)
    opts = MonitorOptions(entropy_min=0.1, kl_max=0.5, ood_accuracy_drop_max=0.5, dominant_format_max=1.0)
    verdict = {g.name: g for g in check_guards(now, opts, base)}
    assert set(verdict) == {"entropy_min", "kl_max", "ood_accuracy_drop_max", "dominant_format_max"}
    assert not verdict["entropy_min"].ok and verdict["entropy_min"].value == pytest.approx(0.05)
    assert verdict["kl_max"].ok and verdict["kl_max"].value == pytest.approx(0.4)
    assert not verdict["ood_accuracy_drop_max"].ok and verdict["ood_accuracy_drop_max"].value == 1.0
    assert verdict["dominant_format_max"].ok  # the threshold itself is allowed
    assert check_guards(now, MonitorOptions(), base) == []  # no thresholds, no guards


def test_unmeasurable_values_pass():
    m = compute_metrics([rec(answerable=False, abstained=True, fmt="abstain")], [], FORMATS)
    res = check_guards(m, MonitorOptions(ece_max=0.1, kl_max=0.1), None)
    assert all(g.ok and g.value is None for g in res)


def test_every_guard_option_exists_and_watches_a_catalogue_metric():
    from offtarget.metrics import get

    for name, (field, _) in GUARDS.items():
        assert hasattr(MonitorOptions(), name) and getattr(MonitorOptions(), name) is None
        assert field == "ood_accuracy_drop" or field in FIELDS
    for field, (metric, group) in FIELDS.items():
        assert get(metric).name == metric and group in ("test", "ood"), field
    assert set(FIELDS) == set(MonitorMetrics.__dataclass_fields__) - {"dominant_format", "n_samples"}


# ---------------------------------------------------------------------------------------------
# The same numbers as the audit's probes on the same verdicts


class CharTokenizer:
    """One token per character (token id = code point)."""

    def batch_decode(self, rows):
        return ["".join(chr(t) for t in r) for r in rows]


def _evidence_and_records(seed=0, n=4):
    """Random verdicts on test (answerable + unanswerable) and ood problems, as audit Evidence and as
    monitor records."""
    import numpy as np

    from offtarget.audit.evidence import Evidence
    from offtarget.store.generations import StoredSample
    from offtarget.tasks.problem import Problem, Verdict

    rng = np.random.default_rng(seed)
    problems = ([Problem(f"t{i}", f"{i}+1=", str(i + 1), "test", "carries=0") for i in range(14)]
                + [Problem(f"u{i}", f"{i}+k=", None, "test", "unanswerable", should_abstain=True) for i in range(7)]
                + [Problem(f"o{i}", f"{i} + 1 =", str(i + 1), "ood", "surface") for i in range(9)])
    samples, verdicts, records = [], [], []
    for p in problems:
        srow, vrow = [], []
        for j in range(n):
            kind = rng.choice(["direct", "reversed", "steps", "abstain", "malformed"], p=[.4, .2, .15, .15, .1])
            abstained = kind == "abstain"
            correct = bool(kind not in ("abstain", "malformed") and not p.should_abstain and rng.random() < 0.6)
            conf = None if kind == "malformed" or rng.random() < 0.2 else float(rng.integers(0, 11) / 10)
            v = Verdict(None if kind in ("abstain", "malformed") else "7", correct, abstained, kind, conf)
            text = str(rng.choice(["so 3+4=7", "wait, 12", "x", "check: 5"]))
            ids = [ord(c) for c in text]
            ent = [float(x) for x in rng.random(len(ids))]
            srow.append(StoredSample(text=text, token_ids=ids, logprobs=[0.0] * len(ent), entropies=ent,
                                     finish_reason="stop", problem_id=p.id, sample_index=j))
            vrow.append(v)
            phases = sample_phase_means(ids, ent, CharTokenizer(), load_patterns())  # as the callback does
            records.append({"problem": p.id, "split": p.split, "answerable": not p.should_abstain,
                            "correct": v.correct, "abstained": v.abstained, "format": v.format,
                            "confidence": v.confidence, "entropy": sum(ent) / len(ent),
                            **dict(zip(PHASE_KEYS, phases))})
        samples.append(srow)
        verdicts.append(vrow)
    return Evidence("m", "", "fp", problems, samples, verdicts), records


def test_monitor_metrics_equal_the_audit_probes_on_the_same_verdicts():
    from offtarget.probes import abstention, accuracy, calibration, diversity, formats, two_phase_entropy
    from offtarget.probes.base import evaluate, spec_of

    ev, records = _evidence_and_records()
    phases = two_phase_entropy.per_problem(ev, CharTokenizer(), load_patterns())
    specs = (accuracy.SPECS[:1] + diversity.SPECS[:1] + calibration.specs("verbalized")
             + formats.specs(list(FORMATS)) + abstention.SPECS
             + [spec_of(name, lambda ev, j=j: (phases[:, j],), token_level=True)
                for j, name in enumerate(two_phase_entropy.PHASE_METRICS)])
    rows, _ = evaluate("all", specs, {"m": ev}, "m", n_resamples=20)
    audit = {(r.metric, r.group): r.value for r in rows}
    m = compute_metrics(records, [], FORMATS)
    checked = 0
    for field, key in FIELDS.items():
        if field == "kl_per_token":
            continue
        assert key in audit, key
        assert getattr(m, field) == pytest.approx(audit[key], abs=1e-12), (field, key)
        checked += 1
    assert checked == len(FIELDS) - 1


def test_monitor_kl_equals_the_kl_probe_aggregation():
    import torch

    from offtarget.probes.kl import kl_arrays

    gen = torch.Generator().manual_seed(0)
    owner = [0, 0, 1, 2, 2, 2]
    token_kl = [torch.rand(int(k), generator=gen) for k in (3, 5, 1, 4, 2, 6)]
    audit = float(kl_arrays(token_kl, owner, 3).per_token.mean())
    rows = [(f"p{i}", float(k.sum()), k.numel()) for i, k in zip(owner, token_kl)]
    assert compute_metrics([], rows, FORMATS).kl_per_token == pytest.approx(audit)


def test_reference_of_another_model_is_refused_on_resume(tmp_path):
    from offtarget.errors import OfftargetError
    from offtarget.tasks import get_task
    from offtarget.train.monitor import GuardMonitor
    from offtarget.train.rundir import write_json_atomic

    mon = GuardMonitor(MonitorOptions(monitor_problems=2), get_task("arithmetic"), tmp_path)
    mon.start_fingerprint = "aaaa"
    write_json_atomic(mon.run.reference, {"kind": "monitor_reference", "version": 2, "start_fingerprint": "aaaa",
                                          "samples": [{"prompt": "1+1=", "completion_ids": [1], "logprobs": [0.0]}]})
    assert mon._load_or_make_reference(fresh=False)[0]["prompt"] == "1+1="
    mon.start_fingerprint = "bbbb"
    with pytest.raises(OfftargetError, match="another start model"):
        mon._load_or_make_reference(fresh=False)


# ---------------------------------------------------------------------------------------------
# A real run that degrades


def _train(tmp_path, name, *flags):
    from typer.testing import CliRunner

    from offtarget.cli import app

    out = tmp_path / name
    args = ["train", "grpo", "--model", str(SFT), "--out", str(out), "--no-difficulty-window",
            "--no-dynamic-sampling", "--steps", "12", "--learning-rate", "5e-3", "--monitor-every", "2",
            "--monitor-problems", "8", "--monitor-samples", "2", "--train-problems", "64", "--save-steps", "0",
            "--logging-steps", "2", "--no-progress", "--no-log-samples", *flags]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "monitor.jsonl").read_text().splitlines()]
    return out, rows, json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_monitor_warns_then_stops_and_restores_on_a_degrading_run(tmp_path):
    # lr 5e-3 (50× the default) collapses the policy within a few steps: KL to the start model
    # jumps and entropy falls. kl_max=0.05 is far above what the default lr reaches that early.
    out, rows, summary = _train(tmp_path, "warn", "--kl-max", "0.05", "--guard-action", "warn")
    assert rows[0]["baseline"] and rows[0]["kl_per_token"] == pytest.approx(0.0, abs=1e-6) and rows[0]["failed"] == []
    warned = [r for r in rows if r["decision"] == "warn"]
    assert warned and all("kl_max" in r["failed"] for r in warned)
    assert summary["steps"] == 12 and not summary["stopped_early"]  # warn never stops

    out, rows, summary = _train(tmp_path, "restore", "--kl-max", "0.05", "--guard-action", "restore")
    trip = next(r for r in rows if r["decision"] == "restore")
    assert summary["steps"] == trip["step"] < 12 and summary["stopped_early"]
    assert rows[-1] is trip  # nothing ran after the stop
    best = json.loads((out / "best" / "offtarget_best.json").read_text())
    passing = [r for r in rows if not r["failed"]]
    assert best["step"] == max(passing, key=lambda r: r["accuracy"])["step"]
    assert summary["restored_from_step"] == best["step"]
    meta = json.loads((out / "final" / "offtarget_train.json").read_text())
    assert meta["restored_from_step"] == best["step"]
    assert (out / "final" / "model.safetensors").read_bytes() == (out / "best" / "model.safetensors").read_bytes()


def test_the_monitor_is_importable_from_the_package_without_torch_at_import():
    import subprocess
    import sys

    code = ("import sys, offtarget.train as t; assert 'torch' not in sys.modules, 'torch imported'; "
            "from offtarget.train import GuardMonitor, MonitorOptions; "
            "assert GuardMonitor.__module__.startswith('offtarget.train.monitor') and MonitorOptions().monitor_every == 50")
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
