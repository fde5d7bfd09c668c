"""The OpenAI-compatible server engine against a local server backed by the HF engine.

The server (``fake_server.py``) runs on 127.0.0.1 and samples with offtarget's HF engine, so what
the client stores can be checked number by number; failures are injected to test retries and
that a server dying mid-audit loses nothing (the store resumes).
"""

from __future__ import annotations

import math
import sqlite3

import pytest
import torch
from fake_server import FakeServer

import offtarget
from offtarget.errors import OfftargetError
from offtarget.models.openai_engine import OpenAIEngine
from offtarget.models.sampling import SamplingParams
from offtarget.models.scoring import encode_prompt

SFT = "models/lab/sft"


def test_samples_come_back_exactly_with_every_parameter_stated():
    with FakeServer(SFT) as server:
        engine = OpenAIEngine(server.url, SFT, retries=0)
        assert engine.model == "lab-sft"  # discovered from /v1/models
        params = SamplingParams(n=3, temperature=1.0, max_new_tokens=16, stop=("<",))
        out = engine.generate(["27+58=", "3+4="], params, seed=11, n=3)
    assert [len(row) for row in out] == [3, 3]
    # requests go out concurrently: find the first prompt's body by its token ids, not by arrival order
    first = encode_prompt(engine.metadata.tokenizer, "27+58=", True)
    assert sorted(len(b["prompt"]) for b in server.bodies) == [5, 7]
    body = next(b for b in server.bodies if b["prompt"] == first)
    assert (body["top_k"], body["min_p"], body["repetition_penalty"], body["top_p"]) == (-1, 0.0, 1.0, 1.0)
    assert body["stop_token_ids"] == [2] and body["stop"] == ["<"] and body["logprobs"] == 60  # whole vocab
    assert server.bodies[0]["seed"] != server.bodies[1]["seed"]
    # the first prompt's samples are what the server's HF engine drew, entropies recovered from top-k
    served = server.samples[1] if server.bodies[1]["prompt"] == body["prompt"] else server.samples[0]
    mine = out[0]
    for a, b in zip(mine, served):
        assert a.token_ids == b.token_ids and a.text == b.text and a.finish_reason == b.finish_reason
        torch.testing.assert_close(torch.tensor(a.logprobs), torch.tensor(b.logprobs))
        torch.testing.assert_close(torch.tensor(a.entropies), torch.tensor(b.entropies), atol=1e-4, rtol=1e-4)
        assert "<" not in a.text


def test_a_server_that_answers_503_is_retried():
    with FakeServer(SFT, fail_first=2) as server:
        engine = OpenAIEngine(server.url, SFT, served_model="lab-sft", retries=3)
        out = engine.generate(["1+1="], SamplingParams(n=2, max_new_tokens=8), seed=0, n=2)
    assert len(out[0]) == 2 and server.requests == 3


def test_a_server_that_stays_down_fails_with_one_line():
    with FakeServer(SFT) as server:
        engine = OpenAIEngine(server.url, SFT, retries=1)
    # stopped: connections are refused now
    with pytest.raises(OfftargetError, match="failed 2 times.*re-run the same command to resume"):
        engine.generate(["1+1="], SamplingParams(n=1, max_new_tokens=4), seed=0, n=1)


def test_openai_engine_needs_a_server_url():
    with pytest.raises(OfftargetError, match="server_url is not set"):
        offtarget.audit({"s": SFT}, engine="openai", problems=2, samples=1, render=False, out="/tmp/never")


@pytest.mark.slow
def test_a_server_dying_mid_audit_loses_nothing(tmp_path):
    out = tmp_path / "served"
    common = {"engine": "openai", "problems": 6, "splits": ("test",), "samples": 2, "greedy": False,
              "probes": ("accuracy",), "bootstrap": 100, "batch_sequences": 4, "request_retries": 1,
              "out": str(out), "render": False}
    with FakeServer(SFT, die_after=4) as server, pytest.raises(OfftargetError, match="resume"):
        offtarget.audit({"s": SFT}, server_url=server.url, server_model="lab-sft", **common)
    db = sqlite3.connect(out / "generations.sqlite")
    kept = db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    db.close()
    assert kept == 2 * 2 * 2  # two finished batches of two prompts × two samples
    with FakeServer(SFT) as server:
        r = offtarget.audit({"s": SFT}, server_url=server.url, **common)
    total = r.checkpoints[0].n_samples * 6
    assert server.completions * 2 == total - kept  # only what was missing was asked for
    assert r.raw["checkpoints"][0]["generated"] == total - kept


@pytest.mark.slow
def test_hf_and_served_engines_agree_in_an_audit(tmp_path):
    with FakeServer(SFT) as server:
        r = offtarget.audit({"hf": SFT, "served": SFT}, engines={"served": "openai"}, server_url=server.url,
                            problems=30, samples=4, probes=("accuracy", "diversity", "shortcuts"), bootstrap=300,
                            out=str(tmp_path / "eq"), render=False)
    assert server.completions > 0
    comps = r.comparisons()
    assert comps and not r.flagged(), [(c.metric, c.group, c.diff) for c in r.flagged()]
    ent = r.metric("mean_token_entropy", "served", "test")
    assert ent is not None and math.isfinite(ent.value) and ent.value > 0
