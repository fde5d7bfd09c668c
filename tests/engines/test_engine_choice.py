"""Engine choice in the audit config, store keys per engine, and the top-k entropy bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from offtarget.audit.config import AuditConfig
from offtarget.config import load_config
from offtarget.errors import OfftargetError
from offtarget.models.engines import engine_for, read_checkpoint_metadata, request_seed, store_key
from offtarget.models.topk_entropy import entropy_bounds, entropy_estimate, entropy_estimates, topk_for_vocab

SFT = "models/lab/sft"


def test_engine_per_checkpoint_overrides_the_default(tmp_path):
    f = tmp_path / "audit.yaml"
    f.write_text(f"models: {{hf: {SFT}, fast: {SFT}}}\nengines: {{fast: vllm}}\n"
                 "engine_args: {tensor_parallel_size: 2, distributed_executor_backend: ray}\n")
    cfg = load_config(AuditConfig, f)
    options = cfg.engine_options()
    assert engine_for(options, "hf") == "hf" and engine_for(options, "fast") == "vllm"
    assert options.engine_args["tensor_parallel_size"] == 2
    assert cfg.engine_args == {"tensor_parallel_size": 2, "distributed_executor_backend": "ray"}
    assert store_key("abc", "hf") == "abc" and store_key("abc", "vllm") == "abc@vllm"


@pytest.mark.parametrize("settings, needle", [
    ({"engine": "sglang"}, "engine 'sglang': choose one of hf, vllm, openai"),
    ({"engines": {"nope": "vllm"}}, "engines.nope: 'nope' is not one of the --model names"),
    ({"engines": {"a": "tgi"}}, "engines.a 'tgi'"),
    ({"max_concurrency": 0}, "max_concurrency must be at least 1"),
])
def test_bad_engine_settings_get_one_line(settings, needle):
    with pytest.raises(OfftargetError, match=needle):
        load_config(AuditConfig, None, {"models": {"a": SFT}, **settings})


def test_checkpoint_metadata_reads_what_the_hf_engine_stops_on():
    meta = read_checkpoint_metadata(SFT)
    assert meta.eos_ids == [2] and meta.vocab == 60 and meta.max_positions == 64
    assert topk_for_vocab(60) == 60 and topk_for_vocab(151936) == 20 and topk_for_vocab(151936, 5) == 5
    assert request_seed(3, 0) != request_seed(3, 1) and request_seed(3, 1) == request_seed(3, 1) < 2**31


def test_entropy_bounds_hand_worked():
    # p = (0.5, 0.25) of a 4-token vocabulary; the tail r = 0.25 over 2 tokens
    h_top = 0.5 * math.log(2) + 0.25 * math.log(4)
    lo, hi = entropy_bounds([math.log(0.5), math.log(0.25)], vocab=4)
    assert lo == pytest.approx(h_top + 0.25 * math.log(4))  # tail tokens at most p_k = 0.25 each
    assert hi == pytest.approx(h_top + 0.25 * math.log(2 / 0.25))  # tail spread evenly: 0.125 each
    assert entropy_estimate([math.log(0.5), math.log(0.25)], 4) == lo
    full = [math.log(0.5), math.log(0.25), math.log(0.125), math.log(0.125)]
    assert entropy_bounds(full, 4)[0] == entropy_bounds(full, 4)[1] == pytest.approx(-sum(
        math.exp(x) * x for x in full))


def test_entropy_bounds_hold_on_random_distributions():
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = int(rng.integers(5, 300))
        logits = rng.normal(0, rng.uniform(0.1, 6), v)
        logp = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        exact = float(-(np.exp(logp) * logp).sum())
        k = int(rng.integers(1, v + 1))
        lo, hi = entropy_bounds(np.sort(logp)[::-1][:k].tolist(), v)
        assert lo - 1e-6 <= exact <= hi + 1e-6


def test_entropy_estimates_of_a_batch_equal_the_one_at_a_time_values():
    rng = np.random.default_rng(1)
    vocab, k = 50, 8
    logits = rng.normal(0, rng.uniform(0.1, 8, (300, 1)), (300, vocab))
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) - logits.max(1, keepdims=True)
    rows = -np.sort(-logp, axis=1)[:, :k]
    rows[0, 3:] = -np.inf  # a server's -inf for tokens of zero probability
    rows[1, :] = -np.inf
    full = -np.sort(-logp[:2], axis=1)  # the whole vocabulary: exact
    got = entropy_estimates(rows, vocab)
    assert got.shape == (300,)
    np.testing.assert_allclose(got, [entropy_estimate(r.tolist(), vocab) for r in rows], rtol=1e-12, atol=1e-12)
    assert got[1] == 0.0 and got[0] > 0
    np.testing.assert_allclose(entropy_estimates(full, vocab), -(np.exp(logp[:2]) * logp[:2]).sum(1), rtol=1e-9)
