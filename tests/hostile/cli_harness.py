"""Running the real ``offtarget`` entry point and checking what a refusal must look like:
one line on stderr, the right exit, no traceback, and nothing written or overwritten."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "models" / "lab" / "base"
SFT = ROOT / "models" / "lab" / "sft"


def offtarget(*args, cwd=None, timeout=300, preexec_fn=None, pythonpath=None):
    """Run the installed entry point's code (``python -m offtarget.cli``) as a user would
    (``pythonpath`` is put in front of the inherited one, e.g. for a user's reward module)."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)],
                          check=False, capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=cwd, preexec_fn=preexec_fn)


def snapshot(*roots: Path) -> dict:
    """Every file under ``roots`` with its bytes and mtime (a missing root maps to None)."""
    out: dict = {}
    for root in roots:
        root = Path(root)
        if not root.exists():
            out[str(root)] = None
        elif root.is_file():
            out[str(root)] = (root.read_bytes(), root.stat().st_mtime_ns)
        else:
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    out[str(f)] = (f.read_bytes(), f.stat().st_mtime_ns)
                else:
                    out[str(f)] = "dir"
    return out


def assert_refused(proc, *needles: str, code: int = 2) -> str:
    """Exit ``code``, exactly one non-empty stderr line, no traceback; the line holds every needle."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert len(lines) == 1, proc.stderr[-3000:]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def copy_checkpoint(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


