"""Holm-aware refinement: more relabellings only while a report's Holm decision can still change.

A report flags a comparison when its Holm-adjusted p is below alpha (:mod:`offtarget.stats.multiple`).
Whatever the other p-values of its family of m tests, the threshold one raw p faces lies between
alpha / m (Holm's first step) and alpha (the last): a p at or above alpha is never flagged, and a p
below alpha / m is flagged at every step it can reach. Monte Carlo resolution is worth spending
only in between, so a report's permutation tests follow the multiple Monte Carlo testing idea of
Gandy & Hahn (2014, "MMCTest — a safe algorithm for implementing multiple Monte Carlo tests",
Scand. J. Statist. 41): refine a hypothesis only while its decision is undecided.

1. Every comparison gets :data:`~offtarget.stats.permutation.STAGE1` relabellings (999, with
   Besag–Clifford stopping) when its probe runs (:func:`staged_permutation_test`).
2. When the report knows its family (:func:`offtarget.audit.compare.apply_holm`), a comparison
   whose stage-1 p is at most ``REFINE_BELOW`` is *settled* when the 99.9% Clopper–Pearson
   interval of its exact permutation p, from the hits so far, lies wholly at or above alpha (no
   Holm step can flag it) or wholly below alpha / m (every step flags it) — or, for a mean, when
   the Hoeffding bound on the exact p is below alpha / m. A settled comparison keeps its stage-1
   p. An *open* one gets a fresh stage of :func:`stage2_budget` relabellings (the
   :data:`~offtarget.stats.permutation.STAGE2` 19 999 of the unrefined test, more in a family
   too large for them), drawn in the same growing chunks from the same random stream, and stops
   early after any chunk at which its stage-2 interval settles (or, as before, at 20 hits):
   p = (1 + hits) / (1 + relabellings) there.

Why. The decision is what a report is for: relabellings that cannot move a p across any
threshold it could face buy nothing. A settled decision is the one the exact permutation p (the
limit of ever more relabellings) gives, except when that p lies outside its 99.9% interval; a
comparison that never settles ends exactly as the full two-stage test does. What it saves: a
comparison with no relabelling reaching |T| settles below alpha / m after about 7.6 m / alpha
relabellings (4 000 in a family of 24 at alpha = 0.05, instead of 19 999); in a family of more
than about 130 it needs all 19 999 (a p below alpha / m cannot be certified with fewer than
m / alpha relabellings). A p clearly above alpha settles at the first look. In a family of more
than 800 (at alpha = 0.05) even 19 999 relabellings are too few: with none reaching |T| they give
p = 1 / 20 000, above alpha / m, so nothing but a tail-bounded mean could be flagged; the stage
grows to 1.25 m / alpha there (:func:`stage2_budget`), the size of the family and nothing else
deciding it, so the p-value stays valid.
Checked (tests/stats/test_refinement.py): the Holm decisions of the full two-stage path on fixed
seeds, and the simulated size at alpha in groups of 5, 10 and 50 problems.

A probe result read back from the audit's cache keeps the p-values it was refined to in its own
report: valid p-values, at the resolution its family then needed.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, tuned = (rng.random((20, 8)) < 0.5).astype(float), (rng.random((20, 8)) < 0.8).astype(float)
    >>> rate = lambda a: a.reshape(len(a), -1).mean(1)   # a mean without its tail bound
    >>> first, pending = staged_permutation_test(ref, tuned, rate, vectorized=True, seed=1)
    >>> first.n_permutations, pending.decision(alpha=0.05, m=24)
    (999, 'open')
    >>> final = pending.resolve(alpha=0.05, m=24)        # settles below 0.05 / 24 well before 19 999
    >>> final.n_permutations < 19_999, final.p_value < 0.05 / 24
    (True, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from numpy.typing import ArrayLike
from scipy.stats import beta

from offtarget.stats.permutation import (
    REFINE_BELOW,
    STAGE1,
    STAGE2,
    STOP_AFTER_HITS,
    PermutationTest,
    Run,
    Unit,
    prepare,
)

CONFIDENCE = 0.999
"""Coverage of the interval on the exact p that settles a comparison after stage 1."""
MARGIN = 1.25
"""The refinement stage of a family of m has at least MARGIN · m / alpha relabellings, so a
comparison that no relabelling reaches gets p ≤ alpha / (MARGIN · m), below Holm's first threshold."""

