"""OOD probe: ID/OOD accuracy, the ΔOOD/ΔID transfer ratio, and its undefined case."""

from __future__ import annotations

import numpy as np
import pytest

from offtarget.probes import ood


def _problems(kit):
    test = [kit.answerable(a, 2) for a in range(10)]
    shifted = [kit.answerable(60 + a, 70, split="ood", slice_="quadrant") for a in range(8)]
    return test + shifted


def _texts(problems, right_test: int, right_ood: int):
    """First ``right_*`` problems of each split answered right (both samples), the rest wrong."""
    out, seen = [], {"test": 0, "ood": 0}
    for p in problems:
        limit = right_test if p.split == "test" else right_ood
        ok = seen[p.split] < limit
        seen[p.split] += 1
        out.append([f"d {p.answer if ok else 0}"] * 2)
    return out


@pytest.fixture(scope="module")
def result(kit):
    problems = _problems(kit)
    ref = kit.evidence("base", problems, _texts(problems, 5, 4))     # ID .5, OOD .5
    tuned = kit.evidence("rl", problems, _texts(problems, 10, 6))    # ID 1.0, OOD .75
    return ood.run(kit.context(ref, tuned))


def test_transfer_ratio(result):
    t = result.extras["transfer"]["rl"]["ood"]
    assert t["d_id"][0] == pytest.approx(0.5) and t["d_ood"][0] == pytest.approx(0.25)
    assert t["ratio"] == pytest.approx(0.5)
    assert t["low"] <= 0.5 <= t["high"] and t["reason"] is None
    assert set(result.extras["transfer"]["rl"]) == {"ood", "ood/quadrant"}


def test_gap_and_plot(kit, result):
    assert kit.value(result, "ood_gap", "ood", "base") == pytest.approx(0.0)
    assert kit.value(result, "ood_gap", "ood", "rl") == pytest.approx(0.25)
    comp = next(c for c in result.comparisons if c.group == "ood")
    assert comp.diff == pytest.approx(0.25) and comp.higher_is_better is None
    p = result.plots["id_ood"]
    assert p["rl"]["test"]["value"] == pytest.approx(1.0) and p["rl"]["ood"]["value"] == pytest.approx(0.75)
    assert p["base"]["ood"]["low"] <= 0.5 <= p["base"]["ood"]["high"]


def test_ratio_undefined_when_id_did_not_change():
    same = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    t = ood.transfer_ratio(same, same, same[:4], np.ones(4), n_resamples=200)
    assert t["ratio"] is None and "contains 0" in t["reason"]
    assert t["d_ood"][0] == pytest.approx(0.5)


def test_without_an_ood_split(kit):
    problems = [kit.answerable(a, 2) for a in range(6)]
    ev = kit.evidence("a", problems, [["d 2"]] * 6)
    res = ood.run(kit.context(ev, kit.evidence("b", problems, [["d 2"]] * 6)))
    assert not res.metrics and "skipped" in res.notes[0]
