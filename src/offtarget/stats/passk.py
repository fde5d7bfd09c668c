"""Unbiased pass@k and the k at which the reference model catches up.

pass@k is the chance that at least one of k samples solves a problem. Drawing n >= k samples
and counting c correct, the unbiased estimator (Chen et al. 2021, "Evaluating Large Language
Models Trained on Code", arXiv 2107.03374, eq. 1 and Fig. 3) is

    pass@k = 1 - C(n - c, k) / C(n, k)

The binomials overflow for realistic n, so we use the product form
C(n-c, k) / C(n, k) = prod_{j=0}^{k-1} (1 - c / (n - j)), summed in log space with ``log1p``
and turned back with ``expm1``: no huge numbers and full relative precision when pass@k is
tiny (c = 1, n = 10^4 gives exactly 1e-4). A factor that reaches zero (n - c < k: fewer wrong
samples than k) makes pass@k exactly 1.

RL with verifiable rewards tends to raise pass@1 while narrowing coverage, so that the base
model overtakes the tuned one at large k (Yue et al. 2025, "Does Reinforcement Learning Really
Incentivize Reasoning Capacity in LLMs Beyond the Base Model?", arXiv 2504.13837).
:func:`crossover_k` reports the first k where that happens: where the reference's mean
pass@k strictly surpasses the tuned model's (a tie, e.g. both saturated at 1.0, is not an
overtake).

    >>> from offtarget.stats import pass_at_k, pass_at_k_curve, crossover_k
    >>> pass_at_k(n=10, c=[0, 1, 10], k=5).round(3).tolist()   # per problem
    [0.0, 0.5, 1.0]
    >>> base = pass_at_k_curve(8, [1, 1, 2, 0]).mean(axis=0)     # k = 1..8, mean over problems
    >>> tuned = pass_at_k_curve(8, [8, 8, 0, 0]).mean(axis=0)
    >>> crossover_k(base, tuned)   # tuned is 0.5 at every k; base reaches 0.536 at k = 5
    5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

_CHUNK_ELEMENTS = 1 << 22
"""Largest (problems x k) block materialised at once (~32 MB of float64)."""


def _counts(n: int | ArrayLike, c: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n), np.asarray(c))
    if not (np.issubdtype(n_arr.dtype, np.integer) or np.all(np.mod(n_arr, 1) == 0)):
        raise ValueError("n (samples per problem) must be whole numbers")
    if not (np.issubdtype(c_arr.dtype, np.integer) or np.all(np.mod(c_arr, 1) == 0)):
        raise ValueError("c (correct samples per problem) must be whole numbers")
    n_arr = n_arr.astype(np.int64)
    c_arr = c_arr.astype(np.int64)
    if np.any(n_arr < 1):
        raise ValueError("n (samples per problem) must be >= 1")
    if np.any((c_arr < 0) | (c_arr > n_arr)):
        raise ValueError("c (correct samples) must satisfy 0 <= c <= n for every problem")
    return n_arr, c_arr


def pass_at_k_curve(
    n: int | ArrayLike, c: ArrayLike, ks: Sequence[int] | ArrayLike | None = None
) -> np.ndarray:
    """Per-problem unbiased pass@k for every k in ``ks``; shape ``(problems, len(ks))``.

    ``n`` is the number of samples drawn per problem (an int, or one per problem) and ``c``
    the number of those that were correct. ``ks`` defaults to ``1 .. min(n)``: every k the
    data can support for all problems. A k larger than a problem's n raises ``ValueError``
    because pass@k cannot be estimated from fewer than k samples.

    Average over axis 0 for the benchmark curve; bootstrap the per-problem rows for its
    interval (:func:`offtarget.stats.bootstrap`).
    """
    n_arr, c_arr = _counts(n, c)
    n_arr, c_arr = n_arr.reshape(-1), c_arr.reshape(-1)
    if n_arr.size == 0:
        raise ValueError("pass@k needs at least one problem")
    ks_arr = np.arange(1, int(n_arr.min()) + 1) if ks is None else np.asarray(ks, dtype=np.int64).reshape(-1)
    if ks_arr.size == 0:
        return np.zeros((n_arr.size, 0))
    if ks_arr.min() < 1:
        raise ValueError(f"k must be >= 1; got {int(ks_arr.min())}")
    if ks_arr.max() > n_arr.min():
        raise ValueError(
            f"k={int(ks_arr.max())} exceeds the smallest number of samples per problem "
            f"(n={int(n_arr.min())}); draw more samples or lower k"
        )
    j = np.arange(int(ks_arr.max()))  # factor index 0 .. kmax-1
    out = np.empty((n_arr.size, ks_arr.size))
    rows = max(1, _CHUNK_ELEMENTS // j.size)  # bound memory at (problems x kmax) floats per chunk
    for s in range(0, n_arr.size, rows):
        n_s, c_s = n_arr[s : s + rows, None], c_arr[s : s + rows, None]
        # Factor j of C(n-c,k)/C(n,k) is (n-c-j)/(n-j) = 1 - c/(n-j). Clipping c/(n-j) at 1 turns
        # factors past n-c (which would be negative) into exact zeros: log1p(-1) = -inf.
        frac = np.minimum(c_s / (n_s - j[None, :]), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.cumsum(np.log1p(-frac), axis=1)  # log C(n-c,k)/C(n,k) for k = 1..kmax
        out[s : s + rows] = -np.expm1(log_ratio[:, ks_arr - 1])
    return out


def pass_at_k(n: int | ArrayLike, c: ArrayLike, k: int) -> np.ndarray:
    """Per-problem unbiased pass@k, 1 - C(n-c, k) / C(n, k), shaped like ``broadcast(n, c)``.

    >>> float(pass_at_k(4, 2, 2))   # 1 - C(2,2)/C(4,2) = 1 - 1/6
    0.8333333333333334
    """
    shape = np.broadcast_shapes(np.shape(n), np.shape(c))
    return pass_at_k_curve(n, c, [k])[:, 0].reshape(shape)


def crossover_k(
    curve_ref: ArrayLike,
    curve_tuned: ArrayLike,
    ks: Sequence[int] | ArrayLike | None = None,
    atol: float = 1e-12,
) -> int | None:
    """Smallest k at which the reference's pass@k strictly surpasses the tuned model's.

    ``curve_ref`` and ``curve_tuned`` are benchmark-level pass@k curves evaluated at the same
    ``ks`` (default ``1 .. len(curve)``). "Surpasses" means by more than ``atol``, so
    floating-point ties, and two curves that both saturate at 1.0, are not a crossover (Yue
    et al. 2025 read the crossover as the base's mean strictly above). Returns ``None`` if the
    reference never gets ahead; ``ks[0]`` if it is ahead from the start. This is the point
    estimate only: curves cross noisily when they run close, so read it next to the curves'
    intervals.
    """
    ref = np.asarray(curve_ref, dtype=float).reshape(-1)
    tuned = np.asarray(curve_tuned, dtype=float).reshape(-1)
    if ref.shape != tuned.shape:
        raise ValueError(f"pass@k curves must have the same length; got {ref.size} and {tuned.size}")
    ks_arr = np.arange(1, ref.size + 1) if ks is None else np.asarray(ks).reshape(-1)
    if ks_arr.size != ref.size:
        raise ValueError(f"ks has {ks_arr.size} entries but the curves have {ref.size}")
    hits = np.flatnonzero(ref > tuned + atol)
    return int(ks_arr[hits[0]]) if hits.size else None
