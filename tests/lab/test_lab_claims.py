"""Verdict rules of the claims table, and each recipe's reading of audit comparisons."""

import pytest

from offtarget.lab.claims import ClaimResult, combine, decide, write_claims
from offtarget.lab.recipes import RECIPES, LabEvidence


@pytest.mark.parametrize("low, high, predicted, threshold, want", [
    (0.1, 0.3, "positive", 0.0, "reproduced"),
    (-0.3, -0.1, "positive", 0.0, "not reproduced"),
    (-0.1, 0.2, "positive", 0.0, "inconclusive"),
    (-0.3, -0.1, "negative", 0.0, "reproduced"),
    (0.1, 0.3, "negative", 0.0, "not reproduced"),
    (-0.025, 0.01, "positive", -0.03, "reproduced"),  # non-inferiority: the whole interval above -0.03
    (None, None, "positive", 0.0, "inconclusive"),
])
def test_decide(low, high, predicted, threshold, want):
    assert decide(low, high, predicted, threshold) == want


def test_combine():
    assert combine(["reproduced", "reproduced"]) == "reproduced"
    assert combine(["reproduced", "inconclusive"]) == "inconclusive"
    assert combine(["inconclusive", "not reproduced"]) == "not reproduced"


def _audit(reference, rows, metrics=(), extras=None, checkpoints=()):
    probes = [{"probe": "x", "metrics": list(metrics), "extras": extras or {}, "comparisons": [
        {"metric": m, "group": g, "checkpoint": c, "diff": d, "low": lo, "high": hi, "reference_value": 0.5,
         "value": 0.5 + d, "p_adjusted": 0.01, "flag": "none"} for (m, g, c, d, lo, hi) in rows]}]
    return {"reference": reference, "probes": probes, "checkpoints": [{"name": n} for n in (reference, *checkpoints)]}


def test_entropy_recipe_reads_both_parts():
    ev = LabEvidence({"main": _audit("sft", [
        ("mean_token_entropy", "test", "grpo-binary", -0.1, -0.12, -0.08),
        ("distinct_answer_ratio", "test", "grpo-binary", -0.04, -0.05, -0.03)])}, {})
    (claim,) = RECIPES["entropy-collapse"].evaluate(ev)
    assert claim.verdict == "reproduced" and claim.effect == -0.1
    ev2 = LabEvidence({"main": _audit("sft", [
        ("mean_token_entropy", "test", "grpo-binary", -0.1, -0.12, -0.08),
        ("distinct_answer_ratio", "test", "grpo-binary", 0.0, -0.01, 0.01)])}, {})
    assert RECIPES["entropy-collapse"].evaluate(ev2)[0].verdict == "inconclusive"


def test_calibration_recipe_needs_accuracy_non_inferiority():
    rows_main = [("ece_verbalized", "test", "grpo-binary", 0.1, 0.05, 0.15),
                 ("ece_verbalized", "ood", "grpo-rlcr", 0.0, -0.1, 0.1)]
    vs = [("ece_verbalized", "test", "grpo-rlcr", -0.1, -0.15, -0.05),
          ("accuracy", "test", "grpo-rlcr", -0.06, -0.09, -0.04)]
    ev = LabEvidence({"main": _audit("sft", rows_main), "vs-binary": _audit("grpo-binary", vs)}, {})
    worse, fixed = RECIPES["calibration"].evaluate(ev)
    assert worse.verdict == "reproduced"
    assert fixed.verdict == "not reproduced"  # accuracy fell by more than the 0.03 margin


def test_missing_comparison_is_inconclusive_not_a_crash():
    ev = LabEvidence({"main": _audit("sft", [])}, {})
    for name in ("passk-narrowing", "format-collapse", "abstention", "reward-hacking", "too-hard"):
        for c in RECIPES[name].evaluate(ev):
            assert c.verdict == "inconclusive"


def test_update_sparsity_uses_exact_counts():
    metrics = [{"metric": "update_sparsity_bf16", "group": "weights", "checkpoint": "grpo-binary", "value": 0.4},
               {"metric": "update_sparsity_bf16", "group": "weights", "checkpoint": "sft-more", "value": 0.1}]
    ev = LabEvidence({"main": _audit("sft", [], metrics)}, {})
    (c,) = RECIPES["update-sparsity"].evaluate(ev)
    assert c.effect == pytest.approx(0.3) and c.verdict == "reproduced"


def test_write_claims_is_strict_json(tmp_path):
    import json

    c = ClaimResult("r", "a claim", "src", "a vs b", "Δ x", float("nan"), None, None)
    write_claims([c], tmp_path, "offtarget lab run r", 12.0)
    data = json.loads((tmp_path / "claims.json").read_text())
    assert data["claims"][0]["effect"] is None and data["claims"][0]["verdict"] == "inconclusive"
    assert "a claim" in (tmp_path / "claims.md").read_text()


def test_every_recipe_reads_catalogue_metrics_only():
    """LabEvidence refuses a metric the catalogue does not know, so a typo in a recipe fails here."""
    from offtarget.metrics import get

    ev = LabEvidence({"main": _audit("sft", []), "vs-binary": _audit("grpo-binary", []),
                      "defect": _audit("sft-defect", []), "defect-abstain": _audit("sft-never-abstain", [])}, {})
    for recipe in RECIPES.values():
        rows = recipe.evaluate(ev)
        assert rows and all(c.verdict == "inconclusive" for c in rows), recipe.name
    with pytest.raises(KeyError, match="CATALOGUE"):
        ev.comparison("main", "acc,none", "test", "grpo-binary")
    assert get("abstention_recall").direction == "higher"


def test_claim_sources_cite_papers_not_seed_numbers():
    import re

    ev = LabEvidence({"main": _audit("sft", [])}, {})
    sources = [r.source for r in RECIPES.values()] + [c.source for r in RECIPES.values() for c in r.evaluate(ev)]
    assert sources and not [s for s in sources if re.search(r"\bseeds? ?\d", s)]
