"""Run configurations: one dataclass per command, read from defaults ← a YAML file ← CLI flags.

Every command (``audit``, ``preflight``, ``lab run``, ``train sft|grpo``) is configured by a
dataclass whose fields each carry a docstring right under them. :func:`config_command` turns the
fields into CLI flags whose help text *is* that docstring (cleanrl's pattern), so flags, YAML
keys and documentation cannot drift apart, and :func:`load_config` applies one precedence rule
everywhere: flags given on the command line > ``--config FILE.yaml`` > the dataclass defaults.

Field types map to flags as follows: ``bool`` → ``--x/--no-x``; ``int``/``float``/``str`` →
``--x VALUE``; ``list[str]`` → repeat the flag; ``tuple[str, ...]`` → repeat it or separate by
commas; ``tuple[float, float]`` → ``--x LOW,HIGH``; ``dict`` → repeat ``--x KEY=VALUE`` (values
of ``dict[str, str]`` stay strings, other dicts' values are read as YAML scalars, so
``--engine-args tensor_parallel_size=2`` gives an int). A field's ``metadata`` may rename its
flag (``{"flag": "model", "short": "-m"}``).

Why not a flags library: ``HfArgumentParser``/``TrlParser`` and tyro each turn a dataclass into
flags, but none keeps all of today's behaviour. The HF parsers are argparse programs of their own
(they cannot be typer sub-commands next to ``report``, ``lab``, ``models``), take help from
``field(metadata={"help": ...})`` rather than the field docstrings, and ``TrlParser`` applies a
YAML file by rewriting argparse defaults, so a YAML list or mapping is not checked and converted
per field with a message naming the file and key. tyro reads field docstrings, but it also owns
``sys.argv`` (no typer app around it), has no ``--config FILE.yaml`` layer, and spells
``dict``/``tuple`` fields differently (``--models.base PATH``), which would change every
documented command line. What is left here is the part those libraries would not replace:
reading the docstrings (:func:`field_docs`), the YAML layer with its per-key errors, and typing
the few flag shapes (``NAME=PATH``, ``LOW,HIGH``, comma lists).

    >>> from offtarget.audit.config import AuditConfig
    >>> cfg = load_config(AuditConfig, None, {"models": {"base": "models/lab/base"}, "samples": 4})
    >>> cfg.samples, cfg.temperature
    (4, 1.0)
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from offtarget.errors import OfftargetError

C = TypeVar("C")


# ---------------------------------------------------------------------------------------------
# Field docs and types


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field, read from the source of ``cls`` and its bases.

    A subclass's docstring for a field it re-declares wins over the base's.
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not hasattr(klass, "__dataclass_fields__"):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def field_types(cls: type) -> dict[str, Any]:
    """Resolved type of every field (``from __future__ import annotations`` leaves strings)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def base_type(tp: Any) -> Any:
    """``X | None`` → ``X``; anything else unchanged."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def default_of(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def _kind(tp: Any) -> str:
    """How a field is read: bool, int, float, str, list, tuple (of str), pair (of floats), dict, strdict."""
    base = base_type(tp)
    origin = typing.get_origin(base) or base
    args = typing.get_args(base)
    if origin is tuple:
        return "tuple" if (len(args) == 2 and args[1] is Ellipsis) or not args else "pair"
    if origin is list:
        return "list"
    if origin is dict:
        return "strdict" if args == (str, str) else "dict"
    if base in (bool, int, float, str):
        return base.__name__
    return "any"


# ---------------------------------------------------------------------------------------------
# Values from YAML and from flags


def _coerce(cls: type, name: str, value: Any, source: str) -> Any:
    """A YAML value checked and converted to the field's type (one-line error naming file and key)."""
    kind = _kind(field_types(cls)[name])
    if value is None:
        return None
    if kind in ("list", "tuple"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise OfftargetError(f"{source}: {name} must be a list, got {type(value).__name__}")
        items = [str(v) for v in value]
        return tuple(items) if kind == "tuple" else items
    if kind == "pair":
        if isinstance(value, str):
            return _pair(name, value)
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise OfftargetError(f"{source}: {name} must be a pair [LOW, HIGH], got {value!r}")
        return tuple(float(v) for v in value)
    if kind in ("dict", "strdict"):
        if isinstance(value, (str, list)):  # the flags' form: NAME=PATH, or a list of them
            meta = cls.__dataclass_fields__[name].metadata  # type: ignore[attr-defined]
            items = [value] if isinstance(value, str) else [str(v) for v in value]
            return _key_values(f"{source}: {name}", items, as_yaml=kind == "dict", example=meta.get("example"))
        if not isinstance(value, dict):
            raise OfftargetError(f"{source}: {name} must be a mapping of key: value, got {type(value).__name__}")
        return {str(k): (str(v) if kind == "strdict" else v) for k, v in value.items()}
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise OfftargetError(f"{source}: {name} must be a number, got {value!r}")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise OfftargetError(f"{source}: {name} must be an integer, got {value!r}")
    if kind == "bool" and not isinstance(value, bool):
        raise OfftargetError(f"{source}: {name} must be true or false, got {value!r}")
    if kind == "str" and not isinstance(value, str):
        return str(value)
    return value


def _pair(name: str, text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise OfftargetError(f"--{_dash(name)} {text!r}: write LOW,HIGH, e.g. 0.1,0.9") from None
    return low, high


def _key_values(flag: str, items: list[str], as_yaml: bool, example: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OfftargetError(f"{flag} {item!r}: write {example or 'KEY=VALUE'} (repeat the flag for several)")
        if key in out:
            raise OfftargetError(f"{flag} {item!r}: {key!r} given twice")
        out[key] = yaml.safe_load(value) if as_yaml and value else value
    return out


def _from_flag(cls: type, name: str, value: Any) -> Any:
    """A flag's raw value (as typer parsed it) converted to the field's type."""
    kind = _kind(field_types(cls)[name])
    flag = "--" + _flag_name(cls, name)
    if kind == "tuple":
        out: list[str] = []
        for v in value:
            out += [x.strip() for x in str(v).split(",") if x.strip() and x.strip() not in out]
        return tuple(out)
    if kind == "pair":
        return _pair(name, value)
    if kind in ("dict", "strdict"):
        meta = cls.__dataclass_fields__[name].metadata  # type: ignore[attr-defined]
        return _key_values(flag, list(value), as_yaml=kind == "dict", example=meta.get("example"))
    return value


def _yaml_keys(cls: type, loaded: dict, source: str) -> dict:
    """YAML keys may be written as the field (``models``, ``max_new_tokens``) or as the flag
    (``model``, ``max-new-tokens``): the README promises the YAML holds the flags' keys."""
    by_flag = {_flag_name(cls, f.name): f.name for f in fields(cls)}
    by_flag.update({_dash(f.name): f.name for f in fields(cls)})
    out: dict = {}
    for key, value in loaded.items():
        name = by_flag.get(_dash(str(key)), key)
        if name in out:
            raise OfftargetError(f"{source}: {key!r} and {name!r} both set {name}; keep one")
        out[name] = value
    return out


def load_config(cls: type[C], path: str | Path | None, overrides: dict[str, Any] | None = None,
                validate: bool = True) -> C:
    """Defaults ← YAML file (if given) ← ``overrides`` (flags that were set, already typed); validated
    with the config's own ``validate()`` unless ``validate=False``."""
    known = {f.name for f in fields(cls)}
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise OfftargetError(f"{path}: cannot read the config ({exc})") from None
        if not isinstance(loaded, dict):
            raise OfftargetError(f"{path}: expected a mapping of option: value, got {type(loaded).__name__}")
        loaded = _yaml_keys(cls, loaded, str(path))
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise OfftargetError(f"{path}: unknown key(s) {unknown}; valid keys: {sorted(known)}")
        data = {k: _coerce(cls, k, v, str(path)) for k, v in loaded.items()}
    for k, v in (overrides or {}).items():
        if k not in known:
            raise OfftargetError(f"unknown option {k!r} for {cls.__name__}")
        if v is not None:
            data[k] = v
    cfg = cls(**data)
    check = getattr(cfg, "validate", None)
    if validate and callable(check):
        check()
    return cfg


def config_to_yaml(cfg: Any) -> str:
    """The resolved config as YAML, one key per field, in declaration order."""
    return yaml.safe_dump(_plain(asdict(cfg)), sort_keys=False)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


# ---------------------------------------------------------------------------------------------
# CLI commands generated from a config dataclass


def _dash(name: str) -> str:
    return name.replace("_", "-")


def _flag_name(cls: type, name: str) -> str:
    meta = cls.__dataclass_fields__[name].metadata  # type: ignore[attr-defined]
    return _dash(meta.get("flag", name))


def _option_type(kind: str, tp: Any) -> Any:
    if kind in ("list", "tuple", "dict", "strdict"):
        return list[str] | None
    if kind == "pair":
        return str | None
    return base_type(tp) | None


def _shown(default: Any) -> str:
    if default is None or default == {} or default == ():
        return "none"
    if isinstance(default, dict):
        return ", ".join(f"{k}={v}" for k, v in default.items())
    if isinstance(default, (list, tuple)):
        return ",".join(str(x) for x in default)
    return str(default)


def config_command(
    app: Any,
    cls: type,
    run: Callable[[Any], Any],
    name: str,
    help_text: str,
    *,
    extras: dict[str, tuple[Any, Any]] | None = None,
    prepare: Callable[[dict[str, Any], dict[str, Any], Path | None], Path | None] | None = None,
    validate: bool = True,
) -> Callable[..., None]:
    """Register ``name`` on the typer ``app`` with ``--config`` and one flag per field of ``cls``.

    ``extras`` adds parameters that are not config fields (``name: (annotation, typer.Option or
    typer.Argument)``); ``prepare(given, extra_values, config_path)`` may adjust the given flags in
    place (e.g. ``--quick`` choosing recipes) and returns the YAML path to use. ``run`` gets the
    loaded config, validated unless ``validate=False`` (for a ``run`` that validates it first itself).
    """
    import typer

    docs = field_docs(cls)
    tps = field_types(cls)
    extras = extras or {}
    params = [
        inspect.Parameter(
            "config", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
            default=typer.Option(None, "--config", help="YAML file with the same keys as these flags "
                                 "(flags given on the command line win)."),
        )
    ]
    annotations: dict[str, Any] = {"config": Path | None, "return": None}
    for extra, (ann, default) in extras.items():
        params.append(inspect.Parameter(extra, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=default))
        annotations[extra] = ann
    for f in fields(cls):
        if f.metadata.get("cli") is False:
            continue
        kind = _kind(tps[f.name])
        flag = _flag_name(cls, f.name)
        decls = [f"--{flag}/--no-{flag}"] if kind == "bool" else [f"--{flag}"]
        if f.metadata.get("short"):
            decls.append(f.metadata["short"])
        doc = docs.get(f.name, "").replace("``", "")
        help_ = f"{doc} [default: {_shown(default_of(f))}]".strip()
        ann = _option_type(kind, tps[f.name])
        params.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=ann,
            default=typer.Option(None, *decls, help=help_, show_default=False),
        ))
        annotations[f.name] = ann

    def command(**kwargs: Any) -> None:
        path = kwargs.pop("config")
        extra_values = {k: kwargs.pop(k) for k in extras}
        given = {k: _from_flag(cls, k, v) for k, v in kwargs.items() if v is not None}
        if prepare is not None:
            path = prepare(given, extra_values, path)
        run(load_config(cls, path, given, validate=validate))

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__doc__ = help_text
    command.__name__ = name.replace("-", "_")
    app.command(name, help=help_text)(command)
    return command


__all__ = ["config_command", "config_to_yaml", "default_of", "field_docs", "field_types", "load_config"]
