"""Task suites by name: a decorator registry, third-party suites by entry point, one suite-string grammar.

Every place that takes a suite (``offtarget audit --suite``, ``preflight --suite``, training
configs, rewards built with ``task="..."``) resolves it here, with :func:`get_task`::

    arithmetic                                 a registered name
    rg:basic_arithmetic                        NAME:ARGUMENT (here a reasoning-gym family)
    rg:chain_sum?max_digits=2&ood.max_digits=5 NAME:ARGUMENT?OPTION=VALUE&...
    hf:openai/gsm8k?config=main                a Hugging Face dataset
    path/to/tasks.jsonl                        a file, by its suffix
    path/to/suite.yaml                         a suite file: ``suite:`` plus options as YAML keys

A suite file holds what does not fit in a string (regexes with ``&``, templates, split maps)::

    # gsm8k.yaml — offtarget audit --suite gsm8k.yaml ...
    suite: hf:openai/gsm8k
    config: main
    answer_regex: "####\\\\s*(.+)"

Options in the string arrive as strings, options from YAML with their YAML types; each suite
documents and converts its own.

**Third-party suites.** A package adds suites through the ``offtarget.tasks`` entry-point group::

    # pyproject.toml of my-tasks
    [project.entry-points."offtarget.tasks"]
    mytask = "my_tasks:make_task"

The object is called ``make_task(**options)`` for ``--suite mytask?k=v`` and
``make_task(argument, **options)`` for ``--suite mytask:argument?k=v``, and must return an
object with the :class:`~offtarget.tasks.Task` protocol (a ``Task`` class works as its own
factory). Built-in names win over an entry point of the same name.

    >>> from offtarget.tasks.registry import get_task, list_tasks
    >>> get_task("arithmetic").name
    'arithmetic'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from offtarget.errors import OfftargetError
from offtarget.registry import Registry, import_submodules
from offtarget.tasks.problem import Task

ENTRY_POINT_GROUP = "offtarget.tasks"
"""The entry-point group third-party packages register suites in."""

_NAMES: Registry[Callable[..., Task]] = Registry("suite", builtin=lambda: import_submodules("offtarget.tasks"))
"""Built-in suite factories by name (:class:`offtarget.registry.Registry`: a name is registered once).
Entry points are not loaded into it: they are listed at each lookup (a package installed while
a process runs is seen) and loaded only when their suite is asked for. Every module of
:mod:`offtarget.tasks` is imported before the first lookup: a new suite is one new module."""
_SUFFIXES: Registry[Callable[..., Task]] = Registry("suite file suffix")
_HINTS: dict[str, str] = {}
_ALIASES: set[str] = set()


def register_task(*names: str, hint: str | None = None) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    """Register a suite factory under ``names`` (a decorator).

    A name that starts with a dot (``".jsonl"``) is a file suffix: the factory gets the path.
    ``hint`` is how listings show the first name (e.g. ``"rg:FAMILY"``); later names are aliases.
    """

    def decorate(factory: Callable[..., Task]) -> Callable[..., Task]:
        for name in names:
            (_SUFFIXES if name.startswith(".") else _NAMES).add(name, factory)
        if hint:
            _HINTS[names[0]] = hint
        _ALIASES.update(n for n in names[1:] if not n.startswith("."))
        return factory

    return decorate


@dataclass(frozen=True)
class SuiteSpec:
    """A parsed suite string: ``NAME[:ARGUMENT][?OPTION=VALUE&...]``."""

    text: str
    """The suite string as given."""
    name: str
    """The registered name (or file suffix) that builds it."""
    argument: str | None = None
    """What follows ``NAME:`` (a family, a dataset, a path), or ``None``."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options for the factory."""


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        old = found.get(ep.name)
        if old is not None and old.value != ep.value:
            raise OfftargetError(
                f"suite {ep.name!r} is registered by two installed packages ({old.value} and {ep.value}); "
                "uninstall one"
            )
        found[ep.name] = ep
    return found


def list_tasks() -> list[str]:
    """Every suite name: built-ins (as written on the command line) and installed entry points, sorted."""
    names = {_HINTS.get(n, n) for n in _NAMES if n not in _ALIASES}
    names |= {n for n in _entry_points() if n not in _NAMES}
    return sorted(names)


