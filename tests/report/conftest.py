"""Fixtures for the report tests: a results dict with every section and plot kind the report draws.

Built with the real audit code: probe rows are the real dataclasses (:mod:`offtarget.probes.base`)
and the headline/routing come from :func:`offtarget.audit.compare.finalize`, so flags follow the
real Holm + interval rule: ``rl`` gains accuracy in distribution and regresses on ECE (p tiny,
interval above zero), token entropy, dominant format share and OOD accuracy; ``sft`` changes
nothing significantly. Every example completion and one preflight row carry ``SCRIPT``.

(Everything lives here rather than in a helper module: pytest 9's default import mode does not
put this directory on sys.path.)
"""

from __future__ import annotations

import copy

import pytest

from offtarget.audit.compare import finalize
from offtarget.probes.base import ComparisonRow, MetricRow, ProbeResult

NAMES = ("base", "sft", "rl")
SCRIPT = "<script>alert(1)</script>"


def _metric(probe, metric, hib, target, values, group="test"):
    rows = [MetricRow(probe, metric, n, group, v, v - 0.03, v + 0.03, 100, hib, target) for n, v in zip(NAMES, values)]
    comps = []
    for n, v in zip(NAMES[1:], values[1:]):
        d = v - values[0]
        big = abs(d) > 0.05
        comps.append(ComparisonRow(probe, metric, group, n, "base", values[0], v, d, d - 0.02, d + 0.02,
                                   1e-9 if big else 0.6, 100, "paired_bootstrap_z", hib, target))
    return rows, comps


def _probe(name, specs, **kw):
    metrics, comps = [], []
    for spec in specs:
        m, c = _metric(name, *spec)
        metrics += m
        comps += c
    return ProbeResult(name, f"{name} probe", f"source of {name}", metrics, comps, **kw)


def _curve(scale):
    return [{"k": k, "value": min(1, scale * k ** 0.3), "low": min(1, scale * k ** 0.3) - 0.05,
             "high": min(1, scale * k ** 0.3 + 0.05)} for k in range(1, 9)]


def _bins(shift):
    return [{"low": i / 10, "high": (i + 1) / 10, "count": 5 + i, "mean_confidence": i / 10 + 0.05,
             "accuracy": max(0.0, i / 10 + 0.05 - shift)} for i in range(10)]


