"""The sampling engine: n completions per prompt with per-token log-probs and entropies.

Probes read everything they need from these records, so each generation is produced once.
Backends implement :class:`SamplingBackend`; :class:`HFBackend` is the default, and a vLLM
backend can be added without touching probes.

:class:`HFBackend` decodes with its own loop over the model's forward and KV cache (left
padding, one batch per call): each prompt is prefilled once and its KV cache shared by its
``n`` samples, and a sequence that has finished (EOS) leaves the batch, so later steps run
only the rows still generating. Sampling uses transformers' own temperature / top-k / top-p
warpers, in ``generate``'s order. ``model.generate`` (with a logits processor that records the
same numbers) remains the path for stop strings, encoder-decoder or cache-less models,
generation configs that add processors (repetition penalty, ...), and ``decode="generate"``.
On the lab model the loop generates about twice the tokens per second of ``generate``
(benchmarks/sampling.py). Both paths sample the same distribution and record the same
things; they draw different random numbers, so a given seed gives different samples on each.

Log-probabilities and entropies are of the model's own next-token distribution (temperature
1, before top-p), recorded one step at a time, so memory stays O(batch × vocab) instead of
keeping every step's logits.

    >>> backend = HFBackend(checkpoint)
    >>> out = backend.generate(["27+58="], SamplingParams(n=4, temperature=1.0), seed=0, n=4)
    >>> out[0][0].text, out[0][0].logprobs
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
from dataclasses import asdict, dataclass
from typing import Protocol

import torch
from transformers import (
    DynamicCache,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

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
        gen_cfg = GenerationConfig(
            do_sample=not params.greedy,
            temperature=params.temperature if not params.greedy else None,
            top_p=params.top_p if params.top_p < 1 else None,
            top_k=params.top_k if not params.greedy else None,  # greedy: no warpers (and no warning)
            max_new_tokens=params.max_new_tokens,
            num_return_sequences=n,
            pad_token_id=tok.pad_token_id,
            eos_token_id=model.generation_config.eos_token_id or tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
            return_dict_in_generate=True,
            stop_strings=list(params.stop) or None,
        )
        torch.manual_seed(seed)
        try:
            out = None
            if self.decode == "auto" and not params.stop:
                out = _decode(model, enc, _effective_config(model, gen_cfg), model_eos_ids(self.ckpt), n)
            if out is None:
                out = self._generate(enc, gen_cfg, params)
        except RuntimeError as exc:
            if "inf" in str(exc) or "nan" in str(exc):
                raise OfftargetError(
                    f"checkpoint {self.ckpt.name!r} ({self.ckpt.path}): the model produced NaN/inf probabilities; "
                    f"{nonfinite_report(model)}"
                ) from None
            raise
        return self._unpack(*out, params, n)

    def _generate(self, enc, gen_cfg: GenerationConfig, params: SamplingParams):
        """``model.generate`` with a recorder: (completions, log-probs, entropies)."""
        tok, model = self.ckpt.tokenizer, self.ckpt.model
        recorder = _StepRecorder()
        out = model.generate(
            **enc,
            generation_config=gen_cfg,
            logits_processor=LogitsProcessorList([recorder]),
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


# ---------------------------------------------------------------------------------------------
# The engine's own decoding loop

# Generation-config fields the loop implements (or that do not change the output distribution).
_HANDLED = frozenset({
    "do_sample", "temperature", "top_k", "top_p", "max_new_tokens", "max_length", "num_return_sequences",
    "pad_token_id", "bos_token_id", "eos_token_id", "return_dict_in_generate", "stop_strings", "use_cache",
    "output_attentions", "output_hidden_states", "output_scores", "output_logits", "disable_compile",
    "transformers_version", "_from_model_config",
})
# Fields that add a processor or change the search unless they hold these (neutral) values; any other
# field a model's generation config sets sends the batch to ``model.generate``.
_NEUTRAL = {
    "min_length": 0, "min_new_tokens": None, "num_beams": 1, "num_beam_groups": 1, "diversity_penalty": 0.0,
    "length_penalty": 1.0, "early_stopping": False, "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
    "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0, "bad_words_ids": None, "forced_bos_token_id": None,
    "forced_eos_token_id": None, "remove_invalid_values": False, "exponential_decay_length_penalty": None,
    "suppress_tokens": None, "begin_suppress_tokens": None, "sequence_bias": None, "min_p": None,
    "top_h": None, "renormalize_logits": False, "guidance_scale": None, "watermarking_config": None,
    "penalty_alpha": None, "dola_layers": None, "prompt_lookup_num_tokens": None,
    "num_assistant_tokens": 20, "num_assistant_tokens_schedule": "constant",
    "assistant_confidence_threshold": 0.4, "assistant_lookbehind": 10, "target_lookbehind": 10,
    "max_time": None, "low_memory": None, "cache_implementation": None,
}


def _effective_config(model, gen_cfg: GenerationConfig) -> GenerationConfig | None:
    """The config ``generate`` would use (the model's generation config fills what ``gen_cfg``
    leaves unset), or None when the loop cannot reproduce it exactly."""
    if getattr(model.config, "is_encoder_decoder", False):
        return None
    checkpointing = getattr(model, "is_activation_checkpointing", None)  # transformers >= 5.x
    if checkpointing is None:
        checkpointing = getattr(model, "is_gradient_checkpointing", False)
    if checkpointing and model.training:
        return None  # the model would refuse the cache
    accepted = inspect.signature(model.forward).parameters
    if not {"past_key_values", "position_ids", "attention_mask"} <= set(accepted):
        return None
    cfg = copy.deepcopy(gen_cfg)
    cfg.update(**model.generation_config.to_dict(), defaults_only=True)
    for key, value in cfg.to_diff_dict().items():
        if key not in _HANDLED and (key not in _NEUTRAL or value != _NEUTRAL[key]):
            return None
    return cfg


def _warpers(cfg: GenerationConfig) -> LogitsProcessorList:
    """Temperature, top-k, top-p: the processors ``generate`` adds for sampling, in its order."""
    out = LogitsProcessorList()
    if cfg.temperature is not None and cfg.temperature != 1.0:
        out.append(TemperatureLogitsWarper(cfg.temperature))
    if cfg.top_k is not None and cfg.top_k != 0:
        out.append(TopKLogitsWarper(top_k=cfg.top_k))
    if cfg.top_p is not None and cfg.top_p < 1.0:
        out.append(TopPLogitsWarper(top_p=cfg.top_p))
    return out


def _decode(model, enc, cfg: GenerationConfig | None, eos_ids: list[int], n: int):
    """Sample ``n`` continuations of each prompt; (completions, log-probs, entropies), each
    ``(prompts × n, steps)``, or None when the loop cannot run this model.

    The prompts are prefilled once and their KV cache repeated for the ``n`` samples. After
    every step the rows that produced EOS leave the batch (cache, mask and positions are
    indexed down to the live rows), so the cost follows the tokens actually generated rather
    than the longest completion times the batch. Positions come from the attention mask, as
    ``generate`` computes them for left padding. Sampling draws from torch's global generator,
    seeded by the caller.
    """
    if cfg is None:
        return None
    ids, mask = enc["input_ids"], enc["attention_mask"]
    device = ids.device
    pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    kw = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True,
                   **kw).logits[:, -1]
    if cache.get_seq_length() != ids.shape[1]:
        return None  # the model did not fill the cache it was given
    if n > 1:
        cache.batch_repeat_interleave(n)
        logits, mask, pos = (x.repeat_interleave(n, 0) for x in (logits, mask, pos))
    rows_total, steps = logits.shape[0], cfg.max_new_tokens
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else eos_ids[0]
    tokens = torch.full((rows_total, steps), int(pad), dtype=torch.long, device=device)
    logprobs = torch.zeros((rows_total, steps), dtype=torch.float32, device=device)
    entropies = torch.zeros((rows_total, steps), dtype=torch.float32, device=device)
    rows = torch.arange(rows_total, device=device)  # the output row of each live row
    next_pos = pos[:, -1:] + 1
    eos = torch.tensor(eos_ids, device=device)
    warpers = _warpers(cfg) if cfg.do_sample else None
    for t in range(steps):
        scores = logits.float()
        logp = torch.log_softmax(scores, dim=-1)
        entropies[rows, t] = -(logp.exp() * logp).nan_to_num().sum(-1)
        if warpers is not None:
            probs = torch.softmax(warpers(None, scores), dim=-1)
            nxt = torch.multinomial(probs, num_samples=1).squeeze(1)
        else:
            nxt = torch.argmax(scores, dim=-1)
        tokens[rows, t] = nxt
        logprobs[rows, t] = logp.gather(1, nxt[:, None]).squeeze(1)
        if t == steps - 1:
            break
        live = ~torch.isin(nxt, eos)
        if not bool(live.all()):
            if not bool(live.any()):
                break
            keep = live.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, nxt, mask, next_pos = rows[keep], nxt[keep], mask[keep], next_pos[keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        logits = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=next_pos, past_key_values=cache,
                       use_cache=True).logits[:, -1]
        next_pos = next_pos + 1
    return tokens, logprobs, entropies


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
