"""Stated sampling parameters win over a checkpoint's generation_config.json, on both decode paths,
unless the audit asks for the checkpoint's defaults (then results.json says which were used)."""

import json
import shutil

import pytest
import torch
import yaml
from typer.testing import CliRunner

from offtarget.cli import app
from offtarget.models.generation_defaults import from_generation_config, read_generation_config
from offtarget.models.hf_engine import HFEngine
from offtarget.models.loading import load_checkpoint
from offtarget.models.sampling import SamplingParams
from offtarget.tasks import ArithmeticTask

MODEL = "models/lab/sft"
QWEN_STYLE = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05, "do_sample": True}


@pytest.fixture(scope="module")
def qwenish(tmp_path_factory):
    """A copy of the lab SFT model whose generation_config.json carries Qwen's sampling defaults."""
    d = tmp_path_factory.mktemp("ckpt") / "qwenish"
    shutil.copytree(MODEL, d)
    gen = json.loads((d / "generation_config.json").read_text())
    (d / "generation_config.json").write_text(json.dumps({**gen, **QWEN_STYLE, "no_repeat_ngram_size": 3}))
    return d


@pytest.fixture(scope="module")
def pair(qwenish):
    return load_checkpoint(MODEL, device="cpu"), load_checkpoint(str(qwenish), device="cpu")


@pytest.fixture(scope="module")
def prompts():
    return [p.prompt for p in ArithmeticTask().problems("test", 8, seed=3)]


def _texts(out):
    return [s.text for row in out for s in row]


@pytest.mark.parametrize("decode", ["auto", "generate"])
def test_generation_config_does_not_leak_into_stated_sampling(pair, prompts, decode):
    """Same seed, same samples (sampled and greedy) as the original, whatever the copy's defaults say."""
    orig, copy = pair
    assert copy.model.generation_config.top_p == 0.8  # the defaults are there to leak
    for params in (SamplingParams(n=4, max_new_tokens=24), SamplingParams(n=1, temperature=0.0, max_new_tokens=24)):
        a = HFEngine(orig, decode=decode).generate(prompts, params, seed=11, n=params.n)
        b = HFEngine(copy, decode=decode).generate(prompts, params, seed=11, n=params.n)
        assert _texts(a) == _texts(b)
        assert [s.logprobs for r in a for s in r] == [s.logprobs for r in b for s in r]
    assert copy.model.generation_config.top_p == 0.8  # and are left in place after the call


def test_from_generation_config_takes_the_checkpoints_values(qwenish):
    stated = SamplingParams(n=4, max_new_tokens=24)
    eff, used, ignored = from_generation_config(stated, read_generation_config(qwenish))
    assert (eff.temperature, eff.top_p, eff.top_k, eff.repetition_penalty) == (0.7, 0.8, 20, 1.05)
    assert used == {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05}
    assert ignored == {"no_repeat_ngram_size": 3}
    assert eff.key() != stated.key()  # the store keeps them apart
    g, g_used, _ = from_generation_config(SamplingParams(n=1, temperature=0.0), read_generation_config(qwenish))
    assert g.greedy and g_used == {"repetition_penalty": 1.05} and g.top_p == 1.0
    # a checkpoint without sampling defaults changes nothing
    same, none, _ = from_generation_config(stated, read_generation_config(MODEL))
    assert same == stated and none == {}


