"""A checkpoint's ``generation_config.json`` sampling defaults, applied only when asked for.

Engines sample exactly the stated :class:`~offtarget.models.sampling.SamplingParams`; an audit
that wants the checkpoint's own defaults says so, and :func:`from_generation_config` returns the
parameters with them put in and which ones were taken, so results.json can record them.

    >>> p, used, _ = from_generation_config(SamplingParams(), {"top_p": 0.8, "do_sample": True})
    >>> p.top_p, used
    (0.8, {'top_p': 0.8})
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.models.sampling import SamplingParams

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
