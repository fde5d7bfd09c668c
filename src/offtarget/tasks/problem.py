"""The records every task shares: a :class:`Problem`, a :class:`Verdict`, and the :class:`Task` protocol.

A task turns a seed into problems and a completion into a verdict. Probes, rewards and the
preflight all read verdicts, never raw text, so one strict verifier defines "correct" everywhere.

    >>> from offtarget.tasks import get_task
    >>> task = get_task("arithmetic")
    >>> p = task.problems("test", 3, seed=0)[0]
    >>> task.verify(p, "d 85<c>7").correct
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

SPLITS = ("train", "test", "ood")
"""``train`` feeds training; ``test`` is held-out in distribution; ``ood`` is shifted."""


@dataclass(frozen=True)
class Problem:
    """One prompt with its reference answer.

    ``slice`` names a sub-population inside a split (e.g. ``carries=2``) so probes can
    report where a change happened, not only that it happened.
    """

    id: str
    prompt: str
    answer: str | None
    """Reference answer; ``None`` when the right response is to abstain."""
    split: str = "test"
    slice: str = "all"
    should_abstain: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def store_key(self) -> str:
        """The id the generation store files this problem's samples under: the id plus a digest of
        the prompt, so two wordings of one problem (a suite and its ``?confidence=1`` variant)
        sharing a ``--store`` never read each other's samples."""
        return f"{self.id}#{hashlib.sha256(self.prompt.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        return cls(**d)


@dataclass(frozen=True)
class Verdict:
    """What a strict verifier concluded about one completion."""

    answer: str | None
    """The parsed final answer (normalised), or ``None`` if none could be parsed."""
    correct: bool
    abstained: bool
    format: str
    """Output-format label, e.g. ``direct``/``steps``/``reversed``, ``abstain`` or ``malformed``."""
    confidence: float | None = None
    """Stated confidence in [0, 1] when the completion carries a parseable one."""
    steps_ok: bool | None = None
    """For formats with intermediate steps: whether the steps are present and consistent."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Task(Protocol):
    """A family of verifiable problems with a strict verifier."""

    name: str
    formats: tuple[str, ...]
    """Every format label :meth:`verify` can return besides ``abstain``, ``malformed`` and
    ``truncated-reasoning`` (an unclosed ``<think>``: no answer, and no format)."""

    def problems(self, split: str, n: int, seed: int = 0) -> list[Problem]:
        """``n`` problems of ``split``, deterministic in ``seed``."""
        ...

    def verify(self, problem: Problem, completion: str) -> Verdict:
        """Strictly verify one completion against ``problem``."""
        ...


def split_draw(family: str, split: str, splits: tuple[str, ...], n: int, seed: int,
               unanswerable_share: float) -> tuple[random.Random, int, int]:
    """Start drawing ``n`` problems of a synthetic family's ``split``: the split checked against
    ``splits``, its own generator (seeded by family, split and seed, so splits never share a
    stream), and how many of the ``n`` are answerable and unanswerable.

        >>> rng, answerable, unanswerable = split_draw("demo", "test", ("train", "test"), 10, 0, 0.2)
        >>> answerable, unanswerable
        (8, 2)
    """
    if split not in splits:
        raise ValueError(f"unknown split {split!r}; choose {', '.join(splits[:-1])} or {splits[-1]}")
    n_unans = round(n * unanswerable_share)
    return random.Random(f"{family}/{split}/{seed}"), n - n_unans, n_unans
