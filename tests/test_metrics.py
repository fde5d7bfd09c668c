"""The metric catalogue covers every metric the probes declare, with their direction and target role,
and every metric the report's prescriptions name."""

import importlib
import pkgutil
import re

import pytest

import offtarget.probes as probes_pkg
from offtarget import metrics
from offtarget.metrics import DIRECTIONS, ROLES, catalogue, find, get


def _probe_modules():
    for mod in pkgutil.iter_modules(probes_pkg.__path__):
        if mod.name not in ("base", "registry", "context", "__init__"):
            yield importlib.import_module(f"offtarget.probes.{mod.name}")


def _declared_specs():
    """Every MetricSpec the probe modules build: module SPECS, spec factories called with typical arguments."""
    from offtarget.probes import calibration, formats, passk, shortcuts

    out = []
    for mod in _probe_modules():
        out += list(getattr(mod, "SPECS", []))
    out += [s for k in calibration.KINDS for s in calibration.specs(k)]
    out += formats.specs(["direct", "reversed", "steps"])
    out += shortcuts.specs(3.0)
    out += [passk._spec(k) for k in (1, 2, 64)]
    return out


def test_entries_are_well_formed():
    every = catalogue()  # the families and the metrics probes define next to themselves
    assert len({m.name for m in every}) == len(every)
    for m in every:
        assert m.direction in DIRECTIONS and m.role in ROLES, m
        assert (m.direction == "descriptive") == (m.role == "descriptive"), m
        assert m.meaning and m.unit and m.probe and m.source, m


def test_every_probe_spec_is_in_the_catalogue_with_its_direction_and_role():
    specs = _declared_specs()
    assert len(specs) > 40
    for s in specs:
        m = get(s.name)
        assert m.higher_is_better == s.higher_is_better, (s.name, m.direction)
        if s.target:
            assert m.role == "target" or s.name == "pass@1", s.name


def test_families_and_unknown_names():
    assert get("pass@16").name == "pass@k" and get("format_share_reversed").probe == "formats"
    assert find("abstention_rate").direction == "descriptive"
    with pytest.raises(KeyError, match="offtarget.metrics"):
        get("acc,none")


def test_routing_vetoes_follow_the_roles():
    from offtarget.audit.compare import _vetoes
    from offtarget.probes.base import ComparisonRow

    def regression(metric):
        return ComparisonRow("p", metric, "test", "rl", "base", 0.5, 0.4, -0.1, -0.2, -0.05, 0.001, 20, "perm",
                             True, False, flag="regression")

    assert _vetoes(regression("accuracy")) and _vetoes(regression("pass@8")) and _vetoes(regression("ece_verbalized"))
    assert not _vetoes(regression("mean_token_entropy")) and not _vetoes(regression("ece_likelihood"))
    assert not _vetoes(regression("not_a_metric"))


def test_each_metric_computes_its_definition():
    import numpy as np

    abstained = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    should = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    assert get("abstention_recall").value(abstained[:2]) == 0.75  # the mean: 3 of 4
    # TP 3, FP 0, FN 1: precision 1, F1 = 6 / 7
    assert get("abstention_precision").value(abstained, should) == 1.0
    assert get("abstention_f1").value(abstained, should) == pytest.approx(6 / 7)
    counts = np.array([[3.0, 1.0], [0.0, 0.0]])  # one problem: 3 direct, 1 reversed
    assert get("dominant_format_share").value(counts) == 0.75
    assert get("format_entropy").value(counts) == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))
    assert get("format_entropy").value(np.zeros((2, 2))) is None  # no answers: undefined, not 0


def test_every_prescription_pattern_names_catalogue_metrics():
    from offtarget.report.prescriptions import RULES

    for rule in RULES:
        for pattern in rule.metrics:
            if pattern == "*":
                continue
            hits = [m for m in catalogue() if re.fullmatch(pattern.replace("*", ".*"), m.name)
                    or (m.pattern and m.matches(pattern.rstrip("*") + "1"))]
            assert hits, f"prescription {rule.key}: {pattern!r} matches no catalogue metric"


def test_every_flaggable_metric_has_a_prescription():
    from offtarget.report.prescriptions import prescribe

    for m in catalogue():
        if m.direction == "descriptive" or m.probe == "sft_defects":  # preflight states its own remedy per defect
            continue
        name = m.name.replace("<format>", "direct").replace("@k", "@8")
        assert prescribe(name, "ood" if m.role == "target" else "test", target=False).key != "other", m.name


def test_module_doctest_names_exist():
    assert metrics.get("abstention_recall").direction == "higher"
