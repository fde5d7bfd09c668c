"""The Problem <-> dataset-row schema and completion/prompt text extraction."""

from __future__ import annotations

import json

import pytest

from offtarget.errors import OfftargetError
from offtarget.rewards.columns import (
    COLUMNS,
    completion_text,
    problem_to_row,
    problems_from_columns,
    prompt_text,
)
from offtarget.tasks import ArithmeticTask, Problem


def _columns(rows: list[dict]) -> tuple[list, dict]:
    return [r["prompt"] for r in rows], {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}


@pytest.mark.parametrize("split", ["train", "test", "ood"])
def test_rows_round_trip_every_split(split):
    problems = ArithmeticTask().problems(split, 40, seed=3)
    assert any(p.should_abstain for p in problems)  # unanswerable items are covered
    rows = [problem_to_row(p) for p in problems]
    assert all(tuple(r) == COLUMNS for r in rows)
    assert all(isinstance(r["metadata"], str) for r in rows)
    prompts, cols = _columns(rows)
    assert problems_from_columns(prompts, **cols) == problems


def test_rows_round_trip_through_hf_datasets():
    datasets = pytest.importorskip("datasets")
    problems = ArithmeticTask().problems("train", 20, seed=1)
    ds = datasets.Dataset.from_list([problem_to_row(p) for p in problems])
    rows = list(ds)
    prompts, cols = _columns(rows)
    assert problems_from_columns(prompts, **cols) == problems


def test_trl_extras_are_ignored_and_defaults_fill_missing_columns():
    got = problems_from_columns(
        ["1+1=", "1+k="],
        answer=["2", None],
        trainer_state=object(),
        log_metric=print,
        log_extra=print,
    )
    assert got[0] == Problem("row0", "1+1=", "2", split="train")
    assert got[1].should_abstain is True and got[1].answer is None and got[1].metadata == {}


def test_numeric_answers_become_strings():
    assert problems_from_columns(["1+1="], answer=[2])[0].answer == "2"


def test_missing_answer_column_is_a_one_line_user_error():
    with pytest.raises(OfftargetError, match="'answer'") as e:
        problems_from_columns(["1+1="], id=["x"])
    assert "\n" not in str(e.value)


def test_bad_metadata_names_the_column_and_row():
    with pytest.raises(OfftargetError, match="'metadata' row 1"):
        problems_from_columns(["a", "b"], answer=["1", "2"], metadata=["{}", "{not json"])
    with pytest.raises(OfftargetError, match="JSON object"):
        problems_from_columns(["a"], answer=["1"], metadata=["[1, 2]"])


def test_metadata_may_be_a_dict_or_none():
    got = problems_from_columns(["a", "b"], answer=["1", "2"], metadata=[{"a": 1}, None])
    assert got[0].metadata == {"a": 1} and got[1].metadata == {}


def test_column_length_mismatch_is_reported():
    with pytest.raises(OfftargetError, match="'split' has 1 values for 2 prompts"):
        problems_from_columns(["a", "b"], answer=["1", "2"], split=["train"])


def test_metadata_is_canonical_json():
    p = Problem("x", "1+2=", "3", metadata={"b": 2, "a": 1})
    assert problem_to_row(p)["metadata"] == json.dumps({"a": 1, "b": 2})


@pytest.mark.parametrize(
    ("completion", "text"),
    [
        ("d 85", "d 85"),
        ("", ""),
        (None, ""),
        ([], ""),
        ([{"role": "assistant", "content": "d 85"}], "d 85"),
        ({"role": "assistant", "content": "d 85"}, "d 85"),
        (
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "d "}, {"type": "text", "text": "85"}],
                }
            ],
            "d 85",
        ),
        (
            [
                {"role": "assistant", "content": "call tool"},
                {"role": "tool", "content": "85"},
                {"role": "assistant", "content": "d 85"},
            ],
            "d 85",
        ),
        ([{"role": "assistant", "content": None}], ""),
    ],
)
def test_completion_text(completion, text):
    assert completion_text(completion) == text


def test_completion_text_rejects_unknown_types():
    with pytest.raises(TypeError):
        completion_text(3.5)


def test_conversational_prompt_uses_last_user_turn():
    prompt = [
        {"role": "system", "content": "add"},
        {"role": "user", "content": "1+1="},
        {"role": "assistant", "content": "d 2"},
        {"role": "user", "content": "2+2="},
    ]
    assert prompt_text(prompt) == "2+2="
    assert problems_from_columns([prompt], answer=["4"])[0].prompt == "2+2="
