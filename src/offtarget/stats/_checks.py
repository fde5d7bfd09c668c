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
from typing import Any

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
