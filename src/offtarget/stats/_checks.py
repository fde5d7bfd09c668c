"""Input checks and strict-JSON helpers shared by the statistics modules (private).

Every public statistic validates its inputs here so that a bad array fails with one line that
says what is wrong and how to fix it, instead of returning a silent NaN. Result records use
:func:`finite_or_none` so that NaN and infinity never reach a results file: JSON has no NaN,
and ``json.dumps(..., allow_nan=False)`` must always succeed on a report.

    >>> as_binary([True, 0, 1]).tolist()
    [1.0, 0.0, 1.0]
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike


def as_probability(x: ArrayLike, name: str = "confidence") -> np.ndarray:
    """``x`` as a 1-D float array of values in [0, 1]; raise ``ValueError`` otherwise."""
    a = np.asarray(x, dtype=float).ravel()
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinity; drop or fix those rows before scoring")
    if a.size and (a.min() < 0.0 or a.max() > 1.0):
        raise ValueError(f"{name} must lie in [0, 1]; got values in [{a.min():g}, {a.max():g}]")
    return a


def as_binary(x: ArrayLike, name: str = "correct") -> np.ndarray:
    """``x`` (bools or 0/1) as a 1-D float array of 0.0/1.0; raise ``ValueError`` otherwise."""
    a = np.asarray(x).ravel()
    if a.dtype == bool:
        return a.astype(float)
    a = a.astype(float)
    if not np.all((a == 0.0) | (a == 1.0)):
        raise ValueError(f"{name} must be booleans or 0/1; found other values")
    return a


def same_length(**arrays: np.ndarray) -> int:
    """The common length of the named arrays; raise ``ValueError`` naming them if they differ."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays must be aligned (same length); got {lengths}")
    return next(iter(lengths.values()))


def finite_or_none(x: Any) -> float | None:
    """A plain Python float, or ``None`` when ``x`` is ``None``, NaN or infinite."""
    if x is None:
        return None
    f = float(x)
    return f if math.isfinite(f) else None


class StrictRecord:
    """Base of the frozen result records (:class:`~offtarget.stats.Estimate`,
    :class:`~offtarget.stats.PairedDiff`): every field named in ``_numbers`` becomes a finite float
    or ``None``, and ``reason`` says why whenever one of ``_required`` is ``None``."""

    _numbers: ClassVar[tuple[str, ...]] = ()
    _required: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        reason = self.reason
        for name in self._numbers:
            raw = getattr(self, name)
            clean = finite_or_none(raw)
            object.__setattr__(self, name, clean)
            if raw is not None and clean is None and reason is None:
                reason = f"{name} was not finite"
        if reason is None and any(getattr(self, name) is None for name in self._required):
            reason = "not available"
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "level", float(self.level))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, safe for ``json.dumps(..., allow_nan=False)``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
