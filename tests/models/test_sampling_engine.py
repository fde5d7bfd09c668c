"""The engine's own decoding loop against ``model.generate`` and teacher forcing, on the lab model."""

import copy

import pytest
import torch

from offtarget.models.decode_loop import loop_supports
from offtarget.models.hf_engine import HFEngine, generation_config, model_eos_ids
from offtarget.models.loading import load_checkpoint
from offtarget.models.sampling import SamplingParams
from offtarget.models.scoring import completion_logprobs
from offtarget.tasks import ArithmeticTask

MODEL = "models/lab/sft"


@pytest.fixture(scope="module")
def ckpt():
    return load_checkpoint(MODEL, device="cpu")


@pytest.fixture(scope="module")
def prompts():
    task = ArithmeticTask()
    out = [p.prompt for p in task.problems("test", 6, seed=4) + task.problems("ood", 6, seed=4)]
    assert len({len(p) for p in out}) > 1  # left padding is exercised
    return out


@pytest.mark.parametrize("decode", ["auto", "generate"])
def test_recorded_logprobs_match_teacher_forcing_in_padded_batches(ckpt, prompts, decode):
    out = HFEngine(ckpt, decode=decode).generate(prompts, SamplingParams(n=3, max_new_tokens=24), seed=5, n=3)
    assert [len(row) for row in out] == [3] * len(prompts)
    flat = [(p, s) for p, row in zip(prompts, out) for s in row]
    scored = completion_logprobs(ckpt, [p for p, _ in flat], [s.token_ids for _, s in flat])
    for (_, s), tf in zip(flat, scored):
        assert len(s.token_ids) == len(s.logprobs) == len(s.entropies)
        torch.testing.assert_close(torch.tensor(s.logprobs), tf, atol=1e-4, rtol=1e-4)
        assert all(e >= 0 for e in s.entropies)


def test_greedy_loop_equals_generate(ckpt, prompts):
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=24)
    loop = HFEngine(ckpt).generate(prompts, greedy, seed=0, n=1)
    ref = HFEngine(ckpt, decode="generate").generate(prompts, greedy, seed=0, n=1)
    for a, b in zip(loop, ref):
        assert a[0].token_ids == b[0].token_ids and a[0].text == b[0].text
        assert a[0].finish_reason == b[0].finish_reason
        torch.testing.assert_close(torch.tensor(a[0].entropies), torch.tensor(b[0].entropies), atol=1e-4, rtol=1e-4)


def test_loop_is_seeded_and_samples_like_generate(ckpt, prompts):
    """Same seed, same samples; and the two paths agree in distribution (mean length, accuracy)."""
    task = ArithmeticTask()
    problems = task.problems("test", 24, seed=9)
    params = SamplingParams(n=16, max_new_tokens=24)
    stats = {}
    for decode in ("auto", "generate"):
        backend = HFEngine(ckpt, decode=decode)
        a = backend.generate([p.prompt for p in problems], params, seed=1, n=16)
        b = backend.generate([p.prompt for p in problems], params, seed=1, n=16)
        assert [s.text for r in a for s in r] == [s.text for r in b for s in r]
        samples = [(p, s) for p, row in zip(problems, a) for s in row]
        stats[decode] = (sum(len(s.token_ids) for _, s in samples) / len(samples),
                         sum(task.verify(p, s.text).correct for p, s in samples) / len(samples))
    (len_a, acc_a), (len_b, acc_b) = stats["auto"], stats["generate"]
    assert abs(len_a - len_b) < 1.0 and abs(acc_a - acc_b) < 0.1, stats


def test_truncated_samples_keep_every_step(ckpt, prompts):
    out = HFEngine(ckpt).generate(prompts[:4], SamplingParams(n=2, max_new_tokens=3), seed=0, n=2)
    for s in (s for row in out for s in row):
        assert len(s.token_ids) <= 3
        assert (s.finish_reason == "length") == (len(s.token_ids) == 3 and s.token_ids[-1] != 2)


def test_checkpoint_defaults_are_not_inherited_and_stop_strings_use_generate(ckpt, monkeypatch):
    """The loop runs whatever the checkpoint's generation_config says (nothing of it is applied);
    stop strings go through ``model.generate``."""
    model = copy.copy(ckpt.model)  # shallow: its own generation_config, the same weights
    model.generation_config = copy.deepcopy(ckpt.model.generation_config)
    model.generation_config.repetition_penalty = 1.3
    model.generation_config.top_p = 0.8
    assert loop_supports(model)
    cfg = generation_config(SamplingParams(n=2, max_new_tokens=8), 2, ckpt.tokenizer, model_eos_ids(ckpt))
    assert (cfg.top_p, cfg.top_k, cfg.repetition_penalty, cfg.min_p) == (1.0, 0, 1.0, None)
    greedy = generation_config(SamplingParams(n=1, temperature=0.0), 1, ckpt.tokenizer, model_eos_ids(ckpt))
    assert not greedy.do_sample and greedy.repetition_penalty == 1.0

    calls = []
    backend = HFEngine(ckpt)
    real = backend._generate
    monkeypatch.setattr(backend, "_generate", lambda *a, **k: calls.append(1) or real(*a, **k))
    backend.generate(["27+58="], SamplingParams(n=2, max_new_tokens=8), seed=0, n=2)
    backend.generate(["27+58="], SamplingParams(n=1, temperature=0.0, repetition_penalty=1.2, max_new_tokens=8),
                     seed=0, n=1)
    assert calls == []
    out = backend.generate(["27+58="], SamplingParams(n=2, max_new_tokens=8, stop=("<c>",)), seed=0, n=2)
    assert calls == [1] and all("<c>" not in s.text for s in out[0])
