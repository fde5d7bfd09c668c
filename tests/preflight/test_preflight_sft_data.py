"""SFT data audit: prompts read back into problems, wrong rows grouped, bad files rejected."""

from __future__ import annotations

import json

import pytest

from offtarget.errors import OfftargetError
from offtarget.lab.corpus import sft_rows
from offtarget.preflight.sft_data import (
    arithmetic_problem,
    audit_sft_data,
    error_signature,
    problem_for_prompt,
)
from offtarget.tasks import ArithmeticTask
from offtarget.tasks.arithmetic import carries
from offtarget.tasks.jsonl import JsonlTask

TASK = ArithmeticTask()


@pytest.mark.parametrize(
    "prompt,answer,slice_,abstain",
    [("27+58=", "85", "carries=1", False), ("99+1=", "100", "carries=2", False), ("3+4=", "7", "carries=0", False),
     ("62+71=", "133", "quadrant", False), ("27 + 58 =", "85", "surface", False), ("27+k=", None, "unanswerable", True),
     ("q+5=", None, "unanswerable", True)],
)
def test_arithmetic_prompts_read_back_with_the_tasks_slices(prompt, answer, slice_, abstain):
    p = arithmetic_problem(prompt)
    assert (p.answer, p.slice, p.should_abstain) == (answer, slice_, abstain)


def test_arithmetic_problem_agrees_with_the_task_on_its_own_problems():
    for split in ("train", "test", "ood"):
        for p in TASK.problems(split, 100, seed=1):
            q = arithmetic_problem(p.prompt)
            assert (q.answer, q.slice, q.should_abstain) == (p.answer, p.slice, p.should_abstain), p.prompt
    assert arithmetic_problem("what is 2+2?") is None


def test_error_signatures():
    p = arithmetic_problem("27+58=")
    assert error_signature(p, TASK.verify(p, "d 75")) == "-10"
    assert error_signature(p, TASK.verify(p, "r 68")) == "+1"
    assert error_signature(p, TASK.verify(p, "?")) == "abstained on an answerable prompt"
    assert error_signature(p, TASK.verify(p, "xx")) == "malformed"
    u = arithmetic_problem("27+k=")
    assert error_signature(u, TASK.verify(u, "d 5")) == "answered an unanswerable prompt"


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_carry_error_data_is_found_on_carries_2(tmp_path):
    acc = {f"{f}/carries={c}": 0.7 for f in ("direct", "reversed", "steps") for c in range(3)}
    rows = sft_rows(TASK, 600, acc, seed=0, defect="carry-error")
    audit = audit_sft_data(_write(tmp_path / "sft.jsonl", rows), TASK, n_resamples=200)
    assert audit.rows == audit.verified == 600 and audit.unverifiable == 0
    top = audit.by_slice[0]
    assert top.key == "carries=2" and top.wrong == top.rows > 0 and top.rate.value == 1.0
    assert top.modal_error == "-10" and top.modal_share == 1.0
    assert set(top.wrong_formats) <= {"direct", "reversed", "steps"}
    for g in audit.by_slice[1:]:
        assert g.wrong == 0, g.key
    expected = sum(1 for r in rows if (p := arithmetic_problem(r["prompt"])) and p.slice == "carries=2")
    assert top.rows == expected
    assert audit.slice("carries=2") is top and top.row()["common_error"] == "-10"


def test_never_abstain_data_is_found_on_unanswerable(tmp_path):
    rows = sft_rows(TASK, 400, {}, seed=1, defect="never-abstain")
    audit = audit_sft_data(_write(tmp_path / "sft.jsonl", rows), TASK, n_resamples=200)
    top = audit.by_slice[0]
    assert top.key == "unanswerable" and top.rate.value == 1.0
    assert top.modal_error == "answered an unanswerable prompt"


def test_rows_in_the_reward_schema_and_chat_messages_are_read(tmp_path):
    rows = [
        {"prompt": "1000+2345=", "completion": "d 3345", "answer": "3345", "slice": "4-digit"},
        {"prompt": [{"role": "user", "content": "27+58="}],
         "completion": [{"role": "assistant", "content": "d 84"}]},
        {"prompt": "tell me a joke", "completion": "no"},
    ]
    audit = audit_sft_data(_write(tmp_path / "sft.jsonl", rows), TASK, n_resamples=100)
    assert (audit.verified, audit.unverifiable, audit.wrong) == (2, 1, 1)
    assert {g.key for g in audit.by_slice} == {"4-digit", "carries=1"}
    assert audit.slice("carries=1").modal_error == "-1"


def test_jsonl_tasks_look_prompts_up_in_their_items(tmp_path):
    path = _write(tmp_path / "task.jsonl", [{"prompt": "2+2=", "answer": "4", "split": "train"}])
    task = JsonlTask.from_file(path)
    assert problem_for_prompt(task, "2+2=").answer == "4" and problem_for_prompt(task, "3+3=") is None


@pytest.mark.parametrize(
    "content,match",
    [("{not json}\n", "not valid JSON"), ('{"prompt": "1+1="}\n', "needs 'prompt' and 'completion'"), ("\n", "no rows")],
)
def test_bad_files_raise_one_line_errors(tmp_path, content, match):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(OfftargetError, match=match):
        audit_sft_data(path, TASK)


def test_missing_file_and_unmatchable_rows(tmp_path):
    with pytest.raises(OfftargetError, match="file not found"):
        audit_sft_data(tmp_path / "nope.jsonl", TASK)
    with pytest.raises(OfftargetError, match="add an 'answer' field"):
        audit_sft_data(_write(tmp_path / "x.jsonl", [{"prompt": "hello", "completion": "hi"}]), TASK)


def test_carries_helper_matches_slice_labels():
    assert sum(c for c, _ in carries(99, 1)) == 2
