"""Hugging Face datasets as suites, on local files: json, parquet, a save_to_disk folder, a column map."""

import json

import datasets
import pytest

from offtarget.errors import OfftargetError
from offtarget.tasks import get_task

GSM = [
    {"question": "Tom has 3 apples and buys 4. How many?", "answer": "3 + 4 = 7\n#### 7"},
    {"question": "A pen costs 2 dollars. Price of 6 pens?", "answer": "6 * 2 = 12\n#### 12"},
    {"question": "Half of 50?", "answer": "50 / 2 = 25\n#### 25"},
]


@pytest.fixture
def gsm_dir(tmp_path):
    """A gsm8k-shaped dataset saved with save_to_disk: train and test splits."""
    d = datasets.DatasetDict({
        "train": datasets.Dataset.from_list(GSM[:2]),
        "test": datasets.Dataset.from_list(GSM[2:]),
    })
    path = tmp_path / "gsm_like"
    d.save_to_disk(str(path))
    return path


def test_saved_folder_with_gsm8k_answer_regex(gsm_dir, tmp_path):
    y = tmp_path / "gsm.yaml"
    y.write_text(f"suite: hf:{gsm_dir}\nanswer_regex: '####\\s*(.+)'\n")
    task = get_task(str(y))
    test, train = task.problems("test", 10), task.problems("train", 10)
    assert [p.answer for p in train] == ["7", "12"] and [p.answer for p in test] == ["25"]
    assert test[0].prompt == "Half of 50?" and test[0].id == f"{gsm_dir}/test/0"
    assert task.verify(test[0], "50 / 2 = 25, so the answer is \\boxed{25}").correct
    assert not task.verify(test[0], "\\boxed{24}").correct
    same = get_task(f"hf:{gsm_dir}?answer_regex=####\\s*(.%2B)")  # '+' is %2B in a suite string
    assert [p.answer for p in same.problems("train", 10)] == ["7", "12"]


def test_json_data_files_with_column_map_and_splits(tmp_path):
    f = tmp_path / "qa.jsonl"
    rows = [{"uid": f"q{i}", "q": f"What is {i} + {i}?", "gold": 2 * i, "kind": "even" if i % 2 == 0 else "odd",
             "hard": i > 2} for i in range(5)]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    task = get_task(f"hf:json?data_files={f}&prompt=q&answer=gold&id=uid&slice=kind")
    ps = task.problems("test", 10)  # one split in the data: it is `test`
    assert [p.answer for p in ps] == ["0", "2", "4", "6", "8"] and ps[1].id == "json/train/q1"
    assert [p.slice for p in ps[:2]] == ["even", "odd"] and task.name == "hf:json"
    assert task.verify(ps[3], "Answer: 6").correct
    two = get_task(f"hf:json?data_files={f}&prompt=q&answer=gold&splits=ood:train")
    assert two.problems("test", 5) == [] and len(two.problems("ood", 5)) == 5


def test_parquet_with_template_and_exact_answers(tmp_path):
    f = tmp_path / "mc.parquet"
    datasets.Dataset.from_list([
        {"stem": "Capital of France?", "choices": "A) Paris B) Rome", "label": "A"},
        {"stem": "2 + 2?", "choices": "A) 3 B) 4", "label": "B"},
        {"stem": "Unknowable?", "choices": "A) yes B) no", "label": None},
    ]).to_parquet(str(f))
    task = get_task(f"hf:parquet?data_files={f}&template={{stem}}%0A{{choices}}&answer=label&answer_type=exact")
    ps = task.problems("test", 5)
    assert ps[0].prompt == "Capital of France?\nA) Paris B) Rome"
    assert task.verify(ps[0], "Answer: A").correct and not task.verify(ps[1], "Answer: A").correct
    assert ps[2].should_abstain and ps[2].answer is None


@pytest.mark.parametrize("options, needle", [
    ("prompt=query", "column 'query' (prompt=) does not exist; columns: ['question', 'answer']"),
    ("answer=gold", "column 'gold' (answer=) does not exist"),
    ("template={stem}", "template column 'stem' does not exist; columns: ['question', 'answer']"),
    ("answer_regex=@@(.%2B)", "answer_regex '@@(.+)' does not match"),
    ("splits=test:validation", "the dataset has no split 'validation'; its splits are ['train', 'test']"),
    ("splits=dev:test", "offtarget's splits are"),
    ("colour=red", "unexpected keyword argument 'colour'"),
])
def test_mistakes_are_one_line_errors(gsm_dir, options, needle):
    with pytest.raises(OfftargetError) as e:
        get_task(f"hf:{gsm_dir}?{options}")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_unloadable_dataset_is_one_line(tmp_path):
    with pytest.raises(OfftargetError, match="cannot load the dataset") as e:
        get_task(f"hf:json?data_files={tmp_path / 'missing.jsonl'}")
    assert "\n" not in str(e.value)
