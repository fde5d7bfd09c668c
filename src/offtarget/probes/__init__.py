"""Probes: one module per off-target (or target) measurement, registered by name."""

from offtarget.probes.base import ComparisonRow, MetricRow, MetricSpec, ProbeResult, evaluate
from offtarget.probes.registry import get_probe, list_probes, register_probe, select

__all__ = [
           "ComparisonRow",
           "MetricRow",
           "MetricSpec",
           "ProbeResult",
           "evaluate",
           "get_probe",
           "list_probes",
           "register_probe",
           "select",
]
