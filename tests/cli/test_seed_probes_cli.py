"""The reliability and framing probes run end to end on the chat lab model (real sampling, real CLI and API)."""

from __future__ import annotations

import json

import pytest

import offtarget

CHAT = "models/lab/chat"
SUITE = "models/lab/chat/tasks.jsonl"
SMALL = ("--suite", SUITE, "--max-new-tokens", "160", "--problems", "6", "--samples", "4", "--bootstrap", "200",
         "--splits", "test")


@pytest.mark.slow
def test_reliability_and_framing_in_the_cli(cli, tmp_path):
    frames = tmp_path / "frames.jsonl"
    frames.write_text(json.dumps({"name": "panic", "kind": "emotional", "template": "Please hurry!! {prompt}"}) + "\n"
                      + json.dumps({"name": "hint", "kind": "suggestion", "template": "{prompt} Is it {wrong}?"}) + "\n")
    out = tmp_path / "run"
    cli("audit", "--model", f"a={CHAT}", "--model", f"b={CHAT}", *SMALL, "--probes", "reliability,framing",
        "--frames", frames, "--out", out, check=True)
    data = json.loads((out / "results.json").read_text())
    probes = {p["probe"]: p for p in data["probes"]}
    assert probes["reliability"]["error"] is None and probes["framing"]["error"] is None
    got = {(m["metric"], m["group"], m["checkpoint"]): m for p in probes.values() for m in p["metrics"]}
    for metric in ("response_agreement", "greedy_draw_agreement", "framing_error_increase_emotional",
                   "framing_error_increase_suggestion", "suggestion_adoption_rate"):
        a, b = got[(metric, "test", "a")], got[(metric, "test", "b")]
        assert a["value"] is not None and a["value"] == b["value"]  # the same checkpoint twice
    assert "frames: panic (emotional), hint (suggestion)" in probes["framing"]["notes"]
    # framed prompts are sampled into the store but are not problems of the suite
    assert data["checkpoints"][0]["n_problems"] == 6
    assert all("#frame=" not in e["problem"] for e in data["examples"]["a"])
    report = (out / "report.md").read_text()
    assert "## framing" in report and "## reliability" in report and "definition: icc_single_draw" in report
    # a self-comparison flags nothing
    assert not [c for p in probes.values() for c in p["comparisons"] if c["flag"] != "none"]


@pytest.mark.slow
def test_reliability_from_python(tmp_path):
    r = offtarget.audit({"a": CHAT}, suite=SUITE, max_new_tokens=160, problems=6, samples=4, bootstrap=200,
                        splits=("test",), probes=("reliability",), out=str(tmp_path / "api"))
    agreement = r.metric("response_agreement", "a", "test")
    assert agreement is not None and 0.0 <= agreement.value <= 1.0


def test_a_bad_frames_file_is_a_one_line_error(cli, tmp_path):
    frames = tmp_path / "frames.jsonl"
    frames.write_text('{"name": "x", "kind": "flattery", "template": "{prompt}"}\n')
    proc = cli("audit", "--model", f"a={CHAT}", *SMALL, "--probes", "framing", "--frames", frames,
               "--out", tmp_path / "run")
    assert proc.returncode == 2 and "kind 'flattery'" in proc.stderr and "Traceback" not in proc.stderr


def test_an_edited_frames_file_is_not_answered_from_the_cache(tmp_path):
    # Same path, one frame fewer (so the samples come back from the store): a result cached under the
    # path alone would still report the dropped frame; the content digest in its key recomputes it.
    import sqlite3

    frames = tmp_path / "frames.jsonl"
    doubt = json.dumps({"name": "doubt", "kind": "emotional", "template": "{prompt} Are you sure?"}) + "\n"
    hint = json.dumps({"name": "hint", "kind": "suggestion", "template": "{prompt} Is it {wrong}?"}) + "\n"
    frames.write_text(doubt + hint)
    out = tmp_path / "run"

    def audit():
        r = offtarget.audit({"a": CHAT}, suite=SUITE, max_new_tokens=96, problems=6, samples=2, bootstrap=200,
                            splits=("test",), probes=("framing",), frames=str(frames), out=str(out), render=False)
        db = sqlite3.connect(out / "generations.sqlite")
        cached = db.execute("select count(*) from meta where key like 'probe:%'").fetchone()[0]
        measured = {m["metric"] for p in r.raw["probes"] for m in p["metrics"] if m["value"] is not None}
        return measured, cached, r.raw["checkpoints"][0]["generated"]

    both = {"framing_error_increase_emotional", "framing_error_increase_suggestion", "suggestion_adoption_rate"}
    assert audit()[:2] == (both, 1)
    assert audit() == (both, 1, 0)  # unchanged file: the cached result
    frames.write_text(doubt)
    # recomputed under a new key; no framed prompt is new, so every sample came from the store
    assert audit() == ({"framing_error_increase_emotional"}, 2, 0)
