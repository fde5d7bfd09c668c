"""The metric catalogue: every number offtarget reports, with one name, meaning, direction, role
and computation.

The audit's probes, the training monitor, the report's prescriptions and the lab's claims all
name metrics; this is where a name is defined once, so the same word means the same number
everywhere (``abstention_recall`` is the share of samples of unanswerable problems that
abstain, in the audit and in the monitor alike). Names follow the audit's probes
(:mod:`offtarget.probes`); a family whose members are named at run time (``pass@k``,
``format_share_<format>``) is one entry with an ``fnmatch`` pattern.

Each family of metrics is one module of this package (``accuracy``, ``abstention``,
``calibration``, ``diversity``, ``formats``, ``drift``, ``shortcuts``, ``consistency``, ``two_phase``,
``defects``) where every metric is registered with its computation
(:mod:`offtarget.metrics.definition`: ``@metric(...)`` on a vectorised function, or ``define``
for a mean). Third-party packages add metrics through the ``offtarget.metrics`` entry-point group.

Fields of a :class:`Metric`:

- ``direction`` — ``higher`` or ``lower`` is better, or ``descriptive`` (reported with an
  interval, never flagged: a drift measure, a length, a label's share).
- ``role`` — ``target`` (what training optimises; a regression on it also blocks routing),
  ``serving_veto`` (off target, and a regression blocks routing a group's traffic to the
  checkpoint: the user of that traffic would see it), ``off_target`` (flagged, reported,
  does not veto routing by itself) or ``descriptive``.
- ``unit`` — what the number is and its range; ``probe`` — the module that reports it;
  ``source`` — the paper (or convention) the definition follows; ``compute`` — the vectorised
  computation (``None``: the mean of every entry).

    >>> get("abstention_recall").direction, get("pass@16").name
    ('higher', 'pass@k')
    >>> is_known("abstention_rate"), is_known("acc,none")
    (True, False)

    python -c "from offtarget.metrics import CATALOGUE; print(len(CATALOGUE))"
"""

from __future__ import annotations

from offtarget.metrics import (  # noqa: F401 - each module registers its family, in catalogue order
    abstention,
    accuracy,
    calibration,
    consistency,
    defects,
    diversity,
    drift,
    formats,
    shortcuts,
    two_phase,
)
from offtarget.metrics.definition import DIRECTIONS, METRICS, ROLES, Metric, define, metric


def catalogue() -> tuple[Metric, ...]:
    """Every metric: the families of this package, then those probes define, then entry points."""
    return tuple(m for _, m in METRICS.items())


CATALOGUE: tuple[Metric, ...] = tuple(METRICS.registered())
"""The metrics of this package's families, grouped by probe (:func:`catalogue` adds the rest)."""


def find(name: str) -> Metric | None:
    """The catalogue entry of ``name`` (a family member such as ``pass@16`` finds ``pass@k``), or None."""
    m = METRICS.find(name)
    if m is not None:
        return m
    return next((m for _, m in METRICS.items() if m.pattern and m.matches(name)), None)


def get(name: str) -> Metric:
    """Like :func:`find`, but an unknown name is a ``KeyError`` naming this module (a typo in code)."""
    m = find(name)
    if m is None:
        raise KeyError(f"metric {name!r} is not in offtarget.metrics.CATALOGUE; add it there or fix the name")
    return m


def is_known(name: str) -> bool:
    return find(name) is not None


def names() -> list[str]:
    return METRICS.names()


def vetoes_serving(name: str) -> bool:
    """A significant regression on ``name`` blocks routing a group's traffic (its role says so)."""
    m = find(name)
    return m is not None and m.vetoes_serving


__all__ = ["CATALOGUE", "DIRECTIONS", "METRICS", "ROLES", "Metric", "catalogue", "define", "find", "get",
           "is_known", "metric", "names", "vetoes_serving"]
