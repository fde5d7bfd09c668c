"""Shared-prompt, length-sorted teacher forcing against a plain full forward's log-softmax."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from offtarget.models.loading import Checkpoint
from offtarget.models.scoring import ScoringConfig, completion_logprobs, encode_prompt, forward_kl
from offtarget.models.teacher_forcing import ModelPass

# several samples per prompt (the cache is shared), prompts of different lengths, and "" (BOS only:
# a one-token prompt has no prefix to cache)
PROMPTS = ["1+2="] * 4 + ["345+6789="] * 3 + [""] * 2 + ["7="] + ["12*34+5="] * 2
LENGTHS = [5, 1, 9, 3, 7, 2, 12, 4, 6, 8, 1, 10]


class SoftCapped(torch.nn.Module):
    """A causal LM that soft-caps its logits after the output layer (as Gemma 2 does): the output
    layer's own product is not the model's logits, so scoring must not split it off."""

    def __init__(self, inner, cap: float = 2.0) -> None:
        super().__init__()
        self.inner, self.config, self.cap = inner, inner.config, cap

    @property
    def device(self):
        return self.inner.device

    def get_decoder(self):
        return self.inner.get_decoder()

    def get_output_embeddings(self):
        return self.inner.get_output_embeddings()

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                use_cache=None, logits_to_keep=0):
        out = self.inner(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=past_key_values, use_cache=use_cache, logits_to_keep=logits_to_keep)
        out.logits = self.cap * torch.tanh(out.logits / self.cap)
        return out


@pytest.fixture(scope="module")
def completions() -> list[list[int]]:
    g = torch.Generator().manual_seed(0)
    return [torch.randint(4, 60, (n,), generator=g).tolist() for n in LENGTHS]


def _reference(ckpt: Checkpoint, prompt: str, completion: list[int]) -> torch.Tensor:
    """log-softmax of ``model(prompt + completion).logits`` at the completion positions: (tokens, vocab)."""
    ids = encode_prompt(ckpt.tokenizer, prompt) + completion
    with torch.no_grad():
        logits = ckpt.model(input_ids=torch.tensor([ids])).logits[0].float()
    p = len(ids) - len(completion)
    return logits[p - 1 : len(ids) - 1].log_softmax(-1)


CONFIGS = [
    ScoringConfig(),
    ScoringConfig(padding_side="right"),
    ScoringConfig(batch_sequences=3, max_positions=20),  # many prompt windows, many batches
    ScoringConfig(batch_sequences=5, max_logits=7 * 60),  # 7-row float32 chunks
    ScoringConfig(share_prompts=False),
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_logprobs_equal_the_full_forward_log_softmax(ref, completions, cfg):
    got = completion_logprobs(ref, PROMPTS, completions, cfg=cfg)
    for prompt, c, lp in zip(PROMPTS, completions, got, strict=True):
        want = _reference(ref, prompt, c).gather(1, torch.tensor(c)[:, None]).squeeze(1)
        torch.testing.assert_close(lp, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cfg", CONFIGS[:3])
def test_kl_equals_the_full_forward_kl(ref, other, completions, cfg):
    got = forward_kl(ref, other, PROMPTS, completions, cfg=cfg)
    for prompt, c, kl in zip(PROMPTS, completions, got, strict=True):
        want = F.kl_div(_reference(other, prompt, c), _reference(ref, prompt, c), log_target=True,
                        reduction="none").sum(-1)
        torch.testing.assert_close(kl, want, rtol=1e-4, atol=1e-5)
    assert all((k > 0).all() for k in got)


def test_a_llama_takes_both_shortcuts(ref):
    with torch.inference_mode():
        p = ModelPass.probe(ref.model, encode_prompt(ref.tokenizer, "1+2=") + [5])
    assert p.decoder is not None and p.head is ref.model.get_output_embeddings() and p.caches


@pytest.mark.parametrize("share", [True, False])
def test_logits_changed_after_the_output_layer_are_scored_as_the_model_gives_them(completions, share, make_checkpoint):
    capped = make_checkpoint(0, "capped", wrap=SoftCapped)
    with torch.inference_mode():
        p = ModelPass.probe(capped.model, encode_prompt(capped.tokenizer, "1+2=") + [5])
    assert p.decoder is None and p.caches  # the cap is found; the cache is still the model's own
    got = completion_logprobs(capped, PROMPTS, completions, cfg=ScoringConfig(batch_sequences=4, share_prompts=share))
    for prompt, c, lp in zip(PROMPTS, completions, got, strict=True):
        want = _reference(capped, prompt, c).gather(1, torch.tensor(c)[:, None]).squeeze(1)
        torch.testing.assert_close(lp, want, rtol=1e-5, atol=1e-5)
    plain = completion_logprobs(make_checkpoint(0, "plain"), PROMPTS, completions)
    assert max(float((a - b).abs().max()) for a, b in zip(got, plain)) > 0.1  # the cap mattered
