"""Generate what the store lacks, in length-sorted batches, one transaction per batch.

    >>> fill(store, engine, fingerprint, problems, params, progress=progress)
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable

from offtarget.models.sampling import SamplingEngine, SamplingParams
from offtarget.store.generations import GenerationStore
from offtarget.tasks.problem import Problem


def batch_seed(base: int, fingerprint: str, first_id: str, start: int) -> int:
    """A seed that depends on what the batch is, not on when it ran, so reruns resample alike."""
    h = hashlib.sha256(f"{base}/{fingerprint}/{first_id}/{start}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def plan(
    store: GenerationStore, fingerprint: str, problems: list[Problem], params: SamplingParams
) -> dict[int, list[Problem]]:
    """Problems grouped by how many samples they still miss (0 never appears)."""
    have = store.have_counts(fingerprint, params.key())
    todo: dict[int, list[Problem]] = defaultdict(list)
    for p in problems:
        missing = params.n - min(have.get(p.store_key, 0), params.n)
        if missing > 0:
            todo[missing].append(p)
    return dict(todo)


def fill(
    store: GenerationStore,
    engine: SamplingEngine,
    fingerprint: str,
    problems: list[Problem],
    params: SamplingParams,
    seed: int = 0,
    max_batch_sequences: int = 256,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Generate every missing sample; returns the number generated. ``on_batch(k)`` reports progress."""
    generated = 0
    have = store.have_counts(fingerprint, params.key())
    for missing, group in plan(store, fingerprint, problems, params).items():
        group = sorted(group, key=lambda p: (len(p.prompt), p.id))
        per_batch = max(1, max_batch_sequences // missing)
        for i in range(0, len(group), per_batch):
            chunk = group[i : i + per_batch]
            start = {p.id: min(have.get(p.store_key, 0), params.n) for p in chunk}
            seed_i = batch_seed(seed, fingerprint, chunk[0].id, start[chunk[0].id])
            outs = engine.generate([p.prompt for p in chunk], params, seed=seed_i, n=missing)
            store.put(
                fingerprint,
                params.key(),
                ((p.store_key, start[p.id] + j, s) for p, samples in zip(chunk, outs) for j, s in enumerate(samples)),
            )
            generated += missing * len(chunk)
            if on_batch:
                on_batch(missing * len(chunk))
    return generated


def sample_stored(path, engine: SamplingEngine, fingerprint: str, problems: list[Problem], params: SamplingParams,
                  seed: int = 0) -> dict[str, list]:
    """``params.n`` samples of every problem from the store at ``path``, generating only what it lacks
    (a killed run resumes): the recipes that sample before they train or filter read them this way."""
    store = GenerationStore(path)
    try:
        fill(store, engine, fingerprint, problems, params, seed=seed)
        return store.get(fingerprint, params.key(), [p.store_key for p in problems], params.n)
    finally:
        store.close()
