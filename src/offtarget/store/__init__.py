"""Run store: generations stored once, keyed by checkpoint, problem, sampling and index."""

from offtarget.store.fill import fill, plan, sample_stored
from offtarget.store.generations import SCHEMA_VERSION, GenerationStore, StoredSample

__all__ = ["SCHEMA_VERSION", "GenerationStore", "StoredSample", "fill", "plan", "sample_stored"]
