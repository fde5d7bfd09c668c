"""``--resume`` of a finished training run says so, exits 0 and changes nothing."""

from __future__ import annotations

import json

import pytest
from cli_harness import SFT, assert_refused, offtarget, snapshot

TINY = ["--steps", "2", "--train-problems", "48", "--difficulty-samples", "4", "--monitor-every", "0",
        "--logging-steps", "1", "--save-steps", "1", "--no-progress"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grpo") / "run"
    proc = offtarget("train", "grpo", "--model", SFT, "--out", out, *TINY, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["steps"] == 2
    return out


def test_resume_of_a_finished_run_changes_nothing(finished_run):
    before = snapshot(finished_run)
    for _ in range(2):  # each further --resume must not add a step either
        line = assert_refused(offtarget("train", "grpo", "--out", finished_run, "--resume"),
                              "already finished at step 2 of 2", code=0)
        assert not line.startswith("error")
    assert snapshot(finished_run) == before


def test_resume_with_lower_steps_also_changes_nothing(finished_run):
    before = snapshot(finished_run)
    assert_refused(offtarget("train", "grpo", "--out", finished_run, "--resume", "--steps", "1"),
                   "already finished", code=0)
    assert snapshot(finished_run) == before


def test_fewer_prompts_than_one_step_is_refused_not_trained_for_zero_steps(tmp_path):
    """The difficulty window can keep fewer prompts than a step needs; TRL would then run 0 steps and
    still save a 'final' model. Here: 4 prompts for 8 per step, refused before any training."""
    out = tmp_path / "run"
    assert_refused(offtarget("train", "grpo", "--model", SFT, "--out", out, "--steps", "2", "--train-problems", "4",
                             "--prompts-per-step", "8", "--no-difficulty-window", "--monitor-every", "0",
                             "--no-progress"),
                   "4 training prompts", "--prompts-per-step 8")
    assert not (out / "final").exists()
