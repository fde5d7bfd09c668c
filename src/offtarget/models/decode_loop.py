"""The HF engine's own decoding loop over the model's forward and KV cache.

Left padding, one batch per call: each prompt is prefilled once and its KV cache shared by its
``n`` samples, and a sequence that has finished (EOS) leaves the batch, so later steps run only
the rows still generating. The loop applies the repetition penalty, then transformers' own
temperature / top-k / top-p / min-p warpers, in ``generate``'s order. On the lab model it
generates about twice the tokens per second of ``generate`` (benchmarks/sampling.py).
"""

from __future__ import annotations

import inspect

import torch
from transformers import (
    DynamicCache,
    GenerationConfig,
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)


def loop_supports(model) -> bool:
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


def decode_samples(model, enc, cfg: GenerationConfig, repetition_penalty: float, eos_ids: list[int], n: int):
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
