"""`offtarget report RUN_DIR`: re-render from results.json alone; bad files fail in one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offtarget.cli import app
from offtarget.report.results import write_results

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "models" / "lab"


def _main(*args: str) -> subprocess.CompletedProcess:
    """The installed entry point (``offtarget.cli:main``), in a subprocess, as a user runs it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "60"}  # narrow: a wrapped error would show
    return subprocess.run([sys.executable, "-c", "from offtarget.cli import main; main()", *args],
                          check=False, capture_output=True, text=True, env=env, timeout=300)


def test_report_rerenders_from_results_json(tmp_path, results):
    write_results(tmp_path / "results.json", results)
    res = CliRunner().invoke(app, ["report", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    md, html = (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()
    assert "## Findings and prescriptions" in md and "--reward brier" in md
    assert html.count("<svg") == 10 and "&lt;script&gt;" in html
    assert "findings (4 flagged regression(s))" in res.output
    assert f"report: {tmp_path / 'report.html'}" in res.output


def test_nan_in_results_is_a_one_line_error_exit_2(tmp_path, results):
    text = (  # what json.dumps writes by default for a float('nan')
        '{"schema_version": 1, "kind": "audit", "reference": "base", "checkpoints": [], "probes": [], '
        '"headline": [], "routing": [], "config": {"ece": NaN}}')
    (tmp_path / "results.json").write_text(text)
    proc = _main("report", str(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "results.json" in lines[0] and "NaN" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("edit, needle", [
    (lambda r: r.update(schema_version=99), "schema_version 99"),
    (lambda r: r.pop("routing"), "missing key(s) ['routing']"),
])
def test_wrong_schema_is_a_one_line_error(tmp_path, results, monkeypatch, capsys, edit, needle):
    import json

    from offtarget.cli import main

    edit(results)
    (tmp_path / "results.json").write_text(json.dumps(results))
    monkeypatch.setattr(sys, "argv", ["offtarget", "report", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err


@pytest.mark.slow
def test_audit_then_report_on_lab_checkpoints(tmp_path):
    """The real pipeline: audit writes report.html with plots; `report` re-renders it identically."""
    out = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "audit", "--model", f"base={LAB / 'base'}", "--model", f"sft={LAB / 'sft'}", "--out", str(out),
        "--problems", "20", "--samples", "4", "--probes", "accuracy,passk,formats,diversity", "--bootstrap", "200"])
    assert res.exit_code == 0, res.output
    first = (out / "report.html").read_text()
    for key in ("passk_curves", "format_shares", "entropy_hist"):
        assert f"-{key}\"><figcaption>" in first and first.count("<svg") >= 3
    assert "<script" not in first
    (out / "report.html").unlink()
    (out / "report.md").unlink()
    res = CliRunner().invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").read_text() == first  # a pure function of results.json
    assert (out / "report.md").exists()
