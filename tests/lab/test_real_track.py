"""The real lab track's claim evaluation: recipes posed on the instruct model, the rest listed as not posed."""

from __future__ import annotations

import json

from offtarget.lab.real import NOT_POSED, available_variants, evaluate, markdown


def comparison(metric, group, checkpoint, diff, low, high):
    return {"metric": metric, "group": group, "checkpoint": checkpoint, "diff": diff, "low": low, "high": high,
            "reference_value": 0.2, "value": 0.2 + diff, "p_adjusted": 0.01, "flag": False}


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
