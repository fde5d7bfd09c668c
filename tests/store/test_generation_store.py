"""The run store: a killed run loses at most the batch in flight; a re-run generates only what is missing."""

import pytest

from offtarget.models.hf_engine import HFEngine
from offtarget.models.loading import load_checkpoint
from offtarget.models.sampling import SamplingParams
from offtarget.store import GenerationStore, fill
from offtarget.tasks import ArithmeticTask

MODEL = "models/lab/base"


class Killed(Exception):
    pass


class DiesAfter:
    """A real engine that is 'killed' (raises) on its k-th call, as a SIGKILL mid-run would stop it."""

    def __init__(self, engine, k):
        self.engine, self.k, self.calls, self.name = engine, k, 0, "hf"

    def generate(self, *a, **kw):
        self.calls += 1
        if self.calls == self.k:
            raise Killed
        return self.engine.generate(*a, **kw)


@pytest.fixture(scope="module")
def ckpt():
    return load_checkpoint(MODEL, device="cpu")


def test_kill_then_resume_generates_only_missing(tmp_path, ckpt):
    problems = ArithmeticTask().problems("test", 24, seed=0)
    params = SamplingParams(n=4, max_new_tokens=24)
    store = GenerationStore(tmp_path / "g.sqlite")
    dying = DiesAfter(HFEngine(ckpt), k=3)
    with pytest.raises(Killed):
        fill(store, dying, ckpt.fingerprint, problems, params, max_batch_sequences=32)  # 8 prompts a batch
    have = store.have_counts(ckpt.fingerprint, params.key())
    assert sum(have.values()) == 2 * 8 * 4  # two whole batches, nothing of the third
    assert set(have.values()) == {4}
    n = fill(store, HFEngine(ckpt), ckpt.fingerprint, problems, params, max_batch_sequences=32)
    assert n == (24 - 16) * 4
    assert fill(store, HFEngine(ckpt), ckpt.fingerprint, problems, params) == 0
    # more samples later: only the new indices are generated, and indices stay contiguous
    more = SamplingParams(n=6, max_new_tokens=24)
    assert more.key() == params.key()
    assert fill(store, HFEngine(ckpt), ckpt.fingerprint, problems, more) == 24 * 2
    got = store.get(ckpt.fingerprint, params.key(), [p.store_key for p in problems], 6)
    assert all([s.sample_index for s in v] == list(range(6)) for v in got.values())


def test_store_roundtrips_token_records(tmp_path, ckpt):
    problems = ArithmeticTask().problems("test", 4, seed=1)
    params = SamplingParams(n=2, max_new_tokens=24)
    store = GenerationStore(tmp_path / "g.sqlite")
    fill(store, HFEngine(ckpt), ckpt.fingerprint, problems, params)
    got = store.get(ckpt.fingerprint, params.key(), [problems[0].store_key], 2)[problems[0].store_key]
    s = got[0]
    assert len(s.token_ids) == len(s.logprobs) == len(s.entropies) > 0
    assert all(lp <= 0 for lp in s.logprobs)
    assert ckpt.tokenizer.decode(s.token_ids, skip_special_tokens=True) == s.text


def test_greedy_is_deterministic_and_params_keyed(tmp_path, ckpt):
    problems = ArithmeticTask().problems("test", 6, seed=2)
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=24)
    a = HFEngine(ckpt).generate([p.prompt for p in problems], greedy, seed=1, n=1)
    b = HFEngine(ckpt).generate([p.prompt for p in problems], greedy, seed=2, n=1)
    assert [x[0].text for x in a] == [x[0].text for x in b]
    assert greedy.key() != SamplingParams(n=1, temperature=1.0).key()


def test_sampled_logprobs_match_teacher_forcing(ckpt):
    """The engine's per-token log-probs are the model's own (T=1) distribution at each position."""
    import torch

    prompt = "27+58="
    out = HFEngine(ckpt).generate([prompt], SamplingParams(n=3, max_new_tokens=24), seed=0, n=3)[0]
    tok = ckpt.tokenizer
    for s in out:
        ids = tok(prompt, return_tensors="pt").input_ids
        full = torch.cat([ids, torch.tensor([s.token_ids])], 1)
        with torch.no_grad():
            logp = torch.log_softmax(ckpt.model(full).logits.float(), -1)[0]
        pl = ids.shape[1]
        want = [logp[pl - 1 + i, t].item() for i, t in enumerate(s.token_ids)]
        torch.testing.assert_close(torch.tensor(s.logprobs), torch.tensor(want), atol=1e-4, rtol=1e-4)


def test_unreadable_store_is_a_clear_error(tmp_path):
    from offtarget.errors import OfftargetError

    bad = tmp_path / "g.sqlite"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(OfftargetError, match="not a readable offtarget store"):
        GenerationStore(bad)


def test_two_wordings_of_one_problem_do_not_share_samples(tmp_path, ckpt):
    """Same ids, different prompts (a suite and its confidence-asking variant): the second wording is
    sampled, not read back from the first."""
    from dataclasses import replace

    plain = ArithmeticTask().problems("test", 4, seed=0)
    reworded = [replace(p, prompt=p.prompt + " ") for p in plain]
    params = SamplingParams(n=2, max_new_tokens=8)
    store = GenerationStore(tmp_path / "g.sqlite")
    assert fill(store, HFEngine(ckpt), ckpt.fingerprint, plain, params) == 8
    assert fill(store, HFEngine(ckpt), ckpt.fingerprint, reworded, params) == 8
    assert fill(store, HFEngine(ckpt), ckpt.fingerprint, plain, params) == 0
    assert plain[0].store_key != reworded[0].store_key and plain[0].id == reworded[0].id
