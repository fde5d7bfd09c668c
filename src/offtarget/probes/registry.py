"""Probes register themselves by name; ``--probes`` selects them.

A probe is one module of :mod:`offtarget.probes` with one function decorated with
:func:`register_probe` (``CONTRIBUTING.md`` shows a whole one). Third-party packages add probes
through the ``offtarget.probes`` entry-point group (a module that registers with the decorator,
or a ``run(ctx)`` function, registered under the entry point's name). A name is registered once
(:class:`offtarget.registry.Registry`).

    >>> from offtarget.probes import list_probes, get_probe
    >>> list_probes()[:3]
    ['abstention', 'accuracy', 'calibration']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.registry import Registry, import_submodules

ENTRY_POINT_GROUP = "offtarget.probes"


@dataclass(frozen=True)
class ProbeInfo:
    name: str
    run: Callable[[Any], Any]
    needs_models: bool
    """True when the probe loads checkpoints again (forward passes or weights), beyond stored samples."""
    variants: Callable[[Any, list], list] | None = None
    """``variants(cfg, problems)``: extra prompts (e.g. re-framed problems) the audit samples with the
    suite's own before probes run; the probe reads their evidence from ``ctx.variants[name]``."""
    in_all: bool = True
    """False for a probe that multiplies the audit's cost (the framing probe samples every problem
    again under each frame): ``--probes all`` leaves it out and it runs only when named."""
    reads: tuple[str, ...] = ()
    """Probes whose results this one reads when they ran earlier in the same audit (plasticity shows
    the kl probe's drift beside its own numbers); which of them ran is part of its cache key."""


def _builtin() -> None:
    import_submodules("offtarget.probes", skip=("base", "registry", "context", "settings"))


PROBES: Registry[ProbeInfo] = Registry("probe", ENTRY_POINT_GROUP, builtin=_builtin,
                                       from_entry_point=lambda name, fn: ProbeInfo(name, fn, False))
"""Every probe by name, built-ins in module order, then entry points."""


def register_probe(name: str, needs_models: bool = False, variants: Callable[[Any, list], list] | None = None,
                   in_all: bool = True, reads: tuple[str, ...] = ()):
    """Register ``run(ctx) -> ProbeResult`` as the probe ``name`` (a decorator); ``variants``,
    ``in_all`` and ``reads``: see :class:`ProbeInfo`."""

    def deco(fn):
        PROBES.add(name, ProbeInfo(name, fn, needs_models, variants, in_all, tuple(reads)))
        return fn

    return deco


def list_probes() -> list[str]:
    return PROBES.names()


def get_probe(name: str) -> ProbeInfo:
    info = PROBES.find(name)
    if info is None:
        raise OfftargetError(f"unknown probe {name!r}; choose from {', '.join(PROBES.names())} or 'all'")
    return info


def select(names: tuple[str, ...] | list[str]) -> list[ProbeInfo]:
    """Expand ``all`` (every probe but the opt-in ones, which are added when named) and validate
    names, keeping the registry's order."""
    registered = PROBES.names()
    wanted = list(names)
    if "all" in names:
        wanted = [n for n in registered if PROBES.get(n).in_all or n in names]
    for n in wanted:
        get_probe(n)
    return [PROBES.get(n) for n in registered if n in wanted]
