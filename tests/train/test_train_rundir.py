"""Run directory: torn files and torn checkpoints are never picked up."""

from __future__ import annotations

import json

import pytest

from offtarget.errors import OfftargetError
from offtarget.train.rundir import RunDir, append_jsonl, read_jsonl, replace_dir


def test_last_checkpoint_skips_a_torn_save(tmp_path):
    run = RunDir(tmp_path)
    assert run.last_checkpoint() is None
    for step, complete in ((100, True), (200, True), (300, False)):
        d = run.checkpoints / f"checkpoint-{step}"
        d.mkdir(parents=True)
        (d / "model.safetensors").write_bytes(b"x")
        if complete:
            (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (run.checkpoints / "checkpoint-250" / "").mkdir()
    (run.checkpoints / "checkpoint-250" / "trainer_state.json").write_text("{torn")
    assert run.last_checkpoint().endswith("checkpoint-200")


def test_jsonl_truncation_and_torn_last_line(tmp_path):
    run = RunDir(tmp_path)
    append_jsonl(run.monitor, [{"step": s} for s in (0, 25, 50, 75)])
    with open(run.monitor, "a") as fh:
        fh.write('{"step": 100, "id_acc')  # killed mid-line
    assert [r["step"] for r in read_jsonl(run.monitor)] == [0, 25, 50, 75]
    run.truncate_jsonl(run.monitor, 50)
    assert run.monitor.read_text() == '{"step": 0}\n{"step": 25}\n{"step": 50}\n'


def test_replace_dir_swaps_whole_directories(tmp_path):
    dest, tmp = tmp_path / "final", tmp_path / "final.tmp"
    dest.mkdir()
    (dest / "old").write_text("1")
    tmp.mkdir()
    (tmp / "new").write_text("2")
    replace_dir(tmp, dest)
    assert [p.name for p in dest.iterdir()] == ["new"] and not tmp.exists()
    assert not (tmp_path / "final.old").exists()


def test_prepare_refuses_to_clobber(tmp_path):
    run = RunDir(tmp_path / "r")
    run.prepare(resume=False, overwrite=False)  # a new directory is fine
    (run.root / "x").write_text("x")
    with pytest.raises(OfftargetError, match="--resume"):
        run.prepare(resume=False, overwrite=False)
    with pytest.raises(OfftargetError, match="config.yaml not found"):
        run.prepare(resume=True, overwrite=False)
    run.prepare(resume=False, overwrite=True)
    assert list(run.root.iterdir()) == []
