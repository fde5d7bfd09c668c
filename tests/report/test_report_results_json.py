"""results.json is strict JSON: non-finite numbers become null on write and are refused on read."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

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


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_load_refuses_non_finite(tmp_path, constant):
    (tmp_path / "results.json").write_text(f'{{"schema_version": 1, "x": {constant}}}')
    with pytest.raises(OfftargetError, match=f"results.json: not valid strict JSON .*{constant.lstrip('-')}"):
        load_results(tmp_path / "results.json")


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(OfftargetError, match="no results.json here"):
        load_results(tmp_path)
