"""Typed audit results: what ``results.json`` holds, as dataclasses with documented fields.

``results.json`` stays the versioned, strict-JSON record on disk (:mod:`offtarget.report.results`);
this module is how Python code reads it without string keys. Metric rows and comparisons are
the probes' own records (:class:`~offtarget.probes.base.MetricRow`,
:class:`~offtarget.probes.base.ComparisonRow`), so a number is found in two hops: a probe's
result → its row. The report renderers (Markdown, terminal) read these; sections not typed here
(verdict, headline rows, self-check, claims, preflight, sampling) come from ``raw``.

Dataclasses, not a pydantic schema: the rows are the probes' own dataclasses (a pydantic copy
would be a second definition of each), the untyped sections differ by kind and pass through as
JSON, and validating the file (strict JSON, schema version, required keys) is
:func:`offtarget.report.results.load_results`'s; pydantic would add a dependency for none of it.

    >>> import offtarget
    >>> r = offtarget.audit({"base": "models/lab/base", "sft": "models/lab/sft"}, samples=4, problems=20,
    ...                     out="runs/api")
    >>> [(c.metric, c.group, c.diff) for c in r.flagged("regression")]
    >>> r.metric("accuracy", "sft", "test").value
    >>> AuditResults.load("runs/api").routing[0].route_to
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from offtarget.probes.base import ComparisonRow, MetricRow, ProbeResult


@dataclass(frozen=True)
class CheckpointInfo:
    """One audited checkpoint (or log of completions)."""

    name: str
    """Its name in the report (``--model NAME=PATH``)."""
    path: str
    """Where it was read from."""
    fingerprint: str
    """Content hash the run store keys its generations by."""
    n_problems: int
    """Problems it was audited on."""
    n_samples: int
    """Samples per problem."""


@dataclass(frozen=True)
class Headline:
    """Per non-reference checkpoint: flagged target gains next to flagged off-target losses."""

    checkpoint: str
    reference: str
    summary: str
    """One sentence a reviewer can read first."""
    target_gains: int
    target_losses: int
    offtarget_gains: int
    offtarget_losses: int
    tests: int
    """Comparisons of this checkpoint in the report (the Holm family is all checkpoints' together)."""


@dataclass(frozen=True)
class Route:
    """Where to send one group's traffic, and why."""

    group: str
    route_to: str
    metric: str
    """The deciding metric (accuracy; abstention recall for unanswerable slices)."""
    why: str


@dataclass
class AuditResults:
    """An audit's results, typed. ``raw`` keeps the full JSON for anything not typed here."""

    kind: str
    """``audit`` or ``preflight``."""
    reference: str
    """The checkpoint every other one is compared against."""
    checkpoints: list[CheckpointInfo]
    probes: list[ProbeResult]
    headline: list[Headline]
    routing: list[Route]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    reports: list[str] = field(default_factory=list)
    """Paths of the reports rendered with these results (empty when none were)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], reports: list[str] | None = None) -> AuditResults:
        return cls(
            kind=data.get("kind", "audit"),
            reference=data["reference"],
            checkpoints=[CheckpointInfo(c["name"], c.get("path", ""), c.get("fingerprint", ""),
                                        c.get("n_problems", 0), c.get("n_samples", 0)) for c in data["checkpoints"]],
            probes=[ProbeResult.from_dict(p) for p in data["probes"]],
            headline=[Headline(h["checkpoint"], h["reference"], h["summary"], len(h["target_gains"]),
                               len(h["target_losses"]), len(h["offtarget_gains"]), len(h["offtarget_losses"]),
                               h["tests"]) for h in data.get("headline", [])],
            routing=[Route(r["group"], r["route_to"], r["metric"], r["why"]) for r in data.get("routing", [])],
            raw=data,
            reports=list(reports or []),
        )

    def to_dict(self) -> dict[str, Any]:
        """What ``results.json`` holds (the inverse of :meth:`from_dict`): the typed fields written
        back over :attr:`raw`, in the file's key order; what is not typed here comes from ``raw``."""
        checkpoints = [{**raw, **{k: v for k, v in asdict(c).items() if k in raw}}
                       for raw, c in zip(self.raw.get("checkpoints", []), self.checkpoints, strict=True)]
        return {**self.raw, "kind": self.kind, "reference": self.reference, "checkpoints": checkpoints,
                "probes": [p.to_dict() for p in self.probes], "routing": [
                    {**raw, **asdict(r)} for raw, r in zip(self.raw.get("routing", []), self.routing, strict=True)]}

    @classmethod
    def load(cls, run_dir: str | Path) -> AuditResults:
        """Read ``RUN_DIR/results.json`` (schema-checked)."""
        from offtarget.report.results import load_results

        return cls.from_dict(load_results(run_dir))

    def comparisons(self) -> list[ComparisonRow]:
        """Every paired comparison of the report (each with its Holm-adjusted p and flag)."""
        return [c for p in self.probes for c in p.comparisons]

    def flagged(self, flag: str | None = None) -> list[ComparisonRow]:
        """Comparisons flagged ``gain`` or ``regression`` (or only the given one)."""
        return [c for c in self.comparisons() if c.flag != "none" and (flag is None or c.flag == flag)]

    def metric(self, name: str, checkpoint: str, group: str) -> MetricRow | None:
        """One metric of one checkpoint on one group, with its interval, or None if not reported."""
        for p in self.probes:
            for m in p.metrics:
                if (m.metric, m.checkpoint, m.group) == (name, checkpoint, group):
                    return m
        return None


    def gate_fails(self, fail_on: str) -> bool:
        """Whether ``--fail-on`` (``regression``, ``any`` or ``none``) turns these results into exit 1."""
        if fail_on == "regression":
            return bool(self.flagged("regression"))
        return fail_on == "any" and bool(self.flagged())


def audit(models: dict[str, str], *, render: bool = True, console: Any = None, **settings: Any) -> AuditResults:
    """Run an audit from Python: the same settings as ``offtarget audit`` flags (fields of
    :class:`~offtarget.audit.config.AuditConfig`), validated the same way; writes ``results.json``
    and, with ``render``, the reports, into ``out``."""
    from offtarget.audit.config import AuditConfig
    from offtarget.config import load_config

    # validated once, by run_config, together with the checkpoints
    cfg = load_config(AuditConfig, None, {"models": dict(models), **settings}, validate=False)
    return run_config(cfg, console=console, render=render)


def run_config(cfg: Any, console: Any = None, render: bool = True) -> AuditResults:
    """Run the audit of an :class:`~offtarget.audit.config.AuditConfig` (what ``offtarget audit``
    and :func:`audit` both do): validate it and the checkpoints, sample, probe, write
    ``results.json`` and, with ``render``, the reports, all under the run directory's lock."""
    from offtarget.audit.runner import prepare_audit, run_prepared
    from offtarget.store.lock import RunLock

    plan = prepare_audit(cfg)
    with RunLock(cfg.out):
        results = AuditResults.from_dict(run_prepared(plan, console))
        if render:
            from offtarget.report.render import render_all

            results.reports = render_all(results, cfg.out)
    return results


__all__ = ["AuditResults", "CheckpointInfo", "Headline", "Route", "audit", "run_config"]
