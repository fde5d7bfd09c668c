"""The metric catalogue covers every metric the probes declare, with their direction and target role,
and every metric the report's prescriptions name."""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import offtarget.probes as probes_pkg
from offtarget import metrics
from offtarget.metrics import CATALOGUE, DIRECTIONS, ROLES, find, get


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


def _literal_names():
    """Metric names written as literals in probe sources (specs built inside run(), rows built by hand)."""
    names = set()
    for mod in _probe_modules():
        src = Path(mod.__file__).read_text()
        names |= set(re.findall(r'MetricSpec\(\s*"([^"{]+)"', src))
        names |= set(re.findall(r'MetricRow\(\s*"\w+",\s*"([^"{]+)"', src))
        names |= set(getattr(mod, "METRICS", {}))
    return names


def test_entries_are_well_formed():
    assert len({m.name for m in CATALOGUE}) == len(CATALOGUE)
    for m in CATALOGUE:
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


def test_literal_metric_names_in_probe_sources_are_in_the_catalogue():
    names = _literal_names()
    assert {"kl_per_token", "kl_sequence", "ood_gap", "update_sparsity_bf16"} <= names
    assert sorted(n for n in names if find(n) is None) == []


def test_families_and_unknown_names():
    assert get("pass@16").name == "pass@k" and get("format_share_reversed").probe == "formats"
    assert find("abstention_rate").direction == "descriptive"
    with pytest.raises(KeyError, match="offtarget.metrics"):
        get("acc,none")


def test_serving_vetoes_match_the_audit_routing_rule():
    from offtarget.audit.compare import VETO_PREFIXES

    vetoes = {m.name for m in CATALOGUE if m.vetoes_serving}
    assert {n for n in vetoes if n.startswith(VETO_PREFIXES)} == vetoes
    for prefix in VETO_PREFIXES:
        assert any(n.startswith(prefix.rstrip("@")) for n in vetoes), prefix


def test_every_prescription_pattern_names_catalogue_metrics():
    from offtarget.report.prescriptions import RULES

    for rule in RULES:
        for pattern in rule.metrics:
            if pattern == "*":
                continue
            hits = [m for m in CATALOGUE if re.fullmatch(pattern.replace("*", ".*"), m.name)
                    or (m.pattern and m.matches(pattern.rstrip("*") + "1"))]
            assert hits, f"prescription {rule.key}: {pattern!r} matches no catalogue metric"


def test_every_flaggable_metric_has_a_prescription():
    from offtarget.report.prescriptions import prescribe

    for m in CATALOGUE:
        if m.direction == "descriptive":
            continue
        name = m.name.replace("<format>", "direct").replace("@k", "@8")
        assert prescribe(name, "ood" if m.role == "target" else "test", target=False).key != "other", m.name


def test_module_doctest_names_exist():
    assert metrics.get("abstention_recall").direction == "higher"
