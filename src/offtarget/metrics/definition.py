"""What a metric is: one registered definition — computation, direction, role, unit, source.

Every number offtarget reports is defined once, here, and used by name everywhere: the audit's
probes build their comparisons from it (:func:`offtarget.probes.base.spec_of`), the training
monitor computes its fields with it, preflight's defect audit, the lab's claims, the routing
vetoes of :mod:`offtarget.audit.compare` and the report's prescriptions read its direction and
role. The form follows inspect_ai's ``@metric`` and lm-evaluation-harness's registered metrics:
a decorated function is the computation, the decorator's arguments its catalogue entry.

A computation is *vectorised*: it takes arrays whose leading axis is the bootstrap resample and
returns one value per resample (``(resamples, problems, samples)`` → ``(resamples,)``). A
metric with no computation is the mean of every entry of its one array
(:func:`offtarget.stats.bootstrap.batched_mean`, the audit's fast path). :meth:`Metric.value`
computes it once, on arrays without the resample axis.

    >>> from offtarget.metrics import get
    >>> get("abstention_recall").value(np.array([[1.0, 0.0], [1.0, 1.0]]))   # the mean: 3 of 4 abstain
    0.75
    >>> get("abstention_f1").compute.__module__
    'offtarget.metrics.abstention'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np

from offtarget.registry import Registry
from offtarget.stats.additive import additive

DIRECTIONS = ("higher", "lower", "descriptive")
ROLES = ("target", "serving_veto", "off_target", "descriptive")
SHARE = "share in [0, 1]"


@dataclass(frozen=True)
class Metric:
    """One entry of the catalogue."""

    name: str
    """The name probes, the monitor and reports use (``pass@k`` for the family ``pass@*``)."""
    meaning: str
    """What the number is, in one sentence a reader of a report can check."""
    direction: str
    """``higher`` / ``lower`` is better, or ``descriptive`` (never flagged)."""
    role: str
    """``target`` (what training optimises; a regression on it also blocks routing),
    ``serving_veto`` (off target, and a regression blocks routing a group's traffic to the
    checkpoint), ``off_target`` (flagged, does not veto routing) or ``descriptive``."""
    unit: str
    """Unit and range, e.g. ``share in [0, 1]`` or ``nats ≥ 0``."""
    probe: str
    """The audit probe (or check) that reports it."""
    source: str
    """The paper or convention its definition follows."""
    pattern: str | None = None
    """``fnmatch`` pattern for a family named at run time (``pass@*``); ``None``: the name itself."""
    compute: Callable[..., np.ndarray] | None = None
    """The vectorised computation (see the module docstring); ``None``: the mean of every entry."""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS or self.role not in ROLES:
            raise ValueError(f"metric {self.name!r}: direction must be one of {DIRECTIONS}, role one of {ROLES}")
        if (self.direction == "descriptive") != (self.role == "descriptive"):
            raise ValueError(f"metric {self.name!r}: a descriptive direction goes with the descriptive role")

    @property
    def higher_is_better(self) -> bool | None:
        """The :class:`~offtarget.probes.base.MetricSpec` convention: True, False, or None (descriptive)."""
        return {"higher": True, "lower": False}.get(self.direction)

    @property
    def vetoes_serving(self) -> bool:
        """A significant regression on it blocks routing that group's traffic to the checkpoint."""
        return self.role in ("target", "serving_veto")

    @property
    def statistic(self) -> Callable[..., np.ndarray]:
        """The computation, with the mean of every entry for a metric that has none."""
        from offtarget.stats.bootstrap import batched_mean

        return self.compute or batched_mean

    def value(self, *arrays: np.ndarray, **options) -> float | None:
        """The metric on one set of arrays (no resample axis); ``None`` where it is undefined."""
        out = float(self.statistic(*(np.asarray(a, dtype=float)[None] for a in arrays), **options)[0])
        return out if np.isfinite(out) else None

    def matches(self, name: str) -> bool:
        return fnmatchcase(name, self.pattern) if self.pattern else name == self.name


def _builtin() -> None:
    """The families of this package, and the metrics probes define next to themselves (a probe is
    one file: its metrics may be registered there, see ``CONTRIBUTING.md``)."""
    import offtarget.metrics  # noqa: F401 - registers the families
    from offtarget.probes.registry import PROBES

    PROBES.load()


METRICS: Registry[Metric] = Registry("metric", "offtarget.metrics", builtin=_builtin)
"""Every metric by name (a family under its family name, ``pass@k``)."""


def define(name: str, meaning: str, direction: str, role: str, unit: str, probe: str, source: str, *,
           pattern: str | None = None, compute: Callable[..., np.ndarray] | None = None) -> Metric:
    """Register a metric (the catalogue entry of a mean, or of a computation defined elsewhere)."""
    return METRICS.add(name, Metric(name, meaning, direction, role, unit, probe, source, pattern, compute))


def metric(name: str, meaning: str, direction: str, role: str, unit: str, probe: str, source: str, *,
           pattern: str | None = None):
    """Register the decorated vectorised function as the computation of metric ``name``."""

    def deco(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        define(name, meaning, direction, role, unit, probe, source, pattern=pattern, compute=fn)
        return fn

    return deco


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den is 0 (an undefined share, not a zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def flat_sum(a: np.ndarray) -> np.ndarray:
    """Sum over everything but the leading (resample) axis."""
    return a.reshape(a.shape[0], -1).sum(1)


def _num_den(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return num, den


@additive(_num_den)
def ratio_of_sums(sums: np.ndarray) -> np.ndarray:
    """Σ num / Σ den per resample (pooled over problems and samples); NaN where Σ den = 0.

    Called as ``ratio_of_sums(num, den)``; an :class:`~offtarget.stats.additive.Additive`, so every
    relabelling and bootstrap resample of it is two matrix products (numerator and denominator)."""
    return ratio(sums[:, 0], sums[:, 1])


def _finite_and_count(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a)
    return np.where(ok, a, 0.0), ok.astype(float)


@additive(_finite_and_count)
def nanmean_rows(sums: np.ndarray) -> np.ndarray:
    """Mean over problems of per-problem values, NaN (undefined) entries left out.

    Called as ``nanmean_rows(values)``; Σ finite values / their count, an
    :class:`~offtarget.stats.additive.Additive`, so its relabellings and resamples are matrix products."""
    return ratio(sums[:, 0], sums[:, 1])


__all__ = ["DIRECTIONS", "METRICS", "ROLES", "SHARE", "Metric", "define", "flat_sum", "metric", "nanmean_rows",
           "ratio", "ratio_of_sums"]
