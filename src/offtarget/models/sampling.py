"""The sampling engine: n completions per prompt with per-token log-probs and entropies.

Probes read everything they need from these records, so each generation is produced once.
Backends implement :class:`SamplingBackend`; :class:`HFBackend` (``model.generate``, left
padding, KV cache, batches shaped by prompt length) is the default, and a vLLM backend can be
added without touching probes.

Log-probabilities and entropies are of the model's own next-token distribution (temperature
1, before top-p), recorded one step at a time by a logits processor, so memory stays
O(batch × vocab) instead of keeping every step's logits.

    >>> backend = HFBackend(checkpoint)
    >>> out = backend.generate(["27+58="], SamplingParams(n=4, temperature=1.0), seed=0)
    >>> out[0][0].text, out[0][0].logprobs
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Protocol

import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList

from offtarget.errors import OfftargetError
from offtarget.models.loading import Checkpoint


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Its :meth:`key` is part of every stored generation's identity."""

    n: int = 16
    """Samples per prompt."""
    temperature: float = 1.0
    """0 means greedy decoding (then ``n`` should be 1)."""
    top_p: float = 1.0
    top_k: int = 0
    """0 disables top-k, so T = 1 samples the model's full distribution."""
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ()
    """Strings that end a completion; the text is cut before them."""
    chat_template: bool = True
    """Render prompts through the tokenizer's chat template when it has one."""

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def key(self) -> str:
        """Stable identity of everything that changes the distribution of outputs (not ``n``)."""
        d = asdict(self)
        d.pop("n")
        d["stop"] = list(d["stop"])
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class Sample:
    """One completion with its token-level record."""

    text: str
    token_ids: list[int]
    logprobs: list[float]
    entropies: list[float]
    finish_reason: str
    """``stop`` (EOS or stop string) or ``length`` (hit ``max_new_tokens``: truncated)."""


class SamplingBackend(Protocol):
    """What the run store needs from a generator."""

    name: str

    def generate(self, prompts: list[str], params: SamplingParams, seed: int, n: int) -> list[list[Sample]]:
        """``n`` samples for each prompt, deterministic in ``seed`` for a given batch."""
        ...


class _StepRecorder(LogitsProcessor):
    """Records log p(chosen token) and entropy of the model's raw distribution at each step.

    At step t the processor sees the token chosen at t − 1 as the last input id, so it keeps
    only the previous step's log-softmax. Custom processors run before temperature/top-p
    warpers in ``generate``, so the scores here are the model's own.
    """

    def __init__(self) -> None:
        self.prev_logp: torch.Tensor | None = None
        self.logprobs: list[torch.Tensor] = []
        self.entropies: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prev_logp is not None:
            self.logprobs.append(self.prev_logp.gather(1, input_ids[:, -1:]).squeeze(1))
        logp = torch.log_softmax(scores.float(), dim=-1)
        self.entropies.append(-(logp.exp() * logp).nan_to_num().sum(-1))
        self.prev_logp = logp
        return scores

    def finish(self, sequences: torch.LongTensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.prev_logp is not None:
            self.logprobs.append(self.prev_logp.gather(1, sequences[:, -1:]).squeeze(1))
        return torch.stack(self.logprobs, 1), torch.stack(self.entropies, 1)


def render_prompt(tokenizer, prompt: str, use_chat_template: bool) -> tuple[str, bool]:
    """The text fed to the model, and whether the tokenizer should add special tokens itself."""
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return text, False
    return prompt, True


class HFBackend:
    """Batched ``model.generate`` over a loaded :class:`Checkpoint`."""

    name = "hf"

    def __init__(self, checkpoint: Checkpoint, max_batch_sequences: int = 256) -> None:
        self.ckpt = checkpoint
        self.max_batch_sequences = max_batch_sequences

    @torch.inference_mode()
    def generate(self, prompts: list[str], params: SamplingParams, seed: int, n: int) -> list[list[Sample]]:
        tok, model = self.ckpt.tokenizer, self.ckpt.model
        rendered = [render_prompt(tok, p, params.chat_template) for p in prompts]
        add_special = rendered[0][1] if rendered else True
        enc = tok(
            [r[0] for r in rendered], return_tensors="pt", padding=True, add_special_tokens=add_special
        ).to(model.device)
        gen_cfg = GenerationConfig(
            do_sample=not params.greedy,
            temperature=params.temperature if not params.greedy else None,
            top_p=params.top_p if params.top_p < 1 else None,
            top_k=params.top_k,
            max_new_tokens=params.max_new_tokens,
            num_return_sequences=n,
            pad_token_id=tok.pad_token_id,
            eos_token_id=model.generation_config.eos_token_id or tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
            return_dict_in_generate=True,
            stop_strings=list(params.stop) or None,
        )
        recorder = _StepRecorder()
        torch.manual_seed(seed)
        try:
            out = model.generate(
                **enc,
                generation_config=gen_cfg,
                logits_processor=LogitsProcessorList([recorder]),
                tokenizer=tok if params.stop else None,
            )
        except RuntimeError as exc:
            if "inf" in str(exc) or "nan" in str(exc):
                raise OfftargetError(
                    f"checkpoint {self.ckpt.name!r} ({self.ckpt.path}): the model produced NaN/inf probabilities; "
                    f"{nonfinite_report(model)}"
                ) from None
            raise
        prompt_len = enc["input_ids"].shape[1]
        completions = out.sequences[:, prompt_len:]
        logprobs, entropies = recorder.finish(out.sequences)
        return self._unpack(completions, logprobs, entropies, params, n)

    def _unpack(self, completions, logprobs, entropies, params: SamplingParams, n: int) -> list[list[Sample]]:
        tok = self.ckpt.tokenizer
        eos_ids = model_eos_ids(self.ckpt)
        is_end = torch.zeros_like(completions, dtype=torch.bool)
        for e in eos_ids:
            is_end |= completions == e
        # length up to and including the first EOS; the rest is padding
        has_end = is_end.any(1)
        first_end = torch.where(has_end, is_end.float().argmax(1), torch.full_like(has_end, completions.shape[1], dtype=torch.long))
        lengths = torch.where(has_end, first_end + 1, first_end).tolist()
        ids_all = completions.tolist()
        lp_all, ent_all = logprobs.tolist(), entropies.tolist()
        samples: list[Sample] = []
        for i, length in enumerate(lengths):
            ids = ids_all[i][:length]
            text = tok.decode(ids, skip_special_tokens=True)
            finished = bool(has_end[i])
            for s in params.stop:
                cut = text.find(s)
                if cut >= 0:
                    text, finished = text[:cut], True
            samples.append(
                Sample(text, ids, lp_all[i][:length], ent_all[i][:length], "stop" if finished else "length")
            )
        return [samples[j * n : (j + 1) * n] for j in range(len(samples) // n)]


def nonfinite_report(model) -> str:
    """Which weights are not finite, so a broken checkpoint is named rather than debugged."""
    bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    if not bad:
        return "its weights are finite: check the dtype (try --dtype float32)"
    return f"non-finite weights in {len(bad)} tensor(s), first: {bad[0]}"


def model_eos_ids(ckpt: Checkpoint) -> list[int]:
    eos = ckpt.model.generation_config.eos_token_id
    if eos is None:
        eos = ckpt.tokenizer.eos_token_id
    return list(eos) if isinstance(eos, (list, tuple)) else [eos]
