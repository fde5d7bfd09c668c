"""The sampling engine: n completions per prompt with per-token log-probs and entropies.

Probes read everything they need from these records, so each generation is produced once.
Backends implement :class:`SamplingBackend`; :class:`HFBackend` is the default, and a vLLM
backend can be added without touching probes.

**The stated parameters are the parameters.** A checkpoint's ``generation_config.json`` (Qwen
ships top_p 0.8, top_k 20, repetition_penalty 1.05, temperature 0.7) is what ``model.generate``
falls back to for every setting its caller leaves unset, so "T = 1, top_p = 1" would silently
become something else, and greedy decoding would get the penalty. KL, calibration, pass@k and
entropy are then no longer measured on the model's own distribution. :class:`HFBackend`
therefore samples exactly :class:`SamplingParams` on both decode paths: nothing is inherited
from the checkpoint except its end-of-sequence ids (which say where a completion ends, not how
tokens are drawn). Using the checkpoint's defaults is an explicit choice:
:func:`from_generation_config` returns the parameters with the checkpoint's values put in, and
which ones came from it, so the run can record them.

:class:`HFBackend` decodes with its own loop over the model's forward and KV cache (left
padding, one batch per call): each prompt is prefilled once and its KV cache shared by its
``n`` samples, and a sequence that has finished (EOS) leaves the batch, so later steps run
only the rows still generating. The loop applies the repetition penalty, then transformers' own
temperature / top-k / top-p / min-p warpers, in ``generate``'s order. ``model.generate`` (with a
logits processor that records the same numbers) remains the path for stop strings,
encoder-decoder or cache-less models, and ``decode="generate"``. On the lab model the loop
generates about twice the tokens per second of ``generate`` (benchmarks/sampling.py). Both
paths sample the same distribution and record the same things; they draw different random
numbers, so a given seed gives different samples on each.

Log-probabilities and entropies are of the model's own next-token distribution (temperature
1, before the repetition penalty and top-p), recorded one step at a time, so memory stays
O(batch × vocab) instead of keeping every step's logits.

    >>> backend = HFBackend(checkpoint)
    >>> out = backend.generate(["27+58="], SamplingParams(n=4, temperature=1.0), seed=0, n=4)
    >>> out[0][0].text, out[0][0].logprobs
"""

from __future__ import annotations