def test_loop_applies_penalty_and_min_p_as_generate_does(pair, prompts):
    """Greedy with a repetition penalty: the loop and model.generate pick the same tokens, record the
    model's own log-probs, and differ from unpenalised greedy; min-p sampling is seeded and valid."""
    orig, _ = pair
    pen = SamplingParams(n=1, temperature=0.0, repetition_penalty=1.8, max_new_tokens=24)
    loop = HFEngine(orig).generate(prompts, pen, seed=0, n=1)
    ref = HFEngine(orig, decode="generate").generate(prompts, pen, seed=0, n=1)
    plain = HFEngine(orig).generate(prompts, SamplingParams(n=1, temperature=0.0, max_new_tokens=24), seed=0, n=1)
    assert _texts(loop) == _texts(ref) and _texts(loop) != _texts(plain)
    for a, b in zip(loop, ref):
        torch.testing.assert_close(torch.tensor(a[0].logprobs), torch.tensor(b[0].logprobs), atol=1e-4, rtol=1e-4)
    minp = SamplingParams(n=4, min_p=0.2, max_new_tokens=24)
    a = HFEngine(orig).generate(prompts, minp, seed=2, n=4)
    assert _texts(a) == _texts(HFEngine(orig).generate(prompts, minp, seed=2, n=4))
    # min-p 0.2 keeps only tokens with p >= 0.2 * p_max: check every chosen token teacher-forced
    tok = orig.tokenizer
    for prompt, row in zip(prompts[:3], a):
        ids = tok(prompt, return_tensors="pt").input_ids
        for s in row:
            with torch.no_grad():
                logp = torch.log_softmax(orig.model(torch.cat([ids, torch.tensor([s.token_ids])], 1)).logits[0], -1)
            steps = logp[ids.shape[1] - 1 : ids.shape[1] - 1 + len(s.token_ids)]
            chosen = steps.gather(1, torch.tensor(s.token_ids)[:, None]).squeeze(1)
            assert bool((chosen >= steps.max(-1).values + torch.log(torch.tensor(0.2)) - 1e-5).all())


@pytest.mark.slow
def test_audit_records_effective_sampling_and_opt_in_changes_it(qwenish, tmp_path):
    """Through the real CLI: by default both checkpoints sample T = 1, top_p = 1, no penalty, and
    results.json says so; with use_generation_config the copy samples its own defaults."""

    def audit(out, **extra):
        cfg = tmp_path / f"{out}.yaml"
        cfg.write_text(yaml.safe_dump({"models": {"sft": MODEL, "qwenish": str(qwenish)}, "samples": 4,
                                       "problems": 6, "probes": ["accuracy"], "bootstrap": 50, **extra}))
        res = CliRunner().invoke(app, ["audit", "--config", str(cfg), "--out", str(tmp_path / out)])
        assert res.exit_code == 0, res.output
        return json.loads((tmp_path / out / "results.json").read_text())

    stated = audit("stated")
    by = {c["name"]: c for c in stated["checkpoints"]}
    for c in by.values():
        s = c["sampling"]["sampled"]
        assert (s["temperature"], s["top_p"], s["top_k"], s["min_p"], s["repetition_penalty"]) == (1.0, 1.0, 0, 0.0, 1.0)
        assert c["sampling"]["greedy"]["repetition_penalty"] == 1.0
        assert c["sampling"]["from_generation_config"] == {}
    assert by["sft"]["sampling"]["sampled"]["key"] == by["qwenish"]["sampling"]["sampled"]["key"]
    assert by["sft"]["tokenizer_fingerprint"] == by["qwenish"]["tokenizer_fingerprint"] is not None
    assert by["sft"]["fingerprint"] != by["qwenish"]["fingerprint"]  # generation_config is part of it
    assert all(r["rendered_prompt"].startswith("<bos>") for r in stated["examples"]["sft"])

    opted = audit("opted", use_generation_config=True)
    q = next(c for c in opted["checkpoints"] if c["name"] == "qwenish")["sampling"]
    assert q["sampled"]["top_p"] == 0.8 and q["sampled"]["top_k"] == 20 and q["sampled"]["temperature"] == 0.7
    assert q["from_generation_config"] == {"sampled": {"temperature": 0.7, "top_p": 0.8, "top_k": 20,
                                                       "repetition_penalty": 1.05},
                                           "greedy": {"repetition_penalty": 1.05}}
    assert q["ignored_generation_config"] == {"no_repeat_ngram_size": 3}
    assert q["sampled"]["key"] != by["qwenish"]["sampling"]["sampled"]["key"]
    assert next(c for c in opted["checkpoints"] if c["name"] == "sft")["sampling"]["from_generation_config"] == {}
    assert "use_generation_config" in (tmp_path / "opted" / "report.md").read_text()
