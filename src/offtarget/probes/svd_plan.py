"""Which matrices of a checkpoint pair get an SVD in the weights probe, from their names and shapes.

An SVD of every ΔW costs far more than the element counts around it (SmolLM2-135M: 210
projections, about 5 s of SVD against 2 s of reading and counting on 2 threads), so the weights
probe takes a sample of the matrices: all small enough ones up to a cap, plus a few larger ones.
The sample is stratified, so the mean ranks over it stay representative: a transformer repeats
the same kinds of matrices (``self_attn.q_proj.weight``, ``mlp.down_proj.weight``, ...) in every
layer, each kind gets an even share of the seats, and the seats of the kinds are spread over the
depth so every layer is represented. Names and shapes only: nothing is read from disk here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.")


def natural_key(name: str) -> list:
    """Sort key that puts ``layers.2`` before ``layers.10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def layer_of(name: str) -> int | None:
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


def module_kind(name: str) -> str:
    """The role a tensor plays in every layer: its name after the layer index (``self_attn.q_proj.weight``)."""
    m = _LAYER.search(name)
    return name[m.end():] if m else name


def stratified_sample(names: list[str], k: int, seed: int) -> list[str]:
    """``k`` of ``names``, spread evenly over module kinds and, within a kind, over its layers.

    Seats t = 0 … k−1 are dealt round-robin over the kinds (in an order drawn from ``seed``), so
    kind counts differ by at most one unless a kind runs out. Seat t takes the matrix at depth
    fraction (t + u) / k of its kind's layer-ordered list (u drawn from ``seed``): one systematic
    sample over the depth, so a kind's seats are evenly spaced and different kinds take different
    layers; when all kinds span the same n layers and k ≥ n, every layer gets an SVD for some
    kind. A kind with fewer matrices than that spacing needs takes its own evenly spaced ones.
    """
    if k >= len(names):
        return list(names)
    kinds: dict[str, list[str]] = {}
    for name in sorted(names, key=natural_key):
        kinds.setdefault(module_kind(name), []).append(name)
    rng = np.random.default_rng(seed)
    order = [list(kinds)[i] for i in rng.permutation(len(kinds))]
    start = rng.random()
    seats: dict[str, list[int]] = {kind: [] for kind in order}
    t = 0
    while t < k:
        for kind in order:
            if t < k and len(seats[kind]) < len(kinds[kind]):
                seats[kind].append(t)
                t += 1
    chosen = []
    for kind, dealt in seats.items():
        members, m = kinds[kind], len(dealt)
        at = [math.floor((seat + start) * len(members) / k) for seat in dealt]
        if len(set(at)) < m:
            at = [math.floor((i + start) * len(members) / m) for i in range(m)]
        chosen += [members[i] for i in at]
    return chosen


@dataclass(frozen=True)
class SvdPlan:
    """Which matrices get an SVD, and why the others do not."""

    names: frozenset[str]
    within_limit: int
    """Matrices with at most ``max_elements`` entries ..."""
    within_limit_sampled: int
    """... and how many of them the cap leaves (all, when under it)."""
    over_limit: int
    over_limit_sampled: int


def svd_plan(shapes: dict[str, tuple[int, ...]], max_elements: int, sample_large: int, max_matrices: int,
             seed: int) -> SvdPlan:
    """``sample_large`` of the matrices over ``max_elements`` entries drawn at random, then a
    stratified sample of the others, ``max_matrices`` in all."""
    matrices = [name for name, shape in shapes.items() if len(shape) == 2]
    small = [name for name in matrices if math.prod(shapes[name]) <= max_elements]
    large = [name for name in matrices if math.prod(shapes[name]) > max_elements]
    k = min(sample_large, len(large), max_matrices)
    drawn = np.random.default_rng(seed).choice(len(large), size=k, replace=False) if k else []
    kept = stratified_sample(small, max_matrices - k, seed)
    return SvdPlan(frozenset(kept) | {large[i] for i in drawn}, len(small), len(kept), len(large), k)