import hashlib
import inspect
import json
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch
from transformers import (
    DynamicCache,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from offtarget.errors import OfftargetError
from offtarget.models.loading import Checkpoint


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Its :meth:`key` is part of every stored generation's identity.

    Every field is applied exactly as given: a checkpoint's ``generation_config.json`` never
    fills one in (see the module docstring and :func:`from_generation_config`).
    """

    n: int = 16
    """Samples per prompt."""
    temperature: float = 1.0
    """0 means greedy decoding (then ``n`` should be 1)."""
    top_p: float = 1.0
    """Nucleus mass; 1 keeps the whole distribution."""
    top_k: int = 0
    """0 disables top-k, so T = 1 samples the model's full distribution."""
    min_p: float = 0.0
    """Min-p cut-off relative to the most likely token; 0 disables it."""
    repetition_penalty: float = 1.0
    """CTRL repetition penalty (Keskar et al. 2019) on tokens of the prompt and completion so far,
    as transformers applies it, greedy decoding included; 1 disables it."""
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

    def describe(self) -> dict[str, Any]:
        """The parameters as a JSON-able record (what results.json stores), with the key."""
        d = asdict(self)
        d["stop"] = list(d["stop"])
        return {**d, "key": self.key()}


# ---------------------------------------------------------------------------------------------
# The checkpoint's generation_config, only when asked for

# Sampling settings of a generation_config that :func:`from_generation_config` can take over.
GENERATION_CONFIG_FIELDS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty")
# Settings that change outputs but that offtarget never takes from a checkpoint (they are
# recorded as ``ignored``); values equal to these are neutral and not worth reporting.
_IGNORED_NEUTRAL = {
    "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "no_repeat_ngram_size": 0,
    "encoder_repetition_penalty": 1.0, "length_penalty": 1.0, "num_beams": 1, "top_h": None,
    "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None, "sequence_bias": None,
    "forced_bos_token_id": None, "forced_eos_token_id": None, "exponential_decay_length_penalty": None,
    "min_length": 0, "min_new_tokens": None, "guidance_scale": None, "watermarking_config": None,
}


def read_generation_config(path: str | Path) -> dict[str, Any]:
    """The checkpoint's ``generation_config.json`` as a dict (empty when there is none)."""
    f = Path(path) / "generation_config.json"
    if not f.exists():
        return {}
    try:
        data = json.loads(f.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise OfftargetError(f"{f}: not valid JSON ({exc}); fix or delete the file") from None
    if not isinstance(data, dict):
        raise OfftargetError(f"{f}: expected a JSON object; fix or delete the file")
    return data


def from_generation_config(params: SamplingParams, gen_cfg: dict[str, Any]) -> tuple[SamplingParams, dict, dict]:
    """``params`` with the checkpoint's sampling defaults put in: ``(params, used, ignored)``.

    Every field of :data:`GENERATION_CONFIG_FIELDS` that ``gen_cfg`` sets replaces the stated
    value (``used`` maps it to the value taken). Greedy decoding keeps temperature 0 and takes
    only the repetition penalty (warpers do not act on an argmax). ``ignored`` lists the other
    output-changing settings the checkpoint sets, which offtarget does not apply, so a report
    can say so. Whether to sample at all stays the caller's choice: a checkpoint whose
    config says ``do_sample: false`` or temperature 0 is still sampled when sampling is asked for.
    """
    fields = ("repetition_penalty",) if params.greedy else GENERATION_CONFIG_FIELDS
    used: dict[str, Any] = {}
    for name in fields:
        value = gen_cfg.get(name)
        if value is None:
            continue
        value = type(getattr(params, name))(value)
        if name == "temperature" and value == 0:
            continue  # a checkpoint that decodes greedily by default still gets sampled here
        used[name] = value
    ignored = {k: v for k, v in gen_cfg.items() if k in _IGNORED_NEUTRAL and v != _IGNORED_NEUTRAL[k]}
    return replace(params, **used), used, ignored


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


def rendered_prompts(path: str, prompts: list[str], chat_template: bool = True,
                     trust_remote_code: bool = False) -> list[str]:
    """What the model at ``path`` is fed for each prompt, special tokens included (tokenizer only).

    The prompt after the chat template, encoded as :class:`HFBackend` encodes it and decoded
    back, so a report can show the exact input: a template added, fixed or dropped shows here.
    """
    from offtarget.models.loading import load_tokenizer

    tok = load_tokenizer(path, trust_remote_code)
    out = []
    for p in prompts:
        text, add_special = render_prompt(tok, p, chat_template)
        out.append(tok.decode(tok(text, add_special_tokens=add_special)["input_ids"], skip_special_tokens=False))
    return out


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
        gen_cfg = generation_config(params, n, tok, model_eos_ids(self.ckpt))
        torch.manual_seed(seed)
        try:
            out = None
            if self.decode == "auto" and not params.stop and _loop_supports(model):
                out = _decode(model, enc, gen_cfg, params.repetition_penalty, model_eos_ids(self.ckpt), n)
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


# ---------------------------------------------------------------------------------------------
# Exactly the stated parameters


def generation_config(params: SamplingParams, n: int, tokenizer, eos_ids: list[int]) -> GenerationConfig:
    """The complete ``GenerationConfig`` of ``params`` (both decode paths read it).

    Every sampling setting is explicit; the repetition penalty is applied by the engine (see
    :meth:`HFBackend._generate`), so it is 1.0 here.
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


# ---------------------------------------------------------------------------------------------
# The engine's own decoding loop


def _loop_supports(model) -> bool:
    """Whether the loop can decode this model exactly as ``generate`` would."""
    if getattr(model.config, "is_encoder_decoder", False):
        return False
    checkpointing = getattr(model, "is_activation_checkpointing", None)  # transformers >= 5.x
    if checkpointing is None:
        checkpointing = getattr(model, "is_gradient_checkpointing", False)
    if checkpointing and model.training:
        return False  # the model would refuse the cache
    accepted = inspect.signature(model.forward).parameters
    return {"past_key_values", "position_ids", "attention_mask"} <= set(accepted)


def _warpers(cfg: GenerationConfig) -> LogitsProcessorList:
    """Temperature, top-k, top-p, min-p: the processors ``generate`` adds for sampling, in its order."""
    out = LogitsProcessorList()
    if cfg.temperature is not None and cfg.temperature != 1.0:
        out.append(TemperatureLogitsWarper(cfg.temperature))
    if cfg.top_k is not None and cfg.top_k != 0:
        out.append(TopKLogitsWarper(top_k=cfg.top_k))
    if cfg.top_p is not None and cfg.top_p < 1.0:
        out.append(TopPLogitsWarper(top_p=cfg.top_p))
    if cfg.min_p is not None:
        out.append(MinPLogitsWarper(min_p=cfg.min_p))
    return out


def _penalize(scores: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL repetition penalty on the tokens ``seen`` (rows × vocab, bool), as
    ``RepetitionPenaltyLogitsProcessor`` computes it: logits of seen tokens divided by
    ``penalty`` when positive, multiplied when negative."""
    return torch.where(seen, torch.where(scores < 0, scores * penalty, scores / penalty), scores)


def _decode(model, enc, cfg: GenerationConfig, repetition_penalty: float, eos_ids: list[int], n: int):
    """Sample ``n`` continuations of each prompt; (completions, log-probs, entropies), each
    ``(prompts × n, steps)``, or None when the loop cannot run this model.

    The prompts are prefilled once and their KV cache repeated for the ``n`` samples. After
    every step the rows that produced EOS leave the batch (cache, mask and positions are
    indexed down to the live rows), so the cost follows the tokens actually generated rather
    than the longest completion times the batch. Positions come from the attention mask, as
    ``generate`` computes them for left padding. Sampling draws from torch's global generator,
    seeded by the caller. With a repetition penalty, the loop keeps which tokens each row has
    seen (prompt without its padding, then every sampled token).
    """
    ids, mask = enc["input_ids"], enc["attention_mask"]
    device = ids.device
    pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    kw = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True,
                   **kw).logits[:, -1]
    if cache.get_seq_length() != ids.shape[1]:
        return None  # the model did not fill the cache it was given
    seen = None
    if repetition_penalty != 1.0:
        counts = torch.zeros(logits.shape, dtype=torch.int32, device=device)
        seen = counts.scatter_add_(1, ids, mask.int()) > 0
    if n > 1:
        cache.batch_repeat_interleave(n)
        logits, mask, pos = (x.repeat_interleave(n, 0) for x in (logits, mask, pos))
        seen = seen.repeat_interleave(n, 0) if seen is not None else None
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
        if seen is not None:
            scores = _penalize(scores, seen, repetition_penalty)
        if warpers is not None:
            probs = torch.softmax(warpers(None, scores), dim=-1)
            nxt = torch.multinomial(probs, num_samples=1).squeeze(1)
        else:
            nxt = torch.argmax(scores, dim=-1)
        tokens[rows, t] = nxt
        logprobs[rows, t] = logp.gather(1, nxt[:, None]).squeeze(1)
        if t == steps - 1:
            break
        if seen is not None:
            seen[torch.arange(len(nxt), device=device), nxt] = True
        live = ~torch.isin(nxt, eos)
        if not bool(live.all()):
            if not bool(live.any()):
                break
            keep = live.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, nxt, mask, next_pos = rows[keep], nxt[keep], mask[keep], next_pos[keep]
            seen = seen[keep] if seen is not None else None
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
