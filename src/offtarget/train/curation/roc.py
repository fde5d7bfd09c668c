"""GRPO-RoC down-sampling: Resample-on-Correct (rStar2-Agent, Shang et al., arXiv 2508.20722).

Outcome-only rewards pay a correct answer reached through sloppy steps (failed tool calls,
inconsistent working, repeated answers) the same as a clean one, and RL then amplifies the
sloppiness. RoC oversamples ``N = 2G`` rollouts per prompt and keeps ``G``, asymmetrically:

1. **Counts.** With ``n⁺`` positives (correct) and ``n⁻`` negatives among the N, keep
   ``k⁺ = round_half_up(G · n⁺ / N)`` positives and ``k⁻ = G − k⁺`` negatives, so the
   kept group has the pool's success rate (the advantage baseline is not biased).
2. **At least two of each where possible.** ``k⁺`` is raised to ``min(m, n⁺)`` and lowered so
   that ``k⁻ ≥ min(m, n⁻)``, with ``m = min(min_each, G // 2)`` so both floors fit in G;
   ``k⁺`` is also clamped to what exists (``G − n⁻ ≤ k⁺ ≤ n⁺``). A lone negative among
   positives therefore always survives, and the group keeps its signal.
3. **Positives: lowest penalty first.** Positives are ranked by penalty (ties: rollout
   order), and the ``k⁺`` cleanest are kept. NaN penalties rank last.
4. **Negatives: uniformly at random** (seeded), which keeps the variety of failure modes
   the policy should learn to avoid, rather than only the "nicest" failures.

Penalties come from :func:`offtarget.rewards.format_penalty` (malformed, inconsistent steps,
padding), e.g. through a ``format_penalty`` reward function with weight 0.

Differences from the verl recipe (``recipe/rstar2_agent/src/down_sample/roc.py``): it sorts
negatives by penalty too (here they are sampled uniformly, as the paper describes), rounds
half-to-even, and silently drops groups with fewer than N rollouts (here that is an error).

    >>> sel = roc_select([1, 0, 1, 0, 0, 1, 0, 0], [0, 0, 2, 0, 0, 1, 0, 0], keep=4, rng=0)
    >>> sel.positives, len(sel.negatives)
    ([0, 5], 2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RocSelection:
    """Which rollouts of one group RoC keeps; indices into the group, ascending."""

    kept: list[int]
    positives: list[int]
    """Kept positives (lowest penalty)."""
    negatives: list[int]
    """Kept negatives (uniform sample)."""
    n_positive: int
    """Positives in the oversampled pool."""
    n_negative: int
    """Negatives in the oversampled pool."""


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def roc_counts(n_positive: int, n_negative: int, keep: int, min_each: int = 2) -> tuple[int, int]:
    """How many positives and negatives to keep (rules 1–2 of the module docstring)."""
    n = n_positive + n_negative
    if not 0 < keep <= n:
        raise ValueError(f"cannot keep {keep} of {n} rollouts (RoC keeps 1..N)")
    target = math.floor(keep * n_positive / n + 0.5)
    m = min(min_each, keep // 2)
    lo = max(keep - n_negative, min(m, n_positive))
    hi = min(n_positive, keep - min(m, n_negative))
    k_pos = min(max(target, lo), hi)
    return k_pos, keep - k_pos


def roc_select(
    correct: Sequence[bool],
    penalty: Sequence[float],
    keep: int,
    *,
    min_each: int = 2,
    rng: np.random.Generator | int | None = 0,
) -> RocSelection:
    """Down-sample one group of N rollouts to ``keep`` by the RoC rule.

    ``correct[i]`` is rollout i's correctness (truthy = positive; pass the verifier's
    correctness, not a shaped reward); ``penalty[i]`` its quality penalty (lower is cleaner).
    ``rng`` is a seed or a ``numpy.random.Generator``; the same inputs and seed give the same
    selection, which every process of a distributed run must share.
    """
    if len(correct) != len(penalty):
        raise ValueError(f"{len(correct)} correctness values but {len(penalty)} penalties")
    pos = [i for i, c in enumerate(correct) if bool(c)]
    neg = [i for i, c in enumerate(correct) if not bool(c)]
    k_pos, k_neg = roc_counts(len(pos), len(neg), keep, min_each)

    def rank(i: int) -> tuple[float, int]:
        p = float(penalty[i])
        return (math.inf if math.isnan(p) else p, i)

    kept_pos = sorted(sorted(pos, key=rank)[:k_pos])
    kept_neg = sorted(int(i) for i in _rng(rng).choice(neg, size=k_neg, replace=False)) if k_neg else []
    return RocSelection(sorted(kept_pos + kept_neg), kept_pos, kept_neg, len(pos), len(neg))


def roc_select_batch(
    correct: Sequence[bool],
    penalty: Sequence[float],
    group_size: int,
    keep: int,
    *,
    min_each: int = 2,
    seed: int = 0,
) -> list[int]:
    """RoC over TRL's flat layout (groups of ``group_size`` contiguous); returns kept flat indices.

    One generator seeded with ``seed`` serves the groups in order, so the result depends only
    on the inputs and the seed. With ``num_generations = 2G`` pass ``group_size=2G, keep=G``.
    """
    if len(correct) != len(penalty) or len(correct) % group_size:
        raise ValueError(
            f"{len(correct)} correctness values and {len(penalty)} penalties do not split "
            f"into groups of {group_size}"
        )
    gen = np.random.default_rng(seed)
    out: list[int] = []
    for start in range(0, len(correct), group_size):
        sel = roc_select(
            correct[start : start + group_size],
            penalty[start : start + group_size],
            keep,
            min_each=min_each,
            rng=gen,
        )
        out.extend(start + i for i in sel.kept)
    return out
