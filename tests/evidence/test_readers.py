"""Each evidence source parsed from the real fixture logs, checked against values read by hand."""

from __future__ import annotations

import json
import zipfile

import pytest

from offtarget.errors import OfftargetError
from offtarget.evidence import parse_model_spec, read_log
from offtarget.evidence.completions_jsonl import read as read_completions
from offtarget.evidence.completions_jsonl import write as write_completions
from offtarget.tasks import get_task

FIRST = "test/carries=1/9+29"


def _counts(log):
    by = log.by_problem()
    return len(by), {len(v) for v in by.values()}


def test_lmeval_sft_samples(logs):
    log = read_log("lmeval", str(logs / "sft_samples_offtarget_arith30.jsonl"))
    assert len(log.rows) == 120 and _counts(log) == (30, {4})  # 60 records: 2 filters × 30 docs, read once
    assert [r.completion for r in log.by_problem()[FIRST]] == ["d 28<c>7", "d 27<c>7", "d 28<c>7", "d 28<c>7"]
    assert log.rows[0].prompt == "9+29="
    s = log.sampling
    assert (s.temperature, s.top_k, s.max_tokens, s.samples) == (1.0, 0, 16, 4)
    assert log.rows[0].token_logprobs is None


def test_lmeval_base_samples(logs):
    log = read_log("lmeval", str(logs / "base_samples_offtarget_arith30.jsonl"))
    assert [r.completion for r in log.by_problem()[FIRST]] == ["r 84", "r 84", "d 38", "d 38"]


def test_offtarget_verifies_not_the_harness(logs):
    """lm-eval's regex scored sft 0.633 (first filter); offtarget's grammar also reads ``r 58``."""
    task = get_task("arithmetic")
    log = read_log("lmeval", str(logs / "sft_samples_offtarget_arith30.jsonl"))
    problems = {p.id: p for p in task.problems("test", 2000)}
    verdicts = [task.verify(problems[r.problem_id], r.completion) for r in log.rows]
    assert sum(v.correct for v in verdicts) == 83  # 0.692 of 120
    assert {v.format for v in verdicts} >= {"direct", "reversed", "steps"}


def test_inspect_eval_log(logs):
    log = read_log("inspect", str(logs / "sft_arith30_epochs4.eval"))
    assert len(log.rows) == 120 and _counts(log) == (30, {4})
    s = log.sampling
    assert (s.temperature, s.top_k, s.max_tokens, s.samples, s.seed) == (1.0, 0, 16, 4, 0)
    assert log.harness == "inspect_ai 0.3.285" and log.model == "/tmp/fresh/offtarget/models/lab/sft"
    first = log.by_problem()[FIRST][0]
    assert first.completion == "d 28<c>7" and first.sample_index == 0
    assert first.tokens == tuple("d 28<c>7")
    assert first.token_logprobs[0] == pytest.approx(-0.6675805449485779)
    # the hf provider logged the top-1 token 'd'; the sampled 'r' is third in top_logprobs
    r = log.by_problem()["test/carries=0/63+0"][0]
    assert r.completion == "r 38<c>7"
    assert r.token_logprobs[0] == pytest.approx(-1.4391419887542725)
    assert any("top_logprobs" in n for n in log.notes)


def test_inspect_base_log(logs):
    log = read_log("inspect", str(logs / "base_arith30_epochs4.eval"))
    assert _counts(log) == (30, {4})
    assert log.by_problem()[FIRST][0].completion == "d 28"


def test_completions_round_trip(logs, tmp_path):
    log = read_log("lmeval", str(logs / "sft_samples_offtarget_arith30.jsonl"))
    out = tmp_path / "sft.jsonl"
    write_completions(out, log)
    back = read_completions(out)
    assert [(r.problem_id, r.sample_index, r.completion) for r in back.rows] == \
        [(r.problem_id, r.sample_index, r.completion) for r in log.rows]
    assert back.sampling == log.sampling
    assert back.fingerprint != log.fingerprint  # another file, another store identity


def test_completions_defaults_and_checkpoint_column(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"checkpoint": "a", "problem_id": "p1", "completion": "d 1"},
        {"checkpoint": "a", "problem_id": "p1", "completion": "d 2"},
        {"checkpoint": "b", "problem_id": "p1", "completion": "d 3"},
    ]) + "\n")
    a = read_completions(f, "a")
    assert [(r.sample_index, r.completion) for r in a.rows] == [(0, "d 1"), (1, "d 2")]
    assert a.sampling.samples == 2
    with pytest.raises(OfftargetError, match="name the --model after one of them"):
        read_completions(f, "c")


def test_fingerprint_is_content_and_kind(tmp_path, logs):
    src = logs / "sft_samples_offtarget_arith30.jsonl"
    a = read_log("lmeval", str(src))
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(src.read_bytes())
    assert read_log("lmeval", str(copy)).fingerprint == a.fingerprint
    assert a.fingerprint.startswith("log-")


# --------------------------------------------------------------------------- specs and errors


def test_model_spec_parsing(tmp_path):
    assert parse_model_spec("models/lab/sft").kind == "checkpoint"
    s = parse_model_spec("inspect:run.eval@models/lab/sft")
    assert (s.kind, s.path, s.checkpoint, s.model_path) == ("inspect", "run.eval", "models/lab/sft", "models/lab/sft")
    assert parse_model_spec("lmeval:x.jsonl").checkpoint is None
    with pytest.raises(OfftargetError, match="not a checkpoint directory"):
        parse_model_spec(f"inspect:run.eval@{tmp_path}")


@pytest.mark.parametrize("kind, body, match", [
    ("lmeval", "not json\n", "not valid JSON"),
    ("lmeval", '{"doc_id": 0}\n', "not an lm-eval samples record"),
    ("lmeval", '{"doc_id": 0, "resps": [[["-1.9", "False"]]]}\n', "only generate_until"),
    ("lmeval", "\n", "no samples"),
    ("inspect", "PK not a zip", "not a readable Inspect .eval archive"),
    ("completions", '{"problem_id": "p"}\n', "needs 'problem_id' and a string 'completion'"),
    ("completions", '{"problem_id": "p", "completion": "x", "finish_reason": "eos"}\n', "finish_reason"),
])
def test_malformed_logs_give_one_line_errors(tmp_path, kind, body, match):
    f = tmp_path / ("log.eval" if kind == "inspect" else "log.jsonl")
    f.write_text(body)
    with pytest.raises(OfftargetError, match=match) as err:
        read_log(kind, str(f))
    assert "\n" not in str(err.value) and str(f) in str(err.value)


def test_missing_log(tmp_path):
    with pytest.raises(OfftargetError, match="file not found"):
        read_log("inspect", str(tmp_path / "nope.eval"))


def test_eval_archive_without_header(tmp_path):
    f = tmp_path / "partial.eval"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("_journal/start.json", "{}")
    with pytest.raises(OfftargetError, match="no header.json"):
        read_log("inspect", str(f))