Decision = Literal["above", "below", "open"]


def p_interval(hits: int, draws: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Clopper–Pearson interval for the exact p from ``hits`` of ``draws`` relabellings reaching |T|."""
    if draws <= 0:
        return 0.0, 1.0
    a = (1.0 - confidence) / 2.0
    low = float(beta.ppf(a, hits, draws - hits + 1)) if hits > 0 else 0.0
    high = float(beta.ppf(1.0 - a, hits + 1, draws - hits)) if hits < draws else 1.0
    return low, high


@dataclass
class Refinement:
    """A permutation test after its first stage, able to continue once its Holm family is known."""

    first: PermutationTest
    run: Run
    hits: int
    draws: int

    def decision(self, alpha: float, m: int) -> Decision:
        """``above`` / ``below``: no Holm step of a family of ``m`` at ``alpha`` can change it; else ``open``."""
        p = self.first.p_value
        if self.first.bound and p is not None and p < alpha / max(1, m):
            return "below"
        return settle(self.hits, self.draws, alpha, m)

    def resolve(self, alpha: float, m: int) -> PermutationTest:
        """The final test: stage 1 when settled, else a fresh stage that stops once settled."""
        if self.decision(alpha, m) != "open":
            return self.first
        refined = self.run.finish(*self.run.stage(stage2_budget(alpha, m),
                                                   lambda h, n: settle(h, n, alpha, m) != "open"))
        return refined if refined.p_value is not None else self.first


def resolve_all(pending: list[Refinement], alpha: float, m: int, workers: int | None = None) -> list[PermutationTest]:
    """:meth:`Refinement.resolve` of every comparison of a family, side by side on ``workers`` threads
    (default: torch's thread count, which the CLI sizes to the cores this process may use).

    Each refinement draws from its own random stream, so the p-values do not depend on the schedule.
    numpy releases the GIL inside its array loops, which is where the time goes; BLAS is held to one
    thread per worker meanwhile, or the workers' matrix products would oversubscribe the cores
    (measured on 2 cores: 10.6 s serial, 7.3 s on two workers, 13.4 s with BLAS left at two threads each).
    """
    if workers is None:
        import torch

        workers = torch.get_num_threads()
    workers = max(1, min(int(workers), len(pending)))
    if workers == 1:
        return [r.resolve(alpha, m) for r in pending]
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda r: r.resolve(alpha, m), pending))


def stage2_budget(alpha: float, m: int) -> int:
    """Relabellings of the refinement stage in a Holm family of ``m`` at ``alpha``: :data:`STAGE2`,
    or ⌈MARGIN · m / alpha⌉ − 1 where that is more (a family of over 800 at alpha = 0.05)."""
    return max(STAGE2, math.ceil(MARGIN * max(1, m) / alpha) - 1)


def settle(hits: int, draws: int, alpha: float, m: int) -> Decision:
    """Where the interval on the exact p from ``hits`` of ``draws`` lies against alpha / m and alpha."""
    low, high = p_interval(hits, draws)
    if low >= alpha:
        return "above"
    if high < alpha / max(1, m):
        return "below"
    return "open"


def staged_permutation_test(
    reference: ArrayLike | tuple[ArrayLike, ...],
    tuned: ArrayLike | tuple[ArrayLike, ...],
    statistic: Callable[..., Any] | None = None,
    *,
    unit: Unit = "sample",
    vectorized: bool = False,
    seed: int = 0,
    stop_after_hits: int | None = STOP_AFTER_HITS,
) -> tuple[PermutationTest, Refinement | None]:
    """Stage 1 of :func:`~offtarget.stats.permutation_test` (same arguments): the result, and what
    refines it when its p is small enough to matter (p ≤ ``REFINE_BELOW``), else ``None``."""
    done, run = prepare(reference, tuned, statistic, unit=unit, vectorized=vectorized, seed=seed,
                        stop_after_hits=stop_after_hits)
    if done is not None:
        return done, None
    p, hits, ok, dropped = run.stage(STAGE1)
    first = run.finish(p, hits, ok, dropped)
    if first.p_value is None or not p <= REFINE_BELOW:
        return first, None
    return first, Refinement(first, run, hits, ok)


__all__ = ["CONFIDENCE", "MARGIN", "Refinement", "p_interval", "resolve_all", "settle", "stage2_budget", "staged_permutation_test"]
