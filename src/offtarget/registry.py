"""One registry type for everything offtarget looks up by name: probes, metrics, rewards, suites,
red-team patterns, plots.

A :class:`Registry` maps a name to an entry. Built-in entries register themselves with a
decorator when their module is imported (``@register_probe("accuracy")``, ``@metric(...)``);
third-party packages add theirs through an entry-point group (``offtarget.probes``,
``offtarget.rewards``, ...), read once, the first time a name is looked up. The collision rule
is the same everywhere: **a name is registered once**. A second, different entry under a name
already taken is an :class:`~offtarget.errors.OfftargetError` naming both; re-importing the
same module (a reload, a doctest) replaces its own entry. This follows lm-evaluation-harness's
``api/registry.py`` and inspect_ai's registry, where a name is an identity, not a slot.

    >>> colours = Registry("colour")
    >>> colours.add("red", "#f00")
    '#f00'
    >>> colours.get("red"), colours.names()
    ('#f00', ['red'])
    >>> colours.add("red", "#e00")
    Traceback (most recent call last):
    offtarget.errors.OfftargetError: colour 'red' is registered twice ('#f00' and '#e00'); rename one of them
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any, Generic, TypeVar

from offtarget.errors import OfftargetError

T = TypeVar("T")


def origin_of(entry: Any) -> tuple[str, str] | None:
    """Where an entry was defined — ``(module, qualified name)`` of the entry or of the function it
    wraps (its ``fn``/``run``/``compute`` attribute) — or ``None`` for a plain value."""
    for obj in (entry, *(getattr(entry, a, None) for a in ("fn", "run", "compute", "factory"))):
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if module and qualname and callable(obj):
            return module, qualname
    return None


class Registry(Generic[T]):
    """Name → entry, with a loader for the built-in modules and an entry-point group."""

    def __init__(self, kind: str, group: str | None = None, *, builtin: Callable[[], None] | None = None,
                 from_entry_point: Callable[[str, Any], T] | None = None) -> None:
        self.kind = kind
        """What an entry is, in messages (``probe``, ``reward``, ``suite``...)."""
        self.group = group
        """The entry-point group third-party packages register in (``None``: built-ins only)."""
        self._builtin = builtin
        self._from_entry_point = from_entry_point
        self._entries: dict[str, T] = {}
        self._loaded = False
        self._loading = False

    # -- filling ---------------------------------------------------------------------------------
    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; a different entry under a taken name is an error."""
        old = self._entries.get(name)
        if old is not None and old is not entry:
            same = origin_of(old) is not None and origin_of(old) == origin_of(entry)
            if not same:
                raise OfftargetError(f"{self.kind} {name!r} is registered twice ({_describe(old)} and "
                                     f"{_describe(entry)}); rename one of them")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Forget ``name`` (tests registering a throwaway entry clean up with this)."""
        self._entries.pop(name, None)

    def load(self) -> None:
        """Import the built-in modules and the entry-point group, once."""
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            if self._builtin is not None:
                self._builtin()
            if self.group is not None:
                for ep in metadata.entry_points(group=self.group):
                    self._load_entry_point(ep)
            self._loaded = True
        finally:
            self._loading = False

    def _load_entry_point(self, ep: metadata.EntryPoint) -> None:
        try:
            obj = ep.load()
        except Exception as exc:
            raise OfftargetError(f"{self.kind} entry point {ep.name!r} ({ep.value}) in group {self.group!r} "
                                 f"failed to import: {type(exc).__name__}: {exc}") from exc
        if ep.name in self._entries and origin_of(self._entries[ep.name]) == origin_of(obj):
            return  # its module registered it with the decorator while being imported
        entry = self._from_entry_point(ep.name, obj) if self._from_entry_point else obj
        self.add(ep.name, entry)

    # -- reading ---------------------------------------------------------------------------------
    def find(self, name: str) -> T | None:
        self.load()
        return self._entries.get(name)

    def get(self, name: str) -> T:
        """The entry of ``name``; an unknown name is an OfftargetError listing the known ones."""
        entry = self.find(name)
        if entry is None:
            raise OfftargetError(f"unknown {self.kind} {name!r}; choose from {', '.join(self._entries) or 'none'}")
        return entry

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        self.load()
        return list(self._entries)

    def registered(self) -> list[T]:
        """The entries registered so far, without loading anything more."""
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        self.load()
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self.load()
        return len(self._entries)


def _describe(entry: Any) -> str:
    where = origin_of(entry)
    return f"{where[0]}.{where[1]}" if where else repr(entry)


def import_submodules(package: str, skip: tuple[str, ...] = ()) -> None:
    """Import every module of ``package`` but ``skip``: how a registry loads its built-ins."""
    import importlib
    import pkgutil

    pkg = importlib.import_module(package)
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in skip and not mod.name.startswith("_"):
            importlib.import_module(f"{package}.{mod.name}")


__all__ = ["Registry", "import_submodules", "origin_of"]
