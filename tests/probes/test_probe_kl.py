"""The kl (and weights) probes end to end through the real CLI on the committed lab models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from offtarget.cli import app
from offtarget.probes.kl import kl_arrays

ROOT = Path(__file__).resolve().parents[2]
BASE, SFT = ROOT / "models/lab/base", ROOT / "models/lab/sft"


def test_kl_arrays_pool_tokens_within_a_problem():
    token_kl = [torch.tensor([1.0, 3.0]), torch.tensor([2.0]), torch.tensor([0.5, 0.5, 0.5, 0.5])]
    a = kl_arrays(token_kl, owner=[0, 0, 1], n_problems=3)
    np.testing.assert_allclose(a.per_token, [6 / 3, 0.5, 0.0])  # token-pooled, not a mean of sample means
    np.testing.assert_allclose(a.sequence, [(4 + 2) / 2, 2.0, 0.0])
    np.testing.assert_allclose(a.tokens, [3, 4, 0])


@pytest.mark.slow
def test_kl_is_zero_for_the_reference_and_positive_for_sft(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "audit", "--model", f"base={BASE}", "--model", f"same={BASE}", "--model", f"sft={SFT}",
        "--out", str(out), "--problems", "10", "--samples", "2", "--probes", "kl,weights", "--bootstrap", "200",
    ])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    probes = {p["probe"]: p for p in results["probes"]}
    kl = probes["kl"]
    assert kl["error"] is None
    rows = {(m["metric"], m["group"], m["checkpoint"]): m for m in kl["metrics"]}
    for group in ("test", "ood"):
        for name in ("base", "same"):  # the reference, and the same weights under another name: exactly 0
            assert rows["kl_per_token", group, name]["value"] == 0.0
            assert rows["kl_sequence", group, name]["value"] == 0.0
        sft = rows["kl_per_token", group, "sft"]
        assert sft["value"] > 0 and sft["low"] > 0 and sft["higher_is_better"] is None
        assert kl["plots"]["kl_by_group"][group]["sft"]["value"] == sft["value"]
    comps = [c for c in kl["comparisons"] if c["metric"] == "kl_per_token" and c["group"] == "test"]
    assert {c["checkpoint"] for c in comps} == {"same", "sft"}  # never the reference against itself
    assert all(c["flag"] == "none" for c in kl["comparisons"])
    assert kl["extras"]["samples_per_problem"] == 2 and kl["extras"]["sequences"] == 20 * 2

    w = probes["weights"]
    assert w["error"] is None and w["comparisons"] == []
    wrows = {(m["metric"], m["checkpoint"]): m["value"] for m in w["metrics"]}
    assert wrows["update_sparsity_bf16", "same"] == 1.0 and wrows["relative_change", "same"] == 0.0
    assert wrows["relative_change", "sft"] > 0 and wrows["update_sparsity_bf16", "sft"] < 1
    assert len(w["plots"]["layer_change"]["sft"]) == 38
