"""Aligning logs on common problems and samples, sampling-setting notes, stored rows."""

from __future__ import annotations

import numpy as np
import pytest

from offtarget.errors import OfftargetError
from offtarget.evidence import LogEvidence, LogRow, LogSampling, parse_model_spec
from offtarget.evidence.importer import END, align, log_evidence, sampling_notes
from offtarget.store import GenerationStore
from offtarget.tasks import get_task


def _log(rows: dict[str, list[str]], name="x", **sampling) -> LogEvidence:
    flat = [LogRow(pid, i, t) for pid, texts in rows.items() for i, t in enumerate(texts)]
    return LogEvidence("completions", f"{name}.jsonl", name * 8, LogSampling(**sampling), flat)


@pytest.fixture
def problems():
    return get_task("arithmetic").problems("test", 5, seed=0)


def test_align_truncates_to_common_count(problems):
    a = _log({p.id: ["d 1"] * 4 for p in problems}, "a")
    b = _log({p.id: ["d 1"] * 3 for p in problems[:4]}, "b")
    kept, n, notes = align(problems, {"a": a, "b": b}, direct_samples=None)
    assert [p.id for p in kept] == [p.id for p in problems[:4]] and n == 3
    assert any("truncated to 3" in x for x in notes) and any("4 of the suite's 5" in x for x in notes)
    _, n, _ = align(problems, {"a": a}, direct_samples=2)
    assert n == 2


def test_align_rejects_foreign_problems(problems):
    with pytest.raises(OfftargetError, match="none of its 1 problem ids"):
        align(problems, {"a": _log({"nope": ["d 1"]})}, None)
    wrong = LogEvidence("lmeval", "w.jsonl", "w", LogSampling(), [LogRow(problems[0].id, 0, "d 1", prompt="1+1=")])
    with pytest.raises(OfftargetError, match="pass the --suite the log was made from"):
        align(problems, {"a": wrong}, None)


def test_sampling_notes_name_the_difference():
    notes = sampling_notes({"a": LogSampling(temperature=1.0, top_k=0), "b": LogSampling(temperature=0.7),
                            "c": LogSampling(temperature=1.0)})
    tail = ": a paired comparison of different sampling settings is not like for like"
    assert notes == [f"sampling differs between a and b (temperature 1.0 vs 0.7){tail}",
                     f"sampling differs between b and c (temperature 0.7 vs 1.0){tail}"]
    assert sampling_notes({"a": LogSampling(top_p=None), "b": LogSampling(top_p=1.0)}) == []


class _Cfg:
    device, dtype, trust_remote_code, chat_template = "cpu", "auto", False, True


def test_log_evidence_rows_and_unavailable_entropy(problems, tmp_path):
    p = problems[0]
    log = _log({p.id: [f"d {p.answer}<c>7", "d 1234567890123456"]}, max_tokens=16, samples=2)
    store = GenerationStore(tmp_path / "g.sqlite")
    ev = log_evidence("x", parse_model_spec("completions:x.jsonl"), log, get_task("arithmetic"), [p], 2, store, _Cfg())
    assert ev.correct.tolist() == [[1.0, 0.0]] and ev.confidence[0, 0] == pytest.approx(0.75)
    first = ev.samples[0][0]
    assert first.token_ids == [ord(c) for c in first.text] + [END] and first.finish_reason == "stop"
    assert ev.samples[0][1].finish_reason == "length" and ev.truncated.tolist() == [[0.0, 1.0]]
    assert np.isnan(ev.mean_entropy).all() and not ev.has_entropies and ev.model_path is None
    # a re-run reads the stored rows back
    again = log_evidence("x", parse_model_spec("completions:x.jsonl"), log, get_task("arithmetic"), [p], 2, store,
                         _Cfg())
    assert again.source["imported_rows"] == 0 and again.samples[0][0].text == first.text
    store.close()
