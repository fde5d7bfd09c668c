"""Rewards by name, for the CLI and configs: a decorator registry and a loader for users' own.

    >>> from offtarget.rewards import get_reward, list_rewards, load_reward
    >>> list_rewards()  # doctest: +NORMALIZE_WHITESPACE
    ['brier', 'correctness', 'format', 'format_penalty', 'lenient_correctness', 'reasoning_gym', 'rlcr',
     'stepwise', 'ternary']
    >>> get_reward("ternary", abstain=0.0, wrong=-1.0).__name__
    'ternary'

Users' own reward functions load from a module on ``sys.path`` or from a file::

    load_reward("my_rewards:length_penalty")
    load_reward("path/to/my_rewards.py:length_penalty")

Registered names map to *factories*: ``get_reward(name, **kwargs)`` calls the factory with
``kwargs`` (``task=...`` and the reward's weights) and returns the reward function.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.registry import Registry, import_submodules

ENTRY_POINT_GROUP = "offtarget.rewards"
"""Third-party packages add reward factories here (``name = "my_rewards:make_length_penalty"``)."""

REWARDS: Registry[Callable[..., Callable]] = Registry(
    "reward", ENTRY_POINT_GROUP, builtin=lambda: import_submodules("offtarget.rewards"))
"""Reward factories by name; a name is registered once (:class:`offtarget.registry.Registry`).
Every module of :mod:`offtarget.rewards` is imported before the first lookup, so a new reward is
one new module with a ``@register_reward`` factory."""


def register_reward(name: str) -> Callable[[Callable[..., Callable]], Callable[..., Callable]]:
    """Register a reward factory under ``name`` (a decorator); a name can be registered once."""

    def decorate(factory: Callable[..., Callable]) -> Callable[..., Callable]:
        REWARDS.add(name, factory)
        return factory

    return decorate


def list_rewards() -> list[str]:
    """Every registered reward name, sorted."""
    return sorted(REWARDS.names())


def get_reward(name: str, /, **kwargs: Any) -> Callable:
    """Build the registered reward ``name`` with ``kwargs`` (the factory's keyword arguments).

    ``name`` is positional-only, so ``name=...`` among ``kwargs`` renames the built reward.
    """
    if name not in REWARDS:
        raise OfftargetError(
            f"unknown reward {name!r}: choose one of {', '.join(list_rewards())} "
            "or give 'module:function' for your own"
        )
    factory = REWARDS.get(name)
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as e:
        raise OfftargetError(f"reward {name!r}: {e}") from None
    return factory(**kwargs)


def load_reward(spec: str) -> Callable:
    """Import a user's reward function from ``"module:function"`` or ``"path/file.py:function"``.

    The attribute is returned as it is (a reward function with TRL's signature). A missing
    module, file or attribute, or one that is not callable, raises :class:`OfftargetError`
    with a one-line message.
    """
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise OfftargetError(f"reward {spec!r}: expected 'module:function' or 'path/to/file.py:function'")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise OfftargetError(f"reward {spec!r}: file {module_name} does not exist")
        mod_id = f"offtarget_user_reward_{abs(hash(str(path.resolve())))}"
        file_spec = importlib.util.spec_from_file_location(mod_id, path)
        if file_spec is None or file_spec.loader is None:
            raise OfftargetError(f"reward {spec!r}: cannot import {module_name} as Python")
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[mod_id] = module  # pickling a reward defined there needs its module registered
        try:
            file_spec.loader.exec_module(module)
        except Exception as e:
            sys.modules.pop(mod_id, None)
            raise OfftargetError(
                f"reward {spec!r}: importing {module_name} failed: {type(e).__name__}: {e}"
            ) from e
    else:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is not None and (module_name == e.name or module_name.startswith(e.name + ".")):
                raise OfftargetError(
                    f"reward {spec!r}: no module named {module_name!r} (is it on PYTHONPATH?)"
                ) from None
            raise OfftargetError(f"reward {spec!r}: importing {module_name} failed: {e}") from e
        except Exception as e:
            raise OfftargetError(
                f"reward {spec!r}: importing {module_name} failed: {type(e).__name__}: {e}"
            ) from e
    if not hasattr(module, attr):
        raise OfftargetError(f"reward {spec!r}: module {module_name} has no attribute {attr!r}")
    fn = getattr(module, attr)
    if not callable(fn):
        raise OfftargetError(
            f"reward {spec!r}: {attr!r} is a {type(fn).__name__}, not a callable reward function"
        )
    return fn


# ---------------------------------------------------------------- reasoning-gym's own scorers


def _score_reasoning_gym(problem, text, verdict):
    from offtarget.rewards.base import Scored, flag
    from offtarget.tasks.reasoning_gym import partial_credit

    value = partial_credit(problem, text)
    return Scored(value, {"correct": flag(verdict.correct),
                          "partial": None if value is None else flag(0.0 < value < 1.0)})


@register_reward("reasoning_gym")
def reasoning_gym_reward(task: Any = None, *, name: str = "reasoning_gym") -> Callable:
    """reasoning-gym's own ``score_answer`` on the completion's answer, partial credit where the family
    gives it (:func:`offtarget.tasks.reasoning_gym.partial_credit`); ``None`` on problems that are not
    from an ``rg:`` suite. ``task`` (e.g. ``"rg:chain_sum"``) decides the ``correct`` diagnostic."""
    from offtarget.rewards.base import VerdictReward

    return VerdictReward(name, _score_reasoning_gym, task)
