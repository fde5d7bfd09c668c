"""The side-effect monitor: metrics against hand-worked values, guard verdicts, and a real degrading run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offtarget.train.config import MonitorOptions
from offtarget.train.monitor import GUARDS, check_guards, compute_metrics

FORMATS = ("direct", "reversed", "steps")
SFT = Path(__file__).resolve().parents[2] / "models" / "lab" / "sft"


def rec(split="test", answerable=True, correct=False, abstained=False, fmt="direct", confidence=None, entropy=0.0):
    return {"split": split, "answerable": answerable, "correct": correct, "abstained": abstained, "format": fmt,
            "confidence": confidence, "entropy": entropy}


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
    m = compute_metrics(samples, kl=(3.0, 12), formats=FORMATS)
    assert m.id_accuracy == 0.5  # 2 of the 4 answerable test samples
    assert m.ood_accuracy == pytest.approx(1 / 3)
    assert m.entropy == pytest.approx((0.1 + 0.3 + 0.5 + 0.7 + 0.4) / 5)  # in-distribution samples only
    # ECE, 10 bins over the 4 answered test samples (missing confidence = 0):
    # bin 9: q .95,.95 acc 1 → 2·0.05; bin 3: q .35 acc 0 → 0.35; bin 0: q 0 acc 0 → 0
    assert m.ece == pytest.approx((2 * 0.05 + 0.35) / 4)
    assert (m.dominant_format, m.dominant_format_share) == ("direct", pytest.approx(2 / 3))
    assert m.abstention_rate == 0.5  # one of the two unanswerable samples abstained
    assert m.over_abstention == 0.0 and m.malformed_rate == 0.25
    assert m.kl == 0.25 and m.n_samples == 9


def test_metrics_empty_parts_are_none():
    m = compute_metrics([rec(answerable=False, abstained=True, fmt="abstain")], kl=(0.0, 0), formats=FORMATS)
    assert m.id_accuracy is None and m.ece is None and m.dominant_format_share is None and m.kl is None
    assert m.abstention_rate == 1.0


def test_guards_floor_ceiling_and_baseline_drop():
    base = compute_metrics([rec(split="ood", correct=True), rec(correct=True, entropy=0.5)], (0.0, 1), FORMATS)
    now = compute_metrics([rec(split="ood", correct=False), rec(correct=True, entropy=0.05)], (0.4, 1), FORMATS)
    opts = MonitorOptions(entropy_min=0.1, kl_max=0.5, ood_accuracy_drop_max=0.5, dominant_format_max=1.0)
    verdict = {g.name: g for g in check_guards(now, opts, base)}
    assert set(verdict) == {"entropy_min", "kl_max", "ood_accuracy_drop_max", "dominant_format_max"}
    assert not verdict["entropy_min"].ok and verdict["entropy_min"].value == pytest.approx(0.05)
    assert verdict["kl_max"].ok and verdict["kl_max"].value == pytest.approx(0.4)
    assert not verdict["ood_accuracy_drop_max"].ok and verdict["ood_accuracy_drop_max"].value == 1.0
    assert verdict["dominant_format_max"].ok  # the threshold itself is allowed
    assert check_guards(now, MonitorOptions(), base) == []  # no thresholds, no guards


def test_unmeasurable_values_pass():
    m = compute_metrics([rec(answerable=False, abstained=True, fmt="abstain")], (0.0, 0), FORMATS)
    res = check_guards(m, MonitorOptions(ece_max=0.1, kl_max=0.1), None)
    assert all(g.ok and g.value is None for g in res)


def test_every_guard_option_exists():
    for name in GUARDS:
        assert hasattr(MonitorOptions(), name) and getattr(MonitorOptions(), name) is None


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
    assert rows[0]["baseline"] and rows[0]["kl"] == pytest.approx(0.0, abs=1e-6) and rows[0]["failed"] == []
    warned = [r for r in rows if r["decision"] == "warn"]
    assert warned and all("kl_max" in r["failed"] for r in warned)
    assert summary["steps"] == 12 and not summary["stopped_early"]  # warn never stops

    out, rows, summary = _train(tmp_path, "restore", "--kl-max", "0.05", "--guard-action", "restore")
    trip = next(r for r in rows if r["decision"] == "restore")
    assert summary["steps"] == trip["step"] < 12 and summary["stopped_early"]
    assert rows[-1] is trip  # nothing ran after the stop
    best = json.loads((out / "best" / "offtarget_best.json").read_text())
    passing = [r for r in rows if not r["failed"]]
    assert best["step"] == max(passing, key=lambda r: r["id_accuracy"])["step"]
    assert summary["restored_from_step"] == best["step"]
    meta = json.loads((out / "final" / "offtarget_train.json").read_text())
    assert meta["restored_from_step"] == best["step"]
    assert (out / "final" / "model.safetensors").read_bytes() == (out / "best" / "model.safetensors").read_bytes()
