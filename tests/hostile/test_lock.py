"""One run per ``--out``: a live holder is named and refused; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from cli_harness import BASE, assert_refused, offtarget, snapshot


def _lock(run, pid):
    run.mkdir(parents=True, exist_ok=True)
    (run / ".offtarget.lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))


def test_second_run_into_a_held_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    _lock(run, os.getpid())  # this test process: alive for as long as the audit runs
    (run / "results.json").write_text('{"first": "run"}')
    before = snapshot(run)
    assert_refused(offtarget("audit", "--model", f"base={BASE}", "--out", run, "--problems", "2"),
                   f"pid {os.getpid()} on {socket.gethostname()}", "another run")
    assert snapshot(run) == before


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = tmp_path / "run"
    _lock(run, dead.pid)
    before = snapshot(run)
    # a run refused by validation (which comes before the lock) leaves the folder as it was
    assert_refused(offtarget("audit", "--model", f"base={BASE}", "--model", f"rl={tmp_path / 'nope'}",
                             "--out", run), "--model rl=")
    assert snapshot(run) == before
    # a run that goes ahead takes the dead holder's lock over, finishes, and releases it
    proc = offtarget("audit", "--model", f"a={BASE}", "--model", f"b={BASE}", "--out", run, "--problems", "5",
                     "--samples", "2", "--probes", "accuracy", "--bootstrap", "50", "--no-greedy")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "results.json").exists()
    assert not (run / ".offtarget.lock").exists()
