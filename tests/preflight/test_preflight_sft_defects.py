"""Defect metrics and ranking on scripted evidence: a planted carries=2 error must come out on top."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from offtarget.audit.compare import apply_holm
from offtarget.audit.evidence import Evidence
from offtarget.preflight.sft_data import DataAudit, DataGroup
from offtarget.preflight.sft_defects import (
    DefectThresholds,
    find_defects,
    in_distribution,
    measure,
    model_error_share,
    rank_key,
)
from offtarget.metrics.definition import ratio_of_sums
from offtarget.stats import Estimate
from offtarget.store.generations import StoredSample
from offtarget.tasks import ArithmeticTask

TASK = ArithmeticTask()
PROBLEMS = TASK.problems("test", 120, seed=2) + TASK.problems("ood", 60, seed=2)
K = 4


def evidence(name: str, write) -> Evidence:
    """Evidence from ``write(problem, j) -> completion`` for K samples of every problem."""
    samples = [[StoredSample(write(p, j), [1, 2], [0.0, 0.0], [0.1, 0.1], "stop", problem_id=p.id, sample_index=j)
                for j in range(K)] for p in PROBLEMS]
    verdicts = [[TASK.verify(p, s.text) for s in row] for p, row in zip(PROBLEMS, samples)]
    return Evidence(name, f"/ckpt/{name}", name, PROBLEMS, samples, verdicts)


def _coin(p, j, rate_in_4: int) -> bool:
    return (zlib.crc32(p.id.encode()) + j) % 4 < rate_in_4


def base_writes(p, j):
    """The base: right 3 times in 4 in distribution, never right on surface prompts, never abstains."""
    if p.should_abstain:
        return "d 5"
    if p.slice == "surface" or not _coin(p, j, 3):
        return f"d {int(p.answer) + 1}"
    return f"d {p.answer}"


def sft_writes(p, j, defect="carry-error"):
    """The SFT model: right with <c>8 everywhere, except its planted defect."""
    if p.should_abstain:
        return "d 5<c>9" if defect == "never-abstain" else "?"
    if defect == "carry-error" and p.slice == "carries=2":
        return f"d {int(p.answer) - 10}<c>7"
    if p.slice == "surface":
        return f"d {int(p.answer) + 1}<c>9"
    return f"d {p.answer}<c>8"


def run(model_writes, reference=True, data=None):
    evs = {"base": evidence("base", base_writes), "sft": evidence("sft", model_writes)} if reference else \
        {"sft": evidence("sft", model_writes)}
    ref = "base" if reference else "sft"
    result = measure(evs, ref, TASK.formats, n_resamples=300, seed=0)
    if reference:
        apply_holm([result], 0.05)
    return find_defects(result, "sft", "base" if reference else None, evs["sft"], data), result


def test_ratio_of_sums_is_vectorised_and_undefined_without_support():
    num = np.array([[[1, 0], [1, 1]], [[0, 0], [0, 0]]], dtype=float)
    den = np.array([[[1, 1], [1, 1]], [[0, 0], [0, 0]]], dtype=float)
    out = ratio_of_sums(num, den)
    assert out[0] == 0.75 and np.isnan(out[1])


def test_metric_values_on_scripted_samples():
    _, result = run(sft_writes)
    m = {(r.metric, r.group, r.checkpoint): r.value for r in result.metrics}
    assert m[("accuracy", "test/carries=2", "sft")] == 0.0
    assert m[("accuracy", "test/carries=1", "sft")] == 1.0
    assert m[("over_answer_rate", "test/unanswerable", "sft")] == 0.0
    assert m[("over_answer_rate", "test/unanswerable", "base")] == 1.0
    assert m[("overconfidence", "test/carries=2", "sft")] == pytest.approx(0.75)   # <c>7 → q = 0.75, never right
    assert m[("overconfidence", "test/carries=1", "sft")] == pytest.approx(-0.15)  # <c>8 → 0.85, always right
    assert m[("overconfidence", "test/unanswerable", "sft")] == 0.0                # abstains: states nothing
    assert m[("confident_answer_share", "test/carries=2", "sft")] == 1.0
    assert m[("mean_confidence", "test/carries=2", "base")] is None                # the base states none
    assert m[("accuracy_in_direct", "test", "sft")] == pytest.approx(m[("accuracy", "test", "sft")])


def test_planted_carry_error_is_the_top_defect():
    defects, _ = run(sft_writes)
    top = defects[0]
    assert top.where == "test/carries=2", [(d.kind, d.where) for d in defects]
    kinds_here = {d.kind for d in defects if d.where == "test/carries=2"}
    assert {"accuracy fell", "overconfidence"} <= kinds_here
    fell = next(d for d in defects if d.kind == "accuracy fell" and d.where == "test/carries=2")
    assert fell.diff < -0.5 and fell.diff_high < 0 and fell.harm_low == pytest.approx(-fell.diff_high)
    assert fell.origin.startswith("SFT") and "→" in fell.evidence and "p_adj" in fell.evidence
    # bigger in size but out of distribution: ranked after every in-distribution defect
    surface = next(d for d in defects if d.where == "ood/surface" and d.kind == "overconfidence")
    assert surface.harm_low > top.harm_low and defects.index(surface) > defects.index(top)
    assert surface.origin.startswith("SFT")   # the base states no confidence: its excess is 0
    assert [rank_key(d) for d in defects] == sorted(rank_key(d) for d in defects)


def test_never_abstain_shows_up_as_hallucination_on_unanswerable_items():
    defects, _ = run(lambda p, j: sft_writes(p, j, defect="never-abstain"))
    where = [(d.kind, d.where) for d in defects]
    assert ("hallucination", "test/unanswerable") in where and ("overconfidence", "test/unanswerable") in where
    assert defects[0].where == "test/unanswerable"
    halluc = next(d for d in defects if d.kind == "hallucination" and d.where == "test/unanswerable")
    assert halluc.value == 1.0 and halluc.origin.startswith("pre-existing")   # the base never abstained either


def test_without_a_reference_only_absolute_levels_are_reported():
    defects, result = run(sft_writes, reference=False)
    assert not result.comparisons
    assert {d.kind for d in defects} <= {"overconfidence", "hallucination", "skipped steps"}
    assert defects[0].where == "test/carries=2" and defects[0].origin == "unknown (no reference)"


def test_a_checkpoint_against_itself_has_no_accuracy_drop():
    evs = {"base": evidence("base", sft_writes), "sft": evidence("sft", sft_writes)}
    result = measure(evs, "base", TASK.formats, n_resamples=200)
    apply_holm([result], 0.05)
    defects = find_defects(result, "sft", "base", evs["sft"])
    assert not [d for d in defects if d.kind in ("accuracy fell", "format accuracy fell")]
    assert all(d.origin.startswith("pre-existing") or d.origin.startswith("SFT (new") for d in defects)


def _data(slice_: str, modal: str) -> DataAudit:
    g = DataGroup(slice_, 200, 200, Estimate(1.0, 1.0, 1.0, 200), {"direct": 200}, modal, 1.0,
                  {"prompt": "99+1=", "completion": "d 90", "answer": "100"})
    return DataAudit("sft.jsonl", 1000, 1000, 200, 0, [g], [])


def test_data_errors_the_model_reproduces_are_listed_with_both_rates():
    data = _data("carries=2", "-10")
    defects, _ = run(sft_writes, data=data)
    d = next(d for d in defects if d.kind == "reproduces SFT data errors")
    assert d.where == "test/carries=2" and d.origin == "SFT data"
    assert "200 of 200 SFT rows on carries=2 are wrong" in d.evidence and "100% of the model's" in d.evidence
    # the data's error on a slice the model gets right is not a defect of the model
    defects, _ = run(sft_writes, data=_data("carries=1", "-10"))
    assert not [d for d in defects if d.kind == "reproduces SFT data errors"]


def test_model_error_share_and_helpers():
    ev = evidence("sft", sft_writes)
    share, n = model_error_share(ev, "test/carries=2", "-10")
    assert share == 1.0 and n > 0
    assert model_error_share(None, "test/carries=2", "-10") == (None, 0)
    assert in_distribution("test/carries=2") and not in_distribution("ood/quadrant")
    assert DefectThresholds().overconfidence == 0.1


def test_overconfidence_is_weighted_by_how_often_confidence_is_stated():
    """A rare confident hallucination is not a defect; a frequent one is."""
    def rarely(p, j):
        if p.should_abstain:
            return "d 5<c>9" if j == 0 and zlib.crc32(p.id.encode()) % 4 == 0 else "?"
        return f"d {p.answer}<c>9"

    defects, result = run(rarely)
    m = {(r.metric, r.group, r.checkpoint): r for r in result.metrics}
    gap = m[("mean_confidence", "test/unanswerable", "sft")].value - \
        m[("accuracy_when_confident", "test/unanswerable", "sft")].value
    assert gap == pytest.approx(0.95)                                             # huge when it answers
    assert m[("overconfidence", "test/unanswerable", "sft")].value < 0.1          # but it rarely does
    assert not [d for d in defects if d.kind == "overconfidence" and d.where == "test/unanswerable"]
