"""One run per directory: a lock file naming the holder (pid and host).

Two audits writing into one ``--out`` would interleave their results (the second printing a
path that holds the first's numbers). The lock is a file created with ``O_EXCL``; a lock left by
a process that no longer exists on this host (killed with ``kill -9``) is taken over.

    >>> with RunLock("runs/x"):
    ...     run_audit(...)
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import ClassVar, Self

from offtarget.errors import OfftargetError

LOCK_NAME = ".offtarget.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Hold ``DIR/.offtarget.lock`` for the life of a run; refuse when another live run holds it."""

    _held: ClassVar[dict[Path, int]] = {}
    """Locks this process holds, with their nesting depth (the CLI and the runner may both take one)."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.path = self.dir / LOCK_NAME
        self.held = False
        self.created_dir = False

    def acquire(self) -> None:
        key = self.path.resolve()
        if key in RunLock._held:
            RunLock._held[key] += 1
            self.held = True
            return
        if self.dir.exists() and not self.dir.is_dir():
            raise OfftargetError(f"--out {self.dir}: is a file, not a directory; choose another --out")
        self.created_dir = not self.dir.exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and self._stale(holder):
                    self.path.unlink(missing_ok=True)
                    continue
                who = f"pid {holder.get('pid')} on {holder.get('host')}" if holder else "an unknown process"
                raise OfftargetError(
                    f"--out {self.dir}: another run ({who}) is writing there; wait for it, choose another --out, "
                    f"or delete {self.path} if that process is gone") from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            RunLock._held[key] = 1
            return
        raise OfftargetError(f"--out {self.dir}: could not take the lock {self.path}; delete it and retry")

    def _holder(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else None
        except (OSError, ValueError):
            return None

    @staticmethod
    def _stale(holder: dict) -> bool:
        """A lock from a dead process of this host; a lock from another host is never judged stale."""
        try:
            pid = int(holder["pid"])
        except (KeyError, TypeError, ValueError):
            return False
        return holder.get("host") == socket.gethostname() and pid != os.getpid() and not _alive(pid)

    def release(self) -> None:
        """Drop the lock (the outermost holder removes the file, and the directory if it made it
        and nothing else was written there)."""
        if not self.held:
            return
        self.held = False
        key = self.path.resolve()
        RunLock._held[key] = RunLock._held.get(key, 1) - 1
        if RunLock._held[key] > 0:
            return
        del RunLock._held[key]
        self.path.unlink(missing_ok=True)
        if self.created_dir:
            try:
                self.dir.rmdir()
            except OSError:
                pass

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
