"""Fair coins, cheaply: the random draws behind every relabelling.

A paired permutation test swaps each unit between the checkpoints with probability ½, thousands
of times over. How those coins are drawn decides what a relabelling costs, never what it means:
every route below draws independent fair coins (or exact Binomial(n, ½) counts of them).

- :func:`coin_flips` — eight coins from each random byte (a uniform float per coin costs about
  60 times more to draw).
- :func:`word_masks` / :func:`binomial_halves` — the number of heads among n interchangeable
  coins, Binomial(n, ½), as the set bits of a random word under a mask of n low bits, in words of
  at most 64 (a general binomial sampler costs about 30 times more per count).
- :func:`byte_tables` / :func:`table_shifts` — when each unit adds a few numbers to a sum, the
  shift a byte of eight coins makes over eight units is looked up in a table of 256, so a
  relabelling costs units / 8 lookups per sum instead of a float per unit in a matrix product.

    >>> import numpy as np
    >>> masks, owner = word_masks(np.array([3, 70]))
    >>> owner.tolist(), [int(m).bit_count() for m in masks]
    ([0, 1, 1], [3, 64, 6])
    >>> heads = binomial_halves(np.random.default_rng(0), 4, masks)
    >>> heads.shape, bool(heads[:, 0].max() <= 3)
    ((4, 3), True)
"""

from __future__ import annotations

import numpy as np

WORD_BITS = 64
"""Coins per random word in :func:`binomial_halves`; larger groups take several words."""
TABLE_COLUMNS = 4
"""Sums of at most this many numbers per unit are shifted through :func:`byte_tables`."""
TABLE_LIMIT = 1 << 22
"""Largest table (entries, ~32 MB of float64) :func:`byte_tables` builds."""


def coin_flips(rng: np.random.Generator, b: int, n: int) -> np.ndarray:
    """(b, n) independent fair coin flips as booleans, eight from each random byte."""
    raw = np.frombuffer(rng.bytes((b * n + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw, count=b * n).reshape(b, n).view(bool)


def word_masks(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups of ``counts`` interchangeable coins as words of at most :data:`WORD_BITS`: each word's
    mask (its count of low bits set, in the narrowest unsigned type that fits) and its group."""
    counts = np.asarray(counts, dtype=np.int64)
    words = np.maximum(1, -(-counts // WORD_BITS))
    owner = np.repeat(np.arange(counts.size), words)
    bits = np.full(owner.size, WORD_BITS)
    bits[np.cumsum(words) - 1] = counts - WORD_BITS * (words - 1)
    width = next(w for w in (8, 16, 32, 64) if w >= bits.max(initial=0))
    masks = np.array([(1 << int(c)) - 1 for c in bits], dtype=np.uint64).astype(f"uint{width}")
    return masks, owner


def binomial_halves(rng: np.random.Generator, b: int, masks: np.ndarray) -> np.ndarray:
    """(b, words): per word, the heads among its masked coins (Binomial(bits, ½), independent)."""
    size = b * masks.size * masks.itemsize
    if isinstance(rng.bit_generator, np.random.PCG64):  # 64 uniform bits per output: raw words are cheapest
        raw = rng.bit_generator.random_raw(-(-size // 8)).view(np.uint8)[:size]
    else:
        raw = np.frombuffer(rng.bytes(size), dtype=np.uint8)
    return np.bitwise_count(raw.view(masks.dtype).reshape(b, masks.size) & masks)


def byte_tables(rows: np.ndarray) -> np.ndarray | None:
    """Per column of ``rows`` (units × sums), the summed rows of every byte of eight coins over eight
    consecutive units: (sums, units / 8 × 256). ``None`` where a matrix product is cheaper (more
    than :data:`TABLE_COLUMNS` sums, as binned calibration statistics have; under 64 units) or the
    tables would pass :data:`TABLE_LIMIT`."""
    g, k = rows.shape
    n_bytes = -(-g // 8)
    if k > TABLE_COLUMNS or g < 64 or n_bytes * 256 * k > TABLE_LIMIT:
        return None
    padded = np.zeros((n_bytes * 8, k))
    padded[:g] = rows
    bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(float)  # byte value → its 8 coins
    per_byte = np.matmul(bits, padded.reshape(n_bytes, 8, k))  # (bytes, 256, sums): a batched product, not einsum's loop
    return np.ascontiguousarray(per_byte.transpose(2, 0, 1)).reshape(k, n_bytes * 256)


def table_shifts(tables: np.ndarray, rng: np.random.Generator, b: int) -> np.ndarray:
    """(b, sums): for b relabellings, the summed rows of the units each swaps (fair coins, eight from
    each random byte, read through :func:`byte_tables`; 3–4 times faster than the matrix product
    with two or three sums)."""
    k, size = tables.shape
    n_bytes = size // 256
    offsets = np.arange(n_bytes, dtype=np.int32) * 256
    out = np.empty((b, k))
    step = max(1, (1 << 20) // n_bytes)
    for s in range(0, b, step):
        n = min(step, b - s)
        at = (np.frombuffer(rng.bytes(n * n_bytes), dtype=np.uint8).reshape(n, n_bytes) + offsets).reshape(-1)
        for c in range(k):
            out[s : s + n, c] = np.take(tables[c], at).reshape(n, n_bytes).sum(1)
    return out


__all__ = ["TABLE_COLUMNS", "WORD_BITS", "binomial_halves", "byte_tables", "coin_flips", "table_shifts", "word_masks"]
