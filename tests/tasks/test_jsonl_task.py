"""Users' JSONL tasks: schema errors are one line naming file:line and field; math-verify answers."""

import json

import pytest

from offtarget.errors import OfftargetError
from offtarget.tasks import get_task
from offtarget.tasks.jsonl import JsonlTask, answers_match, extract_answer


def _write(tmp_path, rows):
    f = tmp_path / "t.jsonl"
    f.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return f


def test_load_and_verify(tmp_path):
    f = _write(tmp_path, [
        {"id": "a", "prompt": "1/2 as decimal?", "answer": "0.5"},
        {"id": "b", "prompt": "What is x?", "answer": None, "split": "test"},
        {"id": "c", "prompt": "shifted", "answer": "3", "split": "ood", "slice": "long"},
    ])
    task = get_task(str(f))
    test = task.problems("test", 10)
    assert [p.id for p in test] == ["a", "b"] and test[1].should_abstain
    assert task.verify(test[0], r"so \boxed{\frac{1}{2}}").correct
    assert task.verify(test[0], "Answer: 1/2").format == "answer-line"
    assert not task.verify(test[0], r"\boxed{0.6}").correct
    v = task.verify(test[1], "I don't know.")
    assert v.abstained and not v.correct
    assert task.verify(test[0], r"\boxed{0.5} <confidence>0.8</confidence>").confidence == 0.8
    assert [p.slice for p in task.problems("ood", 5)] == ["long"]


@pytest.mark.parametrize("bad, needle", [
    ("{not json", "t.jsonl:1: not valid JSON"),
    ('{"answer": "1"}', "field 'prompt'"),
    ('{"prompt": "x"}', "field 'answer' is missing"),
    ('{"prompt": "x", "answer": "1", "colour": 1}', "unknown field"),
    ('[1, 2]', "expected a JSON object"),
])
def test_malformed_files_give_one_line_errors(tmp_path, bad, needle):
    f = _write(tmp_path, [bad])
    with pytest.raises(OfftargetError) as e:
        JsonlTask.from_file(f)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_duplicate_ids_rejected(tmp_path):
    f = _write(tmp_path, [{"id": "a", "prompt": "x", "answer": "1"}, {"id": "a", "prompt": "y", "answer": "2"}])
    with pytest.raises(OfftargetError, match="duplicate id"):
        JsonlTask.from_file(f)


def test_answer_extraction_and_matching():
    assert extract_answer(r"first \boxed{1} then \boxed{2}") == ("2", "boxed")
    assert extract_answer("nothing here") == (None, "malformed")
    assert answers_match("1,234", "1234") and not answers_match("12", "13")
    assert answers_match("abc", "abc", "exact") and not answers_match("abc", "abd", "exact")


def test_answer_type_is_checked_and_formats_render(tmp_path):
    f = _write(tmp_path, [{"prompt": "x", "answer": "1", "metadata": {"answer_type": "fuzzy"}}])
    with pytest.raises(OfftargetError, match="metadata.answer_type 'fuzzy' is not one of math, exact, text, choice"):
        JsonlTask.from_file(f)
    task = JsonlTask.from_file(_write(tmp_path, [{"id": "a", "prompt": "x", "answer": "-4"}]))
    p = task.problems("test", 1)[0]
    for fmt in task.formats:
        text = task.render_answer(p, fmt, "-4")
        assert task.verify(p, text).format == fmt and task.verify(p, text).correct
