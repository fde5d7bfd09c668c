"""The run store: every generation kept once, keyed by (checkpoint, problem, sampling, index).

A problem is filed under :attr:`~offtarget.tasks.problem.Problem.store_key` (its id and a digest
of its prompt), so two wordings of one problem never share samples.

SQLite in WAL mode: each batch is one transaction, so killing the process loses at most the
batch in flight, and re-running the same command finds what is stored and generates only
the rest. Token-level arrays are stored as float32 bytes.

    >>> store = GenerationStore("runs/x/generations.sqlite")
    >>> store.count(fingerprint, params.key())
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from offtarget.errors import OfftargetError
from offtarget.models.sampling import Sample

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generations (
    checkpoint TEXT NOT NULL,
    problem_id TEXT NOT NULL,
    params TEXT NOT NULL,
    sample_index INTEGER NOT NULL,
    text TEXT NOT NULL,
    token_ids BLOB NOT NULL,
    logprobs BLOB NOT NULL,
    entropies BLOB NOT NULL,
    finish_reason TEXT NOT NULL,
    PRIMARY KEY (checkpoint, problem_id, params, sample_index)
);
"""


def _storable(text: str) -> str:
    """Text SQLite can hold: a lone surrogate (from a log decoded with ``surrogateescape``, or a
    broken JSON escape) is kept visibly as its escape (``\\ud800``) instead of failing the whole batch."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class StoredSample(Sample):
    problem_id: str = ""
    sample_index: int = 0


class GenerationStore:
    """A generation database inside a run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_DDL)
        except sqlite3.OperationalError as exc:
            raise OfftargetError(f"{self.path}: cannot open or write the store ({exc}); free disk space, check "
                                 "the folder is writable, or use another --out") from None
        except sqlite3.DatabaseError as exc:
            raise OfftargetError(f"{self.path}: not a readable offtarget store ({exc}); use a new --out") from None
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise OfftargetError(
                f"{self.path}: store schema v{row[0]} but this offtarget writes v{SCHEMA_VERSION}; use a new --out"
            )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise OfftargetError(f"{self.path}: cannot write the store ({exc}); free disk space or use another "
                                 "--out (what was stored is kept)") from None

    def have_counts(self, checkpoint: str, params_key: str) -> dict[str, int]:
        """Stored samples per problem (indices are always contiguous from 0)."""
        rows = self.db.execute(
            "SELECT problem_id, COUNT(*) FROM generations WHERE checkpoint=? AND params=? GROUP BY problem_id",
            (checkpoint, params_key),
        )
        return dict(rows.fetchall())

    def put(self, checkpoint: str, params_key: str, items: Iterable[tuple[str, int, Sample]]) -> None:
        """Write one batch atomically."""
        rows = [
            (
                checkpoint,
                pid,
                params_key,
                idx,
                _storable(s.text),
                np.asarray(s.token_ids, dtype=np.int32).tobytes(),
                np.asarray(s.logprobs, dtype=np.float32).tobytes(),
                np.asarray(s.entropies, dtype=np.float32).tobytes(),
                s.finish_reason,
            )
            for pid, idx, s in items
        ]
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO generations VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def get(self, checkpoint: str, params_key: str, problem_ids: list[str], n: int) -> dict[str, list[StoredSample]]:
        """The first ``n`` samples of each problem, in sample order."""
        out: dict[str, list[StoredSample]] = {pid: [] for pid in problem_ids}
        wanted = set(problem_ids)
        rows = self.db.execute(
            "SELECT problem_id, sample_index, text, token_ids, logprobs, entropies, finish_reason "
            "FROM generations WHERE checkpoint=? AND params=? AND sample_index<? ORDER BY problem_id, sample_index",
            (checkpoint, params_key, n),
        )
        for pid, idx, text, ids, lp, ent, fin in rows:
            if pid in wanted:
                out[pid].append(
                    StoredSample(
                        text,
                        np.frombuffer(ids, dtype=np.int32).tolist(),
                        np.frombuffer(lp, dtype=np.float32).tolist(),
                        np.frombuffer(ent, dtype=np.float32).tolist(),
                        fin,
                        problem_id=pid,
                        sample_index=idx,
                    )
                )
        return out

    def set_meta(self, key: str, value) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])
