"""The default engine: batched sampling over a Hugging Face model with exact token records.

:class:`HFEngine` samples exactly :class:`~offtarget.models.sampling.SamplingParams` on both
decode paths: nothing is inherited from the checkpoint's ``generation_config.json`` except its
end-of-sequence ids (which say where a completion ends, not how tokens are drawn).

It decodes with its own loop (:mod:`offtarget.models.decode_loop`) where the model supports it.
``model.generate`` (with a logits processor that records the same numbers) remains the path for
stop strings, encoder-decoder or cache-less models, and ``decode="generate"``. Both paths sample
the same distribution and record the same things; they draw different random numbers, so a
given seed gives different samples on each.

Log-probabilities and entropies are of the model's own next-token distribution (temperature
1, before the repetition penalty and top-p), recorded one step at a time, so memory stays
O(batch × vocab) instead of keeping every step's logits.

    >>> engine = HFEngine(checkpoint)
    >>> out = engine.generate(["27+58="], SamplingParams(n=4, temperature=1.0), seed=0, n=4)
    >>> out[0][0].text, out[0][0].logprobs
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
)

from offtarget.errors import OfftargetError
from offtarget.models.decode_loop import decode_samples, loop_supports
from offtarget.models.loading import Checkpoint
from offtarget.models.sampling import Sample, SamplingParams, render_prompt


class HFEngine:
    """Batched sampling over a loaded :class:`Checkpoint` (see the module docstring)."""

    name = "hf"

    def __init__(self, checkpoint: Checkpoint, max_batch_sequences: int = 256, decode: str = "auto") -> None:
        if decode not in ("auto", "generate"):
            raise ValueError(f"decode={decode!r}: choose 'auto' (own loop where supported) or 'generate'")
        self.ckpt = checkpoint
        self.max_batch_sequences = max_batch_sequences
        self.decode = decode
        """``auto``: the engine's own decoding loop where supported, else ``model.generate``;
        ``generate``: always ``model.generate``."""

    @torch.inference_mode()
    def generate(self, prompts: list[str], params: SamplingParams, seed: int, n: int) -> list[list[Sample]]:
        tok, model = self.ckpt.tokenizer, self.ckpt.model
        rendered = [render_prompt(tok, p, params.chat_template) for p in prompts]
        add_special = rendered[0][1] if rendered else True
        enc = tok(
            [r[0] for r in rendered], return_tensors="pt", padding=True, add_special_tokens=add_special
        ).to(model.device)
        gen_cfg = generation_config(params, n, tok, model_eos_ids(self.ckpt))
        torch.manual_seed(seed)
        try:
            out = None
            if self.decode == "auto" and not params.stop and loop_supports(model):
                out = decode_samples(model, enc, gen_cfg, params.repetition_penalty, model_eos_ids(self.ckpt), n)
            if out is None:
                out = self._generate(enc, gen_cfg, params, n)
        except RuntimeError as exc:
            if "inf" in str(exc) or "nan" in str(exc):
                raise OfftargetError(
                    f"checkpoint {self.ckpt.name!r} ({self.ckpt.path}): the model produced NaN/inf probabilities; "
                    f"{nonfinite_report(model)}"
                ) from None
            raise
        return self._unpack(*out, params, n)

    def _generate(self, enc, gen_cfg: GenerationConfig, params: SamplingParams, n: int):
        """``model.generate`` with a recorder: (completions, log-probs, entropies).

        The recorder comes first, so it sees the model's own scores; the repetition penalty is
        passed as a processor after it (``gen_cfg`` holds the neutral 1.0), which is where
        ``generate`` would put it: before the warpers.
        """
        tok, model = self.ckpt.tokenizer, self.ckpt.model
        recorder = _StepRecorder()
        processors = LogitsProcessorList([recorder])
        if params.repetition_penalty != 1.0:
            # as generate does: left padding is not "seen" text
            pads = (enc["attention_mask"] != 0).int().argmax(dim=1).repeat_interleave(n)
            processors.append(RepetitionPenaltyLogitsProcessor(float(params.repetition_penalty), prompt_ignore_length=pads))
        with _stated_only(model):
            out = model.generate(
                **enc,
                generation_config=gen_cfg,
                logits_processor=processors,
                tokenizer=tok if params.stop else None,
            )
        prompt_len = enc["input_ids"].shape[1]
        logprobs, entropies = recorder.finish(out.sequences)
        return out.sequences[:, prompt_len:], logprobs, entropies

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



def generation_config(params: SamplingParams, n: int, tokenizer, eos_ids: list[int]) -> GenerationConfig:
    """The complete ``GenerationConfig`` of ``params`` (both decode paths read it).

    Every sampling setting is explicit; the repetition penalty is applied by the engine (see
    :meth:`HFEngine._generate`), so it is 1.0 here.
    """
    sampling = not params.greedy
    return GenerationConfig(
        do_sample=sampling,
        temperature=params.temperature if sampling else None,
        top_p=params.top_p if sampling else None,
        top_k=params.top_k if sampling else None,  # greedy: no warpers (and no warning)
        min_p=params.min_p if sampling and params.min_p > 0 else None,
        repetition_penalty=1.0,
        max_new_tokens=params.max_new_tokens,
        num_return_sequences=n,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos_ids,
        bos_token_id=tokenizer.bos_token_id,
        return_dict_in_generate=True,
        stop_strings=list(params.stop) or None,
    )


@contextmanager
def _stated_only(model):
    """While it is active, ``model.generate`` has no checkpoint defaults to fall back to.

    ``generate`` fills every setting its ``generation_config`` leaves unset (``None``) from
    ``model.generation_config``; several neutral values (no min-p, no suppressed tokens, …) can
    only be written as ``None``, so the model's defaults are swapped out for the call instead.
    """
    saved = model.generation_config
    model.generation_config = GenerationConfig()
    try:
        yield
    finally:
        model.generation_config = saved


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
