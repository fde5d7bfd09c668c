"""Every checkpoint and every prompt is checked before any sampling: a broken second ``--model``
fails in seconds, with nothing written."""

from __future__ import annotations

import json
import random

import pytest
from cli_harness import BASE, ROOT, SFT, assert_refused, offtarget, snapshot

CHAT = ROOT / "models" / "lab" / "chat"


def _audit_refused(tmp_path, *models: str, needles=(), extra=()):
    out = tmp_path / "run"
    proc = offtarget("audit", *[a for m in models for a in ("--model", m)], "--out", out, "--problems", "2",
                     "--samples", "1", *extra)
    line = assert_refused(proc, *needles)
    assert not out.exists(), "a refused audit must not create its run directory"
    return line


@pytest.mark.parametrize("kind, needles", [
    ("missing", ("--model rl=", "not found")),
    ("weightless", ("--model rl=", "no weight files")),
    ("nan", ("--model rl=", "NaN")),
    ("small_embedding", ("--model rl=", "tokenizer has ids up to 59", "20 rows")),
    ("no_config", ("--model rl=", "no config.json")),
])
def test_broken_second_checkpoint_is_refused_before_sampling(tmp_path, bad_checkpoints, kind, needles):
    path = tmp_path / "nowhere" if kind == "missing" else bad_checkpoints[kind]
    before = snapshot(BASE)
    line = _audit_refused(tmp_path, f"base={BASE}", f"rl={path}", needles=needles)
    if kind == "nan":
        assert bad_checkpoints["nan_tensor"] in line
    assert snapshot(BASE) == before


def _task_file(path, prompts):
    path.write_text("".join(json.dumps({"id": f"p{i}", "prompt": p, "answer": "1"}) + "\n"
                            for i, p in enumerate(prompts)))
    return path


def test_prompt_longer_than_the_context_names_the_problem(tmp_path):
    rng = random.Random(0)
    long = " ".join(str(rng.randrange(10**6)) for _ in range(5000))  # ~35k characters
    suite = _task_file(tmp_path / "long.jsonl", ["Compute 1 + 1.", long])
    _audit_refused(tmp_path, f"chat={CHAT}", needles=("problem p1", "tokens", "4096 positions"),
                   extra=("--suite", suite))


def test_huge_prompt_line_is_refused_without_tokenizing(tmp_path):
    suite = _task_file(tmp_path / "huge.jsonl", ["Compute 1 + 1.", "7" * 10_000_000])
    _audit_refused(tmp_path, f"base={BASE}", f"sft={SFT}", needles=("problem p1", "10,000,000 characters"),
                   extra=("--suite", suite))


def test_prompt_over_a_tiny_context_is_refused(tmp_path):
    suite = _task_file(tmp_path / "over.jsonl", ["1+1=" * 30])  # 120 characters: the char tokenizer's 120 tokens
    _audit_refused(tmp_path, f"base={BASE}", needles=("problem p0", "64 positions"), extra=("--suite", suite))
