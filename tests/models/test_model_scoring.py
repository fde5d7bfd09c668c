"""Teacher-forced scoring against hand-written loops on tiny random Llamas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from offtarget.errors import OfftargetError
from offtarget.models.char_tokenizer import build_char_tokenizer
from offtarget.models.hf_engine import HFEngine
from offtarget.models.loading import Checkpoint
from offtarget.models.sampling import SamplingParams
from offtarget.models.scoring import (
    ScoringConfig,
    completion_logprobs,
    encode_prompt,
    forward_kl,
    forward_kl_many,
)
from offtarget.models.tiny import TinyModelConfig, new_tiny_model

SMALL = TinyModelConfig(layers=2, hidden=64, ffn=128, heads=2, max_positions=64)
PROMPTS = ["1+2=", "345+6789=", "7=", "12*34+5=", "99-1=", "3+3="]


@pytest.fixture(scope="module")
def completions(ref) -> list[list[int]]:
    g = torch.Generator().manual_seed(0)
    vocab = len(ref.tokenizer)
    return [torch.randint(4, vocab, (n,), generator=g).tolist() for n in (5, 1, 9, 3, 7, 2)]


def _full_logprobs(ckpt: Checkpoint, prompt: str, completion: list[int]) -> torch.Tensor:
    """Unpadded forward over prompt + completion: log-softmax at each completion position."""
    ids = encode_prompt(ckpt.tokenizer, prompt) + completion
    with torch.no_grad():
        logits = ckpt.model(input_ids=torch.tensor([ids])).logits[0].float()
    p = len(ids) - len(completion)
    return torch.log_softmax(logits[p - 1 : len(ids) - 1], dim=-1)


def test_logprobs_equal_a_token_by_token_loop(ref, completions):
    got = completion_logprobs(ref, PROMPTS, completions)
    for prompt, c, lp in zip(PROMPTS, completions, got):
        ids = encode_prompt(ref.tokenizer, prompt)
        want = []
        for t in c:  # one forward per token, no batching, no padding
            with torch.no_grad():
                logits = ref.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
            want.append(torch.log_softmax(logits, -1)[t])
            ids = ids + [t]
        torch.testing.assert_close(lp, torch.stack(want), rtol=1e-5, atol=1e-5)


def test_kl_of_a_model_with_itself_is_zero(ref, completions):
    for kl in forward_kl(ref, ref, PROMPTS, completions):
        torch.testing.assert_close(kl, torch.zeros_like(kl), rtol=0, atol=1e-7)


def test_kl_equals_torch_kl_div_on_full_logits(ref, other, completions):
    got = forward_kl(ref, other, PROMPTS, completions)
    for prompt, c, kl in zip(PROMPTS, completions, got):
        lp_ref, lp = _full_logprobs(ref, prompt, c), _full_logprobs(other, prompt, c)
        want = F.kl_div(lp, lp_ref, log_target=True, reduction="none").sum(-1)  # KL(target ‖ input)
        assert kl.shape == (len(c),)
        torch.testing.assert_close(kl, want, rtol=1e-4, atol=1e-6)
    assert all((k > 0).all() for k in got)


@pytest.mark.parametrize("cfg", [
    ScoringConfig(batch_sequences=6, padding_side="left"),
    ScoringConfig(batch_sequences=6, padding_side="right"),
    ScoringConfig(batch_sequences=4, max_logits=3 * 60),  # tiny budget: many batches, 3-token chunks
])
def test_batched_and_padded_equal_unbatched(ref, other, completions, cfg):
    one = ScoringConfig(batch_sequences=1)
    for a, b in zip(completion_logprobs(ref, PROMPTS, completions, cfg=cfg),
                    completion_logprobs(ref, PROMPTS, completions, cfg=one)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(forward_kl(ref, other, PROMPTS, completions, cfg=cfg),
                    forward_kl(ref, other, PROMPTS, completions, cfg=one)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_kl_of_several_checkpoints_in_one_pass_equals_one_call_each(ref, other, completions):
    """The reference's pass shared by several tuned checkpoints (one of them the reference itself:
    KL 0, and an empty completion among the sequences) gives each the numbers of its own call."""
    seqs = completions[:2] + [[]] + completions[2:]
    prompts = PROMPTS[:2] + ["5+5="] + PROMPTS[2:]
    together = forward_kl_many(ref, [other, ref], prompts, seqs, cfg=ScoringConfig(batch_sequences=4))
    for tuned, got in zip((other, ref), together):
        alone = forward_kl(ref, tuned, prompts, seqs, cfg=ScoringConfig(batch_sequences=4))
        assert [k.shape for k in got] == [k.shape for k in alone] and got[2].shape == (0,)
        for a, b in zip(got, alone):
            assert torch.equal(a, b)
    assert all((k > 0).all() for k in together[0] if k.numel())


def test_rescoring_stored_samples_matches_the_sampler(ref):
    """Same prompt rendering as the sampler: re-scored log-probs equal the ones recorded while sampling."""
    out = HFEngine(ref).generate(PROMPTS[:3], SamplingParams(n=2, max_new_tokens=8), seed=0, n=2)
    samples = [s for row in out for s in row]
    prompts = [p for p in PROMPTS[:3] for _ in range(2)]
    got = completion_logprobs(ref, prompts, [s.token_ids for s in samples])
    for s, lp in zip(samples, got):
        torch.testing.assert_close(lp, torch.tensor(s.logprobs), rtol=1e-4, atol=1e-4)


def test_empty_completion_scores_to_an_empty_tensor(ref):
    lp = completion_logprobs(ref, ["1+1=", "2+2="], [[], [5, 6]])
    assert lp[0].shape == (0,) and lp[1].shape == (2,)


def test_different_tokenizers_are_a_clear_error(ref):
    model, _ = new_tiny_model(SMALL, seed=2)
    tok = build_char_tokenizer(alphabet="0123456789+=")
    odd = Checkpoint("odd", "/mem/odd", model, tok, "fp-odd")
    with pytest.raises(OfftargetError, match="different tokenizers") as e:
        forward_kl(ref, odd, ["1+1="], [[5]])
    assert "\n" not in str(e.value)
