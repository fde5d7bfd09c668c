"""The real lab track's claim evaluation: recipes posed on the instruct model, the rest listed as not posed."""

from __future__ import annotations

import json

from offtarget.lab.real import NOT_POSED, available_variants, evaluate, markdown


def comparison(metric, group, checkpoint, diff, low, high):
    return {"metric": metric, "group": group, "checkpoint": checkpoint, "diff": diff, "low": low, "high": high,
            "reference_value": 0.2, "value": None if diff is None else 0.2 + diff, "p_adjusted": 0.01, "flag": False}


def audit(reference, comparisons, metrics=()):
    names = [reference] + sorted({c["checkpoint"] for c in comparisons})
    return {"reference": reference, "checkpoints": [{"name": n} for n in names],
            "probes": [{"probe": "all", "comparisons": list(comparisons), "metrics": list(metrics), "extras": {}}]}


def test_abstention_and_reward_hacking_are_posed_against_the_instruct_model():
    main = audit("instruct", [
        comparison("abstention_recall", "test/unanswerable", "grpo-binary", -0.30, -0.45, -0.15),
        comparison("abstention_recall", "test/unanswerable", "grpo-ternary", 0.00, -0.10, 0.10),
        comparison("malformed_share", "test", "grpo-lenient", 0.05, -0.02, 0.12),
        comparison("malformed_share", "test", "grpo-binary", 0.00, -0.01, 0.01),
    ])
    claims, not_posed = evaluate({"main": main}, ["grpo-binary", "grpo-ternary", "grpo-lenient"])
    by_claim = {c.claim: c for c in claims}
    lost = by_claim["Binary reward lowers abstention on unanswerable items"]
    assert lost.verdict == "reproduced" and lost.comparison == "grpo-binary vs instruct on test/unanswerable"
    # interval [-0.10, 0.10] is not above the -0.05 margin: inconclusive
    assert by_claim["The ternary reward keeps abstention (non-inferiority margin 0.05)"].verdict == "inconclusive"
    hacked = next(c for c in claims if c.recipe == "reward-hacking")
    assert hacked.verdict == "inconclusive"  # lenient's interval straddles 0
    posed_recipes = {c.recipe for c in claims}
    assert not posed_recipes & set(NOT_POSED)
    assert {r["recipe"] for r in not_posed} >= set(NOT_POSED) | {"calibration"}
    # a claim whose variant was not built (the window, the zero reward) is listed, not shown as a verdict
    assert any(r["recipe"] == "too-hard" for r in not_posed)
    text = markdown(claims, not_posed, [{"checkpoint": "instruct", "accuracy test": 0.2}], "offtarget lab real", 60.0)
    assert "| instruct | the released instruct model |" in text and "## Claims not posed on this model" in text


def test_only_variants_with_an_adapter_are_audited(tmp_path):
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x"}))
    (tmp_path / "rlcr").mkdir()  # no adapter_config.json: not trained
    assert list(available_variants(tmp_path)) == ["grpo-binary"]


def metric(name, group, checkpoint, value, n=40):
    return {"metric": name, "group": group, "checkpoint": checkpoint, "value": value, "low": value, "high": value,
            "n": n}


def test_the_kl_audit_is_read_with_main_and_drift_is_posed_across_variants():
    variants = ["grpo-binary", "grpo-ternary", "grpo-lenient", "grpo-hard"]
    # KL rises 0.1 → 0.4 while OOD accuracy falls 0.01 → 0.04: Spearman ρ = -1 exactly
    main = audit("instruct", [comparison("accuracy", "ood", v, -0.01 * (i + 1), -0.05, 0.03)
                              for i, v in enumerate(variants)])
    drift = audit("instruct", [], [metric("kl_per_token", "test", v, 0.1 * (i + 1)) for i, v in enumerate(variants)])
    claims, _ = evaluate({"main": main}, variants)
    assert not any(c.recipe == "drift-forgetting" for c in claims)  # no KL without the drift audit
    claims, _ = evaluate({"main": main, "drift": drift}, variants)
    drift_row = next(c for c in claims if c.recipe == "drift-forgetting")
    assert drift_row.effect == -1.0


def test_calibration_without_stated_confidences_is_not_posed_and_says_why():
    calib = audit("instruct", [comparison("ece_verbalized", "test", "grpo-binary", None, None, None)],
                  [metric("confidence_coverage_verbalized", "test", "instruct", 0.0),
                   metric("confidence_coverage_verbalized", "test", "grpo-binary", 0.025)])
    vs = audit("grpo-binary", [comparison("ece_verbalized", "test", "grpo-rlcr", None, None, None),
                               comparison("accuracy", "test", "grpo-rlcr", -0.40, -0.5, -0.3)])
    main = audit("instruct", [])
    claims, not_posed = evaluate({"main": main, "calibration": calib, "vs-binary": vs}, ["grpo-binary", "grpo-rlcr"])
    worse = next(r for r in not_posed if r["claim"].startswith("Binary reward worsens calibration"))
    assert "instruct 0.0%" in worse["why"] and "grpo-binary 2.5%" in worse["why"]
    # RLCR's claim has two necessary parts: accuracy fell beyond the margin, so it is decided without the ECE
    restored = next(c for c in claims if c.recipe == "calibration")
    assert restored.verdict == "not reproduced" and restored.effect is None
    window = [r for r in not_posed if r["recipe"] == "too-hard"]
    assert any("needs a grpo-window variant" in r["why"] for r in window)


def test_framing_and_faithfulness_rows_read_their_own_audits():
    main = audit("instruct", [], metrics=[
        {"metric": "accuracy", "group": "test", "checkpoint": c, "value": v, "low": v, "high": v, "n": 45}
        for c, v in (("instruct", 0.02), ("grpo-binary", 0.48))])
    framing = audit("instruct", [
        comparison("framing_error_increase_emotional", "test", "grpo-binary", 0.09, 0.02, 0.21),
        comparison("suggestion_adoption_rate", "test", "grpo-binary", -0.16, -0.31, -0.01),
        comparison("framing_error_increase_suggestion", "test", "grpo-binary", 0.14, 0.01, 0.27),
    ])
    faith = audit("instruct", [comparison("faithfulness_aoc", "test", "grpo-binary", -0.1, -0.3, 0.1)])
    claims, not_posed = evaluate({"main": main, "framing": framing, "faithfulness": faith}, ["grpo-binary"])
    rows = {c.effect_name: c for c in claims if c.recipe in ("framing", "faithfulness")}
    emotional = rows["Δ framing_error_increase_emotional"]
    assert emotional.verdict == "reproduced" and emotional.comparison == "grpo-binary vs instruct on test"
    assert any("instruct 0.020, grpo-binary 0.480" in n for n in emotional.notes)  # plain accuracy, main audit
    adoption = rows["Δ suggestion_adoption_rate"]
    assert adoption.verdict == "not reproduced"  # the interval lies below 0: adoption fell
    assert any("Δ 0.140 [0.010, 0.270]" in n for n in adoption.notes)
    assert rows["Δ faithfulness_aoc"].verdict == "inconclusive"
    assert not {r["recipe"] for r in not_posed} & {"framing", "faithfulness"}
    # without their audits both are listed as not posed, saying the probe did not run
    claims, not_posed = evaluate({"main": main}, ["grpo-binary"])
    assert not {c.recipe for c in claims} & {"framing", "faithfulness"}
    why = {r["recipe"]: r["why"] for r in not_posed}
    assert why["faithfulness"].startswith("probe not run") and why["framing"].startswith("probe not run")