def _options(text: str, query: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise OfftargetError(f"suite {text!r}: options after '?' must read KEY=VALUE&KEY=VALUE") from None
    for key, value in pairs:
        if key in options:
            raise OfftargetError(f"suite {text!r}: option {key!r} is given twice")
        options[key] = value
    return options


def parse_suite(text: str) -> SuiteSpec:
    """Split a suite string into the name that builds it, its argument and its options."""
    if not isinstance(text, str) or not text.strip():
        raise OfftargetError("suite is empty: give a name such as 'arithmetic' or a path to a .jsonl file")
    text = text.strip()
    head, _, query = text.partition("?")
    name, colon, argument = head.partition(":")
    if colon and (name in _NAMES or name in _entry_points()):
        return SuiteSpec(text, name, argument or None, _options(text, query))
    suffix = Path(head).suffix.lower()
    if suffix in _SUFFIXES:
        return SuiteSpec(text, suffix, head, _options(text, query))
    return SuiteSpec(text, head if not colon else name, argument or None if colon else None, _options(text, query))


def _unknown(text: str) -> OfftargetError:
    files = " / ".join(sorted(_SUFFIXES))
    return OfftargetError(f"unknown suite {text!r}: choose one of {', '.join(list_tasks())} or a path to a {files} file")


def build(factory: Callable[..., Task], spec: SuiteSpec) -> Task:
    """Call ``factory`` with the spec's argument and options; bad options become one-line errors."""
    args = () if spec.argument is None else (spec.argument,)
    try:
        inspect.signature(factory).bind(*args, **spec.options)
    except TypeError as e:
        raise OfftargetError(f"suite {spec.text!r}: {e}") from None
    except ValueError:  # a builtin or C callable without a signature: let the call decide
        pass
    try:
        task = factory(*args, **spec.options)
    except OfftargetError:
        raise
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise OfftargetError(f"suite {spec.text!r}: building it failed: {type(e).__name__}: {first}") from e
    if not isinstance(task, Task):
        raise OfftargetError(
            f"suite {spec.text!r}: its factory returned a {type(task).__name__}, which lacks the Task protocol "
            "(name, formats, problems(split, n, seed), verify(problem, completion))"
        )
    return task


def _factory(spec: SuiteSpec) -> Callable[..., Task]:
    factory = _SUFFIXES.find(spec.name) if spec.name.startswith(".") else _NAMES.find(spec.name)
    if factory is not None:
        return factory
    ep = _entry_points().get(spec.name)
    if ep is None:
        raise _unknown(spec.text)
    try:
        return ep.load()
    except Exception as e:
        raise OfftargetError(
            f"suite {spec.name!r}: cannot load entry point {ep.value} ({type(e).__name__}: {e})"
        ) from e


def get_task(suite: str) -> Task:
    """The task a suite string names (see the module docstring); unknown names list what exists."""
    spec = parse_suite(suite)
    return build(_factory(spec), spec)


# ---------------------------------------------------------------- built-in suites kept in other modules


@register_task("arithmetic")
def arithmetic_suite() -> Task:
    """The lab's synthetic addition (:mod:`offtarget.tasks.arithmetic`)."""
    from offtarget.tasks.arithmetic import ArithmeticTask

    return ArithmeticTask()


@register_task(".jsonl")
def jsonl_suite(path: str) -> Task:
    """A JSONL task file (:mod:`offtarget.tasks.jsonl`)."""
    from offtarget.tasks.jsonl import JsonlTask

    return JsonlTask.from_file(path)


@register_task(".yaml", ".yml")
def suite_file(path: str) -> Task:
    """A YAML suite file: ``suite: NAME...`` and the suite's options as the other keys."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise OfftargetError(f"suite file {p}: file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f":{where.line + 1}" if where is not None else ""
        raise OfftargetError(f"suite file {p}{line}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("suite"), str):
        raise OfftargetError(f"suite file {p}: needs a key 'suite' naming the suite, e.g. 'suite: hf:openai/gsm8k'")
    inner = parse_suite(data.pop("suite"))
    if inner.name in (".yaml", ".yml"):
        raise OfftargetError(f"suite file {p}: 'suite' names another suite file; name the suite itself")
    clash = set(inner.options) & set(data)
    if clash:
        raise OfftargetError(f"suite file {p}: option(s) {sorted(clash)} given both in 'suite' and as keys")
    options = {str(k): v for k, v in data.items()}
    spec = SuiteSpec(f"{inner.text} (from {p})", inner.name, inner.argument, {**inner.options, **options})
    return build(_factory(spec), spec)
