"""Prescriptions that know the recipe: a checkpoint trained by ``offtarget train`` with the RLCR Brier
term is never told to add it; it is told what to change about it (weight, scaling, guard)."""

from __future__ import annotations

import json

from offtarget.config import config_to_yaml
from offtarget.report.prescriptions import by_prescription, findings
from offtarget.report.recipe import parse_rewards, training_recipe
from offtarget.train.config import GRPORunConfig


def _run_dir(root, **overrides):
    """A run directory as ``offtarget train grpo`` leaves it: config.yaml and final/offtarget_train.json."""
    cfg = GRPORunConfig(model="models/lab/sft", out=str(root), **overrides)
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(config_to_yaml(cfg))
    (root / "final").mkdir()
    (root / "final" / "config.json").write_text("{}")
    (root / "final" / "offtarget_train.json").write_text(json.dumps(
        {"kind": "offtarget_train", "version": 1, "start_model": "models/lab/sft", "steps": 4}))
    return root


def test_parse_rewards():
    assert parse_rewards(["correctness", "brier:0.5", "mymod:fn:2"]) == {"correctness": 1.0, "brier": 0.5, "fn": 2.0}


def test_recipe_is_read_from_the_model_dir_and_from_the_run_dir(tmp_path):
    run = _run_dir(tmp_path / "g1", reward=["correctness", "brier:0.5"], scale_rewards="group", ece_max=0.2)
    for path in (run / "final", run):
        recipe = training_recipe(path)
        assert recipe["rewards"] == {"correctness": 1.0, "brier": 0.5}
        assert recipe["scale_rewards"] == "group" and recipe["ece_max"] == 0.2
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    assert training_recipe(plain) is None and training_recipe(tmp_path / "missing") is None


def test_brier_trained_checkpoint_is_not_told_to_add_brier(results, tmp_path):
    run = _run_dir(tmp_path / "g1", reward=["correctness", "brier:0.5"], scale_rewards="group", ece_max=0.2)
    untouched = [f for f in findings(results) if f["checkpoint"] == "rl" and f["key"] == "calibration"]
    assert "add the RLCR Brier term" in untouched[0]["prescription"]
    next(c for c in results["checkpoints"] if c["name"] == "rl")["path"] = str(run / "final")
    rx = next(g for g in by_prescription(findings(results)) if g["checkpoint"] == "rl" and g["key"] == "calibration")
    assert "add the RLCR Brier term" not in rx["prescription"]
    assert "already trained with the RLCR Brier term (weight 0.5, group advantage scaling, ECE guard 0.2)" == rx["used"]
    assert "raise the Brier weight from 0.5 to 1" in rx["prescription"]
    assert "switch advantage scaling from group to batch" in rx["prescription"]
    assert "tighten the ECE guard from 0.2 to 0.1" in rx["prescription"]
    assert rx["command"] == ("offtarget train grpo --reward correctness --reward brier:1 --scale-rewards batch "
                             "--ece-max 0.1")


def test_recipe_stored_in_results_wins_and_reaches_the_html(results):
    from offtarget.report.html import render_html

    rl = next(c for c in results["checkpoints"] if c["name"] == "rl")
    rl["recipe"] = {"rewards": {"correctness": 1.0, "brier": 1.0}, "scale_rewards": "batch"}
    html = render_html(results)
    assert "already trained with the RLCR Brier term (weight 1, batch advantage scaling, no ECE guard)" in html
    assert "raise the Brier weight from 1 to 2" in html and "switch advantage scaling" not in html
