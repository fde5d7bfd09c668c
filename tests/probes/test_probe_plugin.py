"""A probe is one file: a module with its metric definition and a registered run function is
found through the registry (here as an installed plug-in) and reports through the audit's
statistics; a name clash is a one-line error."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from offtarget.errors import OfftargetError
from offtarget.metrics import METRICS, get
from offtarget.probes.registry import ENTRY_POINT_GROUP, PROBES, ProbeInfo
from offtarget.registry import Registry

PROBE = '''
from __future__ import annotations

import numpy as np

from offtarget.metrics import define
from offtarget.probes.base import ProbeResult, evaluate, spec_of
from offtarget.probes.registry import register_probe

define("answer_chars", "mean characters of the parsed answer, answerable problems", "descriptive",
       "descriptive", "characters >= 0", "answer_length", "length")


@register_probe("answer_length")
def run(ctx) -> ProbeResult:
    def chars(ev):
        return (np.array([[len(v.answer or "") for v in row] for row in ev.verdicts], dtype=float),)

    specs = [spec_of("answer_chars", chars)]
    metrics, comparisons = evaluate("answer_length", specs, ctx.evidences, ctx.reference,
                                    ctx.settings.bootstrap, ctx.settings.seed)
    return ProbeResult("answer_length", "length of the parsed answer", "length", metrics, comparisons)
'''


def _install(site, module: str, code: str, entry: str) -> None:
    (site / f"{module}.py").write_text(code)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry}\n")


@pytest.fixture
def fresh_probes():
    """A probe registry reading the entry points again (the global one read them once)."""
    yield Registry("probe", ENTRY_POINT_GROUP, from_entry_point=lambda name, fn: ProbeInfo(name, fn, False))
    PROBES.remove("answer_length")
    METRICS.remove("answer_chars")


def test_one_file_probe_runs_with_the_audits_statistics(kit, tmp_path, monkeypatch, fresh_probes):
    _install(tmp_path, "answer_length_probe", textwrap.dedent(PROBE), "answer_length = answer_length_probe:run")
    monkeypatch.syspath_prepend(str(tmp_path))
    info = fresh_probes.get("answer_length")
    assert info.run is PROBES.get("answer_length").run  # the decorator registered it for --probes too
    assert get("answer_chars").probe == "answer_length" and get("answer_chars").direction == "descriptive"

    problems = [kit.answerable(a, 5) for a in (11, 22, 33, 44, 95)]  # answers 16 27 38 49 100
    long = kit.evidence("long", problems, [[f"d {p.answer}", "?"] for p in problems])
    short = kit.evidence("short", problems, [["d 7", "d 7"] for _ in problems])
    res = info.run(kit.context(long, short))
    # long: per problem (len(answer) + 0 for the abstention) / 2 → (1 + 1 + 1 + 1 + 1.5) / 5 = 1.1
    assert kit.value(res, "answer_chars", "test", "long") == pytest.approx(1.1)
    assert kit.value(res, "answer_chars", "test", "short") == 1.0
    comp = next(c for c in res.comparisons if c.group == "test")
    assert comp.diff == pytest.approx(-0.1) and comp.higher_is_better is None
    assert np.isfinite(comp.p_value)


def test_a_probe_name_is_registered_once(tmp_path, monkeypatch, fresh_probes):
    _install(tmp_path, "clash_probe", "def run(ctx):\n    return None\n", "accuracy = clash_probe:run")
    monkeypatch.syspath_prepend(str(tmp_path))
    fresh_probes.add("accuracy", PROBES.get("accuracy"))
    with pytest.raises(OfftargetError, match="probe 'accuracy' is already registered") as e:
        fresh_probes.load()
    assert "\n" not in str(e.value)
