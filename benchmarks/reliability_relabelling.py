"""Time the reliability probe's batched relabellings: µs per relabelling for ICC(1) and omega.

Standalone (not part of ``benchmarks/run.py``): a report refines a strongly significant comparison
to about 20 000 relabellings, drawn in the growing chunks of ``offtarget.stats.permutation._stage``
(64, 128, …, 4096). Data shaped like the demo audit: 200 problems × 32 draws, 0/1 correctness with
per-problem pass rates (what the probe passes for both metrics), and, for the route taken when the
values are continuous, the same shape with uniform scores.

    flock /tmp/cpu.lock env OMP_NUM_THREADS=2 PYTHONPATH=src .venv/bin/python benchmarks/reliability_relabelling.py
"""

from __future__ import annotations

import time

import numpy as np

from offtarget.probes import reliability
from offtarget.probes.reliability import icc_single, omega_parallel
from offtarget.stats.permutation import permutation_test

RELABELLINGS = 20_000


def _chunks(total: int):
    size = 64
    while total > 0:
        yield min(size, total)
        total -= size
        size = min(size * 2, 4096)


def _data(kind: str, n: int = 200, k: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    rate = rng.beta(0.7, 0.7, (n, 1))
    if kind == "correctness":
        return ((rng.random((n, k)) < rate).astype(float),
                (rng.random((n, k)) < np.clip(rate + 0.1, 0, 1)).astype(float))
    return rng.random((n, k)) * rate, rng.random((n, k)) * np.clip(rate + 0.1, 0, 1)


def time_draw(make_draw, *args, repeats: int = 3) -> float:
    """Best of ``repeats``: µs per relabelling for RELABELLINGS relabellings of ``make_draw(*args)``."""
    best = np.inf
    for rep in range(repeats):
        draw = make_draw(*args)
        rng = np.random.default_rng(rep)
        start = time.perf_counter()
        for b in _chunks(RELABELLINGS):
            draw(rng, b)
        best = min(best, time.perf_counter() - start)
    return best / RELABELLINGS * 1e6


def time_test(stat, ref, tuned) -> float:
    """Seconds for one permutation test of RELABELLINGS − 1 relabellings (a refined comparison)."""
    start = time.perf_counter()
    permutation_test(ref, tuned, stat, vectorized=True, n_permutations=RELABELLINGS - 1, stop_after_hits=None)
    return time.perf_counter() - start


if __name__ == "__main__":
    stats = (("icc_single_draw", icc_single, reliability._icc_from),
             ("omega_repeats", omega_parallel, reliability._omega_from))
    for kind in ("correctness", "continuous"):
        ref, tuned = _data(kind)
        for name, stat, fn in stats:
            taken = time_draw(stat.relabelling, [ref], [tuned], "sample")
            coins = time_draw(reliability._by_coins, ref, tuned, fn)
            print(f"{kind:12s} {name:16s} probe's route {taken:6.2f} µs, a coin per draw {coins:6.2f} µs per "
                  f"relabelling; one refined test {time_test(stat, ref, tuned):5.2f} s")
