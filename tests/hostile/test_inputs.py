"""Bad flags, YAML values, output paths and task files: one line, exit 2, nothing written."""

from __future__ import annotations

import json

import pytest
from cli_harness import BASE, assert_refused, offtarget, snapshot


def _audit(tmp_path, *extra, out=None):
    out = out or tmp_path / "run"
    return offtarget("audit", "--model", f"base={BASE}", "--out", out, "--problems", "2", "--samples", "1", *extra)


@pytest.mark.parametrize("flags, needles", [
    (("--temperature", "-1"), ("--temperature -1",)),
    (("--max-new-tokens", "0"), ("--max-new-tokens 0",)),
    (("--splits", "train,bogus"), ("--splits", "'bogus'")),
])
def test_bad_sampling_flags(tmp_path, flags, needles):
    assert_refused(_audit(tmp_path, *flags), *needles)
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_is_left_alone(tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("precious")
    before = snapshot(target)
    assert_refused(_audit(tmp_path, out=target), str(target), "is a file")
    assert snapshot(target) == before


def test_out_on_a_read_only_mount(tmp_path):
    # /proc does not take new directories, even for root
    assert_refused(_audit(tmp_path, out="/proc/offtarget-hostile/run"), "/proc/offtarget-hostile")


def test_yaml_float_field_is_type_checked_before_any_work(tmp_path):
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(f"models: {{base: {BASE}}}\nalpha: x\n")
    assert_refused(offtarget("audit", "--config", cfg, "--out", tmp_path / "run"), "alpha must be a number", "'x'")
    assert not (tmp_path / "run").exists()


def test_yaml_takes_the_flag_names(tmp_path):
    """The README says the YAML holds the flags' keys: ``model:`` and ``max-new-tokens:`` are read
    (the run is then refused for a value, proving both keys were understood)."""
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(f"model: [base={BASE}]\nmax-new-tokens: 0\n")
    assert_refused(offtarget("audit", "--config", cfg, "--out", tmp_path / "run"), "--max-new-tokens 0")


def test_yaml_key_given_twice_by_flag_and_field_name(tmp_path):
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(f"model: [base={BASE}]\nmodels: {{sft: {BASE}}}\n")
    assert_refused(offtarget("audit", "--config", cfg, "--out", tmp_path / "run"), "keep one")


def test_non_utf8_task_file_names_file_and_line(tmp_path):
    suite = tmp_path / "tasks.jsonl"
    suite.write_bytes(b'{"prompt": "Compute 1 + 1.", "answer": "2"}\n{"prompt": "caf\xe9", "answer": "3"}\n')
    assert_refused(_audit(tmp_path, "--suite", suite), f"{suite}:2", "not UTF-8")
    assert not (tmp_path / "run").exists()


def test_boolean_answer_is_refused(tmp_path):
    suite = tmp_path / "tasks.jsonl"
    suite.write_text(json.dumps({"prompt": "Is 2 even?", "answer": True}) + "\n")
    assert_refused(_audit(tmp_path, "--suite", suite), f"{suite}:1", "'answer'", "true")
