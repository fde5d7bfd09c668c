"""What a sampling engine is asked for and what it returns: parameters, samples, the protocol.

Probes read everything they need from :class:`Sample` records, so each generation is produced
once. Engines implement :class:`SamplingEngine`: :class:`~offtarget.models.hf_engine.HFEngine`
(the default), :class:`~offtarget.models.vllm_engine.VLLMEngine` and
:class:`~offtarget.models.openai_engine.OpenAIEngine`; :mod:`offtarget.models.engines` picks one.

**The stated parameters are the parameters.** A checkpoint's ``generation_config.json`` (Qwen
ships top_p 0.8, top_k 20, repetition_penalty 1.05, temperature 0.7) is what ``model.generate``
falls back to for every setting its caller leaves unset, so "T = 1, top_p = 1" would silently
become something else, and greedy decoding would get the penalty. KL, calibration, pass@k and
entropy are then no longer measured on the model's own distribution. Every engine therefore
samples exactly :class:`SamplingParams`; using the checkpoint's defaults is an explicit choice
(:func:`offtarget.models.generation_defaults.from_generation_config`).

This module imports neither torch nor transformers, so the run store can describe samples
without loading a model framework.

    >>> SamplingParams(n=4, temperature=0).greedy
    True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol


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



@dataclass
class Sample:
    """One completion with its token-level record."""

    text: str
    token_ids: list[int]
    logprobs: list[float]
    entropies: list[float]
    finish_reason: str
    """``stop`` (EOS or stop string) or ``length`` (hit ``max_new_tokens``: truncated)."""


class SamplingEngine(Protocol):
    """What the run store needs from a generator."""

    name: str

    def generate(self, prompts: list[str], params: SamplingParams, seed: int, n: int) -> list[list[Sample]]:
        """``n`` samples for each prompt, deterministic in ``seed`` for a given batch."""
        ...


def render_prompt(tokenizer, prompt: str, use_chat_template: bool) -> tuple[str, bool]:
    """The text fed to the model, and whether the tokenizer should add special tokens itself."""
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return text, False
    return prompt, True


def rendered_prompts(path: str, prompts: list[str], chat_template: bool = True,
                     trust_remote_code: bool = False, tokenizer: Any = None) -> list[str]:
    """What the model at ``path`` is fed for each prompt, special tokens included (tokenizer only).

    The prompt after the chat template, encoded as the HF engine encodes it and decoded back, so a
    report can show the exact input: a template added, fixed or dropped shows here. ``tokenizer``
    is the checkpoint's, when the caller has already loaded it.
    """
    if tokenizer is None:
        from offtarget.models.loading import load_tokenizer  # loads transformers

        tokenizer = load_tokenizer(path, trust_remote_code)
    tok = tokenizer
    out = []
    for p in prompts:
        text, add_special = render_prompt(tok, p, chat_template)
        out.append(tok.decode(tok(text, add_special_tokens=add_special)["input_ids"], skip_special_tokens=False))
    return out