def build_results() -> dict:
    """A fresh, fully populated results dict (as ``run_audit`` would write it)."""
    probes = [
        _probe("accuracy", [("accuracy", True, True, (0.60, 0.62, 0.80)),
                            ("accuracy", True, False, (0.50, 0.50, 0.40), "ood"),
                            ("accuracy", True, True, (0.55, 0.56, 0.78), "test/carries=1")]),
        _probe("passk", [("pass@8", True, False, (0.90, 0.90, 0.88))],
               plots={"passk_curves": {"test": {n: _curve(s) for n, s in zip(NAMES, (0.5, 0.52, 0.7))}}},
               extras={"crossover_k": {"test": {"sft": None, "rl": 6}}, "n": 8},
               notes=["test: the reference overtakes rl at k = 6"]),
        _probe("calibration", [("ece_verbalized", False, False, (0.05, 0.06, 0.20)),
                               ("brier_verbalized", False, False, (0.20, 0.20, 0.21))],
               plots={"reliability": {"test": {n: _bins(s) for n, s in zip(NAMES, (0.0, 0.02, 0.2))}},
                      "reliability_likelihood": {"test": {n: _bins(s) for n, s in zip(NAMES, (0.1, 0.1, 0.3))}}}),
        _probe("diversity", [("mean_token_entropy", True, False, (0.9, 0.88, 0.3))],
               plots={"entropy_hist": {"test": {n: {"edges": [0, 0.5, 1, 1.5, 2], "counts": c}
                                                for n, c in zip(NAMES, ([1, 4, 6, 2], [1, 5, 5, 2], [9, 3, 1, 0]))}}}),
        _probe("formats", [("dominant_format_share", False, False, (0.4, 0.42, 0.95))],
               plots={"format_shares": {"test": {"base": {"direct": 0.4, "steps": 0.35, "reversed": 0.25},
                                                 "sft": {"direct": 0.42, "steps": 0.33, "reversed": 0.25},
                                                 "rl": {"direct": 0.95, "steps": 0.05}}}}),
        _probe("ood", [("transfer_ratio", True, False, (1.0, 1.0, 1.0))],
               plots={"id_ood": {n: {"test": {"value": a, "low": a - 0.03, "high": a + 0.03},
                                     "ood": {"value": b, "low": b - 0.04, "high": b + 0.04}}
                                 for n, a, b in zip(NAMES, (0.6, 0.62, 0.8), (0.5, 0.5, 0.4))}}),
        _probe("kl", [("kl_per_token", False, False, (0.0, 0.01, 0.02))],
               plots={"kl_by_group": {g: {n: {"value": v, "low": v * 0.8, "high": v * 1.2}
                                          for n, v in zip(NAMES[1:], (0.01, 0.2))} for g in ("test", "ood")}}),
        _probe("weights", [],
               plots={"layer_change": {n: [{"tensor": f"model.layers.{i}.self_attn.{t}.weight", "layer": i,
                                            "relative_change": 0.01 * (i + 1) * s, "sparsity_bf16": 0.3 + 0.1 * i,
                                            "rank_ratio": 0.9, "effective_rank": 50.0, "stable_rank": 5.0}
                                           for i in range(4) for t in ("q_proj", "v_proj")]
                                       + [{"tensor": "model.embed_tokens.weight", "layer": None,
                                           "relative_change": 0.02, "sparsity_bf16": 0.5, "rank_ratio": 1.0,
                                           "effective_rank": 10.0, "stable_rank": 2.0}]
                                       for n, s in (("sft", 1.0), ("rl", 0.5))}}),
        ProbeResult("faithfulness", "faithfulness probe", "Lanham et al. 2023", error="needs a steps format; none found"),
    ]
    verdicts = finalize(probes, list(NAMES), "base", 0.05)
    results = {
        "schema_version": 1,
        "kind": "audit",
        "offtarget_version": "0.1.0",
        "created": "2026-01-01T00:00:00+00:00",
        "command": "offtarget audit --model base=A --model sft=B --model rl=C",
        "platform": "test",
        "config": {"models": {n: f"models/{n}" for n in NAMES}, "samples": 8, "problems": 100,
                   "splits": ["test", "ood"], "reference": None},
        "task": "arithmetic",
        "reference": "base",
        "checkpoints": [{"name": n, "path": f"models/{n}", "fingerprint": f"{i:016x}", "architecture": "LlamaForCausalLM",
                         "layers": 4, "hidden": 128, "generated": 0, "sampling_seconds": 1.0, "n_problems": 200,
                         "n_samples": 8} for i, n in enumerate(NAMES)],
        "costs": {"sampling_seconds": 3.0, **{f"probe:{p.probe}": 0.1 for p in probes}},
        "probes": [p.to_dict() for p in probes],
        "examples": {n: [{"problem": "test/x/1+1", "group": "test/carries=0", "prompt": "1+1=", "answer": "2",
                          "completion": f"d 2 {SCRIPT}", "correct": False, "format": "direct",
                          "confidence": 0.9, "abstained": False},
                         {"problem": "test/u/1+k", "group": "test/unanswerable", "prompt": "1+k=", "answer": None,
                          "completion": "?", "correct": False, "format": None, "confidence": None,
                          "abstained": True}] for n in NAMES},
        "claims": [
            {"claim": "RL narrows pass@k", "source": "arXiv 2504.13837", "comparison": "rl vs base, pass@8",
             "effect": -0.02, "low": -0.04, "high": 0.0, "verdict": "not reproduced", "notes": ["tiny model"]},
            {"claim": "Brier term restores calibration", "source": "arXiv 2507.16806", "comparison": "rlcr vs rl",
             "effect": -0.1, "low": -0.15, "high": -0.05, "verdict": "reproduced", "notes": "ECE"},
        ],
        "preflight": {
            "foothold": {"title": "Foothold: per-prompt pass rates", "verdict": "foothold",
                         "rows": [{"bucket": "p = 0", "prompts": 12}, {"bucket": "0 < p < 1", "prompts": 70},
                                  {"bucket": "p = 1", "prompts": 18}],
                         "plot": {"kind": "hist", "edges": [0, 0.25, 0.5, 0.75, 1.0], "counts": [12, 20, 30, 38],
                                  "xlabel": "pass rate", "title": "pass-rate histogram"}},
            "red_team": {"title": "Reward red-team", "verdict": "hackable", "level": "bad",
                         "rows": [{"attack": "answer twice", "reward": 1.0, "completion": SCRIPT}],
                         "notes": ["the verifier accepted a doubled answer"]},
        },
        **verdicts,
    }
    return copy.deepcopy(results)



@pytest.fixture
def results() -> dict:
    """A fully populated three-checkpoint results dict; ``rl`` has flagged regressions."""
    return build_results()


@pytest.fixture(scope="session")
def make_results():
    """The builder itself, for tests that need several fresh copies or a module-scoped render."""
    return build_results
