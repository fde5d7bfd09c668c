"""Probes register themselves by name; ``--probes`` selects them.

    >>> from offtarget.probes import list_probes, get_probe
    >>> list_probes()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from offtarget.errors import OfftargetError


@dataclass(frozen=True)
class ProbeInfo:
    name: str
    run: Callable[[Any], Any]
    needs_models: bool
    """True when the probe loads checkpoints again (forward passes or weights), beyond stored samples."""
    variants: Callable[[Any, list], list] | None = None
    """``variants(cfg, problems)``: extra prompts (e.g. re-framed problems) the audit samples with the
    suite's own before probes run; the probe reads their evidence from ``ctx.variants[name]``."""


_PROBES: dict[str, ProbeInfo] = {}


def register_probe(name: str, needs_models: bool = False, variants: Callable[[Any, list], list] | None = None):
    def deco(fn):
        _PROBES[name] = ProbeInfo(name, fn, needs_models, variants)
        return fn

    return deco


def list_probes() -> list[str]:
    _load_builtin()
    return list(_PROBES)


def get_probe(name: str) -> ProbeInfo:
    _load_builtin()
    if name not in _PROBES:
        raise OfftargetError(f"unknown probe {name!r}; choose from {', '.join(_PROBES)} or 'all'")
    return _PROBES[name]


def select(names: tuple[str, ...] | list[str]) -> list[ProbeInfo]:
    """Expand ``all`` and validate names, keeping the registry's order."""
    _load_builtin()
    wanted = list(_PROBES) if "all" in names else list(names)
    for n in wanted:
        get_probe(n)
    return [_PROBES[n] for n in _PROBES if n in wanted]


def _load_builtin() -> None:
    import importlib
    import pkgutil

    import offtarget.probes as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("base", "registry", "context"):
            importlib.import_module(f"offtarget.probes.{mod.name}")
