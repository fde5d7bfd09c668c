"""Findings: flagged regressions get the prescription their metric family calls for, nothing else does."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import offtarget.probes as probes_pkg
from offtarget.probes.base import MetricSpec
from offtarget.report.prescriptions import FALLBACK, RULES, by_prescription, findings, prescribe


def _ece_regression(flag: str = "regression") -> dict:
    """The smallest results dict with one ECE comparison."""
    comp = {"probe": "calibration", "metric": "ece_verbalized", "group": "test", "checkpoint": "rl",
            "reference": "base", "reference_value": 0.05, "value": 0.21, "diff": 0.16, "low": 0.11, "high": 0.2,
            "p_value": 1e-8, "n": 100, "test": "paired_bootstrap_z", "higher_is_better": False, "target": False,
            "p_adjusted": 1e-6, "flag": flag, "reason": None}
    return {"reference": "base", "checkpoints": [{"name": "base"}, {"name": "rl"}],
            "probes": [{"probe": "calibration", "source": "RLCR", "metrics": [], "comparisons": [comp]}]}


def test_ece_regression_gets_the_brier_prescription():
    [f] = findings(_ece_regression())
    assert f["key"] == "calibration"
    assert "--reward brier" in f["command"] and "2507.16806" in f["source"]
    assert (f["checkpoint"], f["metric"], f["group"]) == ("rl", "ece_verbalized", "test")
    assert (f["diff"], f["low"], f["high"], f["p_adjusted"]) == (0.16, 0.11, 0.2, 1e-6)


@pytest.mark.parametrize("flag", ["none", "gain"])
def test_no_regression_flag_no_finding(flag):
    assert findings(_ece_regression(flag)) == []


def test_fixture_without_flags_has_no_findings(results):
    for p in results["probes"]:
        for c in p["comparisons"]:
            c["flag"] = "none"
    assert findings(results) == []


def test_errored_probe_contributes_nothing():
    r = _ece_regression()
    r["probes"][0]["error"] = "no confidence"
    assert findings(r) == []


def test_fixture_findings_group_by_prescription(results):
    found = findings(results)
    assert {(f["checkpoint"], f["key"]) for f in found} == {
        ("rl", "ood_transfer"), ("rl", "calibration"), ("rl", "format_collapse"), ("rl", "diversity")}
    assert [f["key"] for f in found] == [r.key for r in RULES if r.key in {f["key"] for f in found}]  # rule order
    groups = by_prescription(found)
    assert [g["key"] for g in groups] == [f["key"] for f in found]
    assert all(len(g["evidence"]) == 1 and g["metrics"] for g in groups)


def test_drift_findings_carry_the_measured_kl(results):
    kl = next(p for p in results["probes"] if p["probe"] == "kl")
    for m in kl["metrics"]:
        m["group"] = "ood"
    [ood] = [f for f in findings(results) if f["key"] == "ood_transfer"]
    assert ood["context"].startswith("KL per token to base: 0.02")
    assert all(f["context"] is None for f in findings(results) if f["key"] != "ood_transfer")


@pytest.mark.parametrize("metric, group, target, key", [
    ("accuracy", "test", True, "target_loss"),
    ("greedy_accuracy", "test/carries=1", True, "target_loss"),
    ("accuracy", "ood", False, "ood_transfer"),
    ("greedy_accuracy", "ood/surface", False, "ood_transfer"),
    ("kl_per_token", "test", False, "drift"),
    ("pass@8", "test", False, "coverage"),
    ("pass@64", "ood", False, "coverage"),
    ("ece_verbalized", "test", False, "calibration"),
    ("ece_likelihood", "ood", False, "calibration"),
    ("brier_verbalized", "test", False, "calibration"),
    ("auroc_likelihood", "test", False, "calibration"),
    ("reliability_verbalized", "test", False, "calibration"),
    ("resolution_likelihood", "test", False, "calibration"),
    ("confidence_coverage_verbalized", "test", False, "confidence_dropped"),
    ("abstention_recall", "test/unanswerable", False, "abstention"),
    ("abstention_f1", "test", False, "abstention"),
    ("over_answer_rate", "ood", False, "abstention"),
    ("accuracy_given_attempted", "test", False, "abstention"),
    ("over_refusal_rate", "test", False, "over_refusal"),
    ("abstention_precision", "test", False, "over_refusal"),
    ("mean_token_entropy", "test", False, "diversity"),
    ("distinct_2", "test", False, "diversity"),
    ("distinct_3", "test", False, "diversity"),
    ("dominant_format_share", "test", False, "format_collapse"),
    ("format_entropy", "ood/surface", False, "format_collapse"),
    ("malformed_share", "ood", False, "malformed"),
    ("truncation_rate", "test", False, "truncation"),
    ("repeated_wrong_answer_rate", "ood", False, "shortcuts"),
    ("computation_skipped_rate", "test", False, "shortcuts"),
    ("short_completion_rate", "test", False, "shortcuts"),
    ("greedy_majority_agreement", "test", False, "consistency"),
    ("modal_answer_share", "test", False, "consistency"),
    ("mean_stable_rank", "test", False, "drift"),
    ("something_new", "test", False, "other"),
])
def test_rule_table(metric, group, target, key):
    assert prescribe(metric, group, target).key == key


def test_every_rule_has_a_prescription_and_a_source():
    keys = [r.key for r in RULES]
    assert len(keys) == len(set(keys))
    for r in RULES:
        assert r.prescription and r.source and r.problem and "http" not in r.source


FACTORY_ARGS = {"calibration": [("verbalized",), ("likelihood",)], "shortcuts": [(1.0,)],
                "formats": [(["direct", "steps"],)]}
"""Arguments for the probes whose metric specs come from a ``specs(...)`` factory."""


def _declared_specs() -> dict[str, list[MetricSpec]]:
    """MetricSpecs the probe modules declare: module-level lists and ``specs(...)`` factories."""
    out: dict[str, list[MetricSpec]] = {}
    for info in pkgutil.iter_modules(probes_pkg.__path__):
        if info.name in ("base", "registry", "context"):
            continue
        mod = importlib.import_module(f"offtarget.probes.{info.name}")
        found = [s for v in vars(mod).values() if isinstance(v, (list, tuple)) for s in v if isinstance(s, MetricSpec)]
        factory = getattr(mod, "specs", None)
        for args in FACTORY_ARGS.get(info.name, [()]) if callable(factory) else []:
            try:
                found += [s for s in factory(*args) if isinstance(s, MetricSpec)]
            except TypeError:  # a factory whose signature changed: its module-level lists still count
                continue
        out[info.name] = found
    return out


def test_every_flaggable_metric_the_probes_declare_has_a_prescription():
    """A probe that adds a flaggable metric without a rule fails here: add a Prescription to RULES."""
    declared = _declared_specs()
    assert declared.get("calibration") and declared.get("abstention"), "probe modules not found"
    missing = sorted({f"{probe}:{s.name}" for probe, specs in declared.items() for s in specs
                      if s.higher_is_better is not None
                      # a target metric is off target outside the test split: it needs a rule there too
                      and prescribe(s.name, "ood" if s.target else "test", False) is FALLBACK})
    assert missing == []


def _cli_options(path: list[str]) -> set[str]:
    """Every option string of ``offtarget <path...>`` as the real CLI declares it."""
    import typer.main

    from offtarget.cli import app

    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("rule", [r for r in RULES if r.command and r.command.startswith("offtarget ")],
                         ids=lambda r: r.key)
def test_prescribed_commands_use_real_flags(rule):
    words = rule.command.split()
    path = words[1:3] if words[1] == "train" else words[1:2]
    flags = {w for w in words if w.startswith("--")}
    assert flags <= _cli_options(path), f"{rule.key}: {sorted(flags - _cli_options(path))} not in offtarget {path}"


def test_prescribed_rewards_are_registered():
    from offtarget.rewards import list_rewards

    named = {w.split(":")[0] for r in RULES if r.command
             for prev, w in zip(r.command.split(), r.command.split()[1:]) if prev == "--reward"}
    assert named and named <= set(list_rewards())
