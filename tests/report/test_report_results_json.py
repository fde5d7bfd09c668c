"""results.json is strict JSON: non-finite numbers become null on write and are refused on read."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from offtarget.audit.results import AuditResults
from offtarget.errors import OfftargetError
from offtarget.report.results import SCHEMA_VERSION, load_results, write_results


def test_round_trip(tmp_path, results):
    results["probes"][0]["extras"] = {"nan": float("nan"), "inf": -math.inf, "np": np.float32(0.5),
                                      "arr": [np.int64(3), np.nan]}
    write_results(tmp_path / "results.json", results)
    back = load_results(tmp_path)  # a run directory works as well as the file
    assert back["schema_version"] == SCHEMA_VERSION
    assert back["probes"][0]["extras"] == {"nan": None, "inf": None, "np": 0.5, "arr": [3, None]}
    back["probes"][0]["extras"] = results["probes"][0]["extras"] = {}
    assert back == json.loads(json.dumps(results))
    assert "NaN" not in (tmp_path / "results.json").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left behind


def test_typed_results_write_back_the_same_bytes(tmp_path, results):
    """results.json → typed → dict: the same file; the dict is built from the typed fields."""
    write_results(tmp_path / "results.json", results)
    typed = AuditResults.load(tmp_path)
    write_results(tmp_path / "again.json", typed.to_dict())
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "results.json").read_bytes()
    typed.probes[0].metrics[0].value = 0.125
    typed.routing[0] = type(typed.routing[0])("test", "sft", "accuracy", "a reason")
    back = typed.to_dict()
    assert back["probes"][0]["metrics"][0]["value"] == 0.125
    assert back["routing"][0] == {**results["routing"][0], "group": "test", "route_to": "sft", "metric": "accuracy",
                                  "why": "a reason"}


def test_reports_render_typed_and_stored_results_alike(tmp_path, results):
    from offtarget.report.render import render_all

    write_results(tmp_path / "a" / "results.json", results)
    render_all(AuditResults.load(tmp_path / "a"), tmp_path / "a")
    render_all(results, tmp_path / "b")
    for name in ("report.md", "report.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_load_refuses_non_finite(tmp_path, constant):
    (tmp_path / "results.json").write_text(f'{{"schema_version": 1, "x": {constant}}}')
    with pytest.raises(OfftargetError, match=f"results.json: not valid strict JSON .*{constant.lstrip('-')}"):
        load_results(tmp_path / "results.json")


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(OfftargetError, match="no results.json here"):
        load_results(tmp_path)
