"""The plasticity probe: loss, drop and area by hand on a bigram table, the same seed giving the same
numbers, and the real CLI on the lab's models (kl beside it, the report, opt-in under ``all``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from offtarget.errors import OfftargetError
from offtarget.probes.plasticity import (
    PlasticityOptions,
    curve_summary,
    finetune,
    held_out,
    run,
    token_losses,
)
from offtarget.probes.registry import select
from offtarget.tasks import ArithmeticTask

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "models" / "lab"


class Bigram(torch.nn.Module):
    """logits at a position = row ``table[token]`` (the token read there): losses follow by hand."""

    def __init__(self, rows):
        super().__init__()
        self.table = torch.nn.Parameter(torch.tensor(rows, dtype=torch.float64).log())

    @property
    def device(self):
        return self.table.device

    def forward(self, input_ids, attention_mask=None, use_cache=False):
        return type("Out", (), {"logits": self.table[input_ids]})()


ROWS = [[0.5, 0.25, 0.25], [0.25, 0.25, 0.5], [1 / 3, 1 / 3, 1 / 3]]


def test_token_losses_read_the_position_before_each_completion_token():
    # prompt [0], completion [1, 2]: -log p(1|0) = log 4, -log p(2|1) = log 2; the second pair is
    # shorter (right padding) and its prompt ends in token 2: -log p(0|2) = log 3
    losses = token_losses(Bigram(ROWS), [([2, 0], [1, 2]), ([2], [0])], pad_id=2)
    np.testing.assert_allclose(losses[0].detach(), [math.log(4), math.log(2)])
    np.testing.assert_allclose(losses[1].detach(), [math.log(3)])


def test_curve_summary_by_hand():
    # two problems, measured at steps 0, 2, 4
    s = curve_summary(np.array([[2.0, 1.0], [1.0, 1.0], [0.5, 1.0]]), [0, 2, 4])
    np.testing.assert_allclose(s["initial"], [2.0, 1.0])
    np.testing.assert_allclose(s["final"], [0.5, 1.0])
    np.testing.assert_allclose(s["drop"], [1.5, 0.0])
    np.testing.assert_allclose(s["auc"], [(1.5 * 2 + 0.75 * 2) / 4, 1.0])  # trapezoids / 4 steps


def test_one_step_of_full_finetuning_by_hand():
    # train on "0 -> 1": the gradient of row 0 is softmax − onehot(1) = (0.5, −0.75, 0.25), and
    # AdamW's first step moves each entry by lr against the gradient's sign (m̂/√v̂ = sign g)
    opts = PlasticityOptions(steps=1, lr=0.1, rank=0, batch=1, eval_every=1)
    losses, steps, train_loss, _ = finetune(Bigram(ROWS), [([0], [1])], [([0], [1]), ([1], [2])], opts, 0, 2)
    row0 = np.log([0.5, 0.25, 0.25]) + 0.1 * np.array([-1, 1, -1])
    after = -(row0[1] - np.log(np.exp(row0).sum()))
    assert steps == [0, 1] and train_loss == pytest.approx([math.log(4)])
    np.testing.assert_allclose(losses[0], [math.log(4), math.log(2)])
    np.testing.assert_allclose(losses[1], [after, math.log(2)], rtol=1e-6)  # row 1 untouched
    s = curve_summary(losses, steps)
    np.testing.assert_allclose(s["drop"], [math.log(4) - after, 0.0], rtol=1e-5)
    assert s["drop"][0] > 0


def test_options_are_checked():
    assert PlasticityOptions.parse({"steps": "8", "lr": "1e-3", "accuracy": "false"}) == PlasticityOptions(
        steps=8, lr=1e-3, accuracy=False)
    with pytest.raises(OfftargetError, match="--plasticity stepz: unknown option"):
        PlasticityOptions.parse({"stepz": 3})
    with pytest.raises(OfftargetError, match="--plasticity eval=2: must be at least 5"):
        PlasticityOptions.parse({"eval": 2})
    with pytest.raises(OfftargetError, match="--plasticity lr=fast: expected float"):
        PlasticityOptions.parse({"lr": "fast"})


def test_held_out_items_are_disjoint_answerable_and_correct():
    task = ArithmeticTask()
    train, evaluation, where = held_out(task, PlasticityOptions(examples=10, eval=6), seed=0)
    assert len(train) == 10 and len(evaluation) == 6 and "'ood'" in where
    assert not {it.problem.id for it in train} & {it.problem.id for it in evaluation}
    assert all(it.problem.split == "ood" and task.verify(it.problem, it.completion).correct
               for it in train + evaluation)


def test_a_data_file_is_the_held_out_task(tmp_path):
    f = tmp_path / "task.jsonl"
    f.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f"d {i + 1}"}) + "\n" for i in range(8)))
    train, evaluation, _ = held_out(None, PlasticityOptions(examples=2, eval=5, data=str(f)), seed=0)
    assert len(train) == 2 and len(evaluation) == 5
    with pytest.raises(OfftargetError, match="need at least eval \\+ 1"):
        held_out(None, PlasticityOptions(eval=8, data=str(f)), seed=0)


def test_opt_in_only():
    assert "plasticity" not in [p.name for p in select(("all",))]
    assert "plasticity" in [p.name for p in select(("all", "plasticity"))]


def test_same_seed_same_numbers(kit):
    problems = [kit.answerable(10 + i, 20 + i) for i in range(5)]
    evs = [kit.evidence(n, problems, [["d 1"]] * 5, path=str(LAB / n)) for n in ("base", "sft")]
    options = {"steps": 3, "examples": 6, "eval": 5, "eval_every": 1, "accuracy": False}
    a, b = (run(kit.context(*evs, bootstrap=50, plasticity=options)) for _ in range(2))
    values = [(m.metric, m.group, m.checkpoint, m.value) for m in a.metrics]
    assert values == [(m.metric, m.group, m.checkpoint, m.value) for m in b.metrics]
    assert a.extras["loss_curve"] == b.extras["loss_curve"]
    assert kit.value(a, "plasticity_final_loss", "ood", "sft") > 0
    assert "did not run" in " ".join(a.notes)  # no kl result in this context


def test_audit_cli_on_the_lab_models(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    proc = subprocess.run(
        [sys.executable, "-m", "offtarget.cli", "audit", "--model", f"base={LAB / 'base'}",
         "--model", f"sft={LAB / 'sft'}", "--suite", "arithmetic", "--probes", "kl,plasticity",
         "--problems", "5", "--samples", "2", "--bootstrap", "100", "--out", str(out),
         "--plasticity", "steps=8", "--plasticity", "eval=10"],
        check=False, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    p = next(p for p in results["probes"] if p["probe"] == "plasticity")
    assert p["error"] is None and p["extras"]["options"]["steps"] == 8
    rows = {(m["metric"], m["group"], m["checkpoint"]): m for m in p["metrics"]}
    for name in ("base", "sft"):
        r = {k: rows[f"plasticity_{k}", "ood", name]["value"] for k in ("initial_loss", "final_loss", "loss_drop")}
        assert r["loss_drop"] == pytest.approx(r["initial_loss"] - r["final_loss"])
        assert rows["plasticity_accuracy", "ood", name]["n"] == 10
    comps = {c["metric"] for c in p["comparisons"] if c["group"] == "ood" and c["checkpoint"] == "sft"}
    assert {"plasticity_final_loss", "plasticity_loss_drop", "plasticity_accuracy"} <= comps
    kl = next(q for q in results["probes"] if q["probe"] == "kl")
    assert p["extras"]["beside_kl"]["sft"]["kl_per_token"] == kl["extras"]["overall"]["sft"]["kl_per_token_pooled"] > 0
    assert results["costs"]["probe:plasticity"] > 0
    report = (out / "report.md").read_text()
    assert "## plasticity" in report and "plasticity_final_loss" in report and "beside KL per token" in report
