"""Statistics of additive per-sample sums: every relabelling and resample as one matrix product.

Many audit metrics are a function of a few sums over samples: a rate (Σ hits / Σ eligible), a
precision (Σ abstained ∧ should / Σ abstained), an F1, an ECE over fixed bins. Written as
:class:`Additive`, such a statistic tells the resampling code so:
:func:`offtarget.stats.permutation_test` moves each swapped unit's contribution between the
checkpoints (:class:`offtarget.stats.permutation.SumsRelabelling`) and
:func:`offtarget.stats.bootstrap` weights per-problem sums by how often a resample drew each
problem, instead of rebuilding and re-reducing the arrays for every one of thousands of
relabellings. The numbers are the same as evaluating the statistic on each data set.

    >>> import numpy as np
    >>> rate = Additive(lambda hit, ok: (hit * ok, ok), lambda s: s[:, 0] / s[:, 1])
    >>> hit, ok = np.array([[[1, 0], [1, 1]]]), np.array([[[1, 1], [1, 0]]])
    >>> rate(hit, ok)                     # (resamples, problems, samples) in, one value per resample
    array([0.66666667])
    >>> rate.unit_sums(hit[0], ok[0])     # each sample's (Σ hit·ok, Σ ok) contribution
    array([[1., 1.],
           [0., 1.],
           [1., 1.],
           [0., 0.]])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class Additive:
    """``combine(Σ columns)``: a vectorised statistic of per-entry columns summed over all entries.

    ``columns(*arrays)`` returns arrays of the inputs' shape whose entries are summed (one per
    needed sum); ``combine`` maps a ``(rows, sums)`` array to one value per row (NaN where the
    statistic is undefined). The statistic must depend on the data only through those sums.
    """

    def __init__(self, columns: Callable[..., tuple[np.ndarray, ...]], combine: Callable[[np.ndarray], np.ndarray]):
        self.columns, self.combine = columns, combine

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        """Vectorised form: arrays ``(resamples, problems, ...)``, one value per resample."""
        cols = self.columns(*arrays)
        b = np.asarray(cols[0]).shape[0]
        return self.combine(np.stack([np.asarray(c, dtype=float).reshape(b, -1).sum(1) for c in cols], axis=1))

    def unit_sums(self, *arrays: np.ndarray) -> np.ndarray:
        """(entries, sums): each entry's contribution, entries in the arrays' order (problem-major)."""
        return np.column_stack([np.asarray(c, dtype=float).reshape(-1) for c in self.columns(*arrays)])

    def from_sums(self, sums: np.ndarray) -> np.ndarray:
        return self.combine(sums)


def additive(columns: Callable[..., tuple[np.ndarray, ...]]) -> Callable[[Callable[[np.ndarray], np.ndarray]], Additive]:
    """Decorator: the decorated ``combine(sums)`` with these ``columns`` as an :class:`Additive`
    (named after the decorated function, so a metric's computation still says where it is defined)."""

    def deco(combine: Callable[[np.ndarray], np.ndarray]) -> Additive:
        stat = Additive(columns, combine)
        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(stat, attr, getattr(combine, attr, None))
        return stat

    return deco


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (an undefined rate)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
