"""Teacher-forced forward passes that compute only what scoring reads.

Scoring a stored sample needs the next-token distribution at each of its completion positions,
nothing else. A plain batched forward over ``prompt + completion`` spends most of its work
elsewhere: every sample of a problem re-reads the same prompt (a chat template's system prompt
is often longer than the completion), padding rows run the full network, and the output layer
runs over positions nobody reads. Here:

- **Shared prompts.** Each distinct prompt (all but its last token) is run once, into a KV
  cache; the cache rows are then selected for every sample of that prompt, and the samples'
  forward covers only ``last prompt token + completion[:-1]``, the positions that predict the
  completion. This is what sampling does with a prompt's ``n`` samples (prefill once), so
  scoring costs the same network positions per token as generating did.
- **Length-sorted batches.** Within a group of prompts, samples are sorted by length and cut
  into batches bounded by rows and positions, so padding stays small.
- **Output layer on kept positions only.** The decoder's hidden states are gathered at the
  completion positions, and the output layer (the largest matrix of a small model with a 49k
  vocabulary) runs on those rows only, in chunks of bounded memory.

Each shortcut is used only where a tiny probe on the model shows it gives the model's own
logits: ``head(decoder(x))`` equals ``model(x).logits`` (no soft-capping or scaling after the
output layer), and a cached continuation equals the uncached forward. Otherwise the full
forward runs, as before (left padding, ``logits_to_keep``), with the same numbers.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import torch

Seq = tuple[list[int], list[int]]
"""(prompt ids, completion ids) of one sequence."""

PADDING = 1.25
"""Most padded positions per real position in a batch: beyond it a new batch starts (every
position runs the whole network, so padding costs as much as a token)."""


# ---------------------------------------------------------------------------------------------
# What the model allows


def _accepts_logits_to_keep(model) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def _cacheable(cache) -> bool:
    """A cache whose rows can be selected without touching the original (plain dynamic layers)."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    return isinstance(cache, DynamicCache) and all(type(layer) is DynamicLayer for layer in cache.layers)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    tol = 1e-3 if a.dtype == torch.float32 else 5e-2
    return bool(torch.allclose(a.float(), b.float(), rtol=tol, atol=tol * (1 + float(b.abs().max()))))


@dataclass
class ModelPass:
    """One model, with the shortcuts its probe allowed."""

    model: object
    decoder: object | None
    """The network up to the output layer, when ``head(decoder(x))`` gives the model's logits."""
    head: object | None
    caches: bool
    """Whether a prompt's KV cache can be computed once and reused by each of its samples."""

    @classmethod
    def probe(cls, model, probe_ids: list[int]) -> ModelPass:
        """Try both shortcuts on ``probe_ids`` (a few tokens) against the plain forward."""
        from transformers import DynamicCache

        from offtarget.models.decode_loop import loop_supports

        device = model.device
        ids = torch.tensor([probe_ids[:4]], device=device)
        full = model(input_ids=ids, use_cache=False).logits
        decoder = head = None
        get_head, get_decoder = getattr(model, "get_output_embeddings", None), getattr(model, "get_decoder", None)
        if get_head is not None and get_decoder is not None:
            try:
                d, h = get_decoder(), get_head()
                if d is not model and h is not None and _close(h(d(input_ids=ids, use_cache=False).last_hidden_state), full):
                    decoder, head = d, h
            except (TypeError, AttributeError, NotImplementedError, RuntimeError):
                pass
        caches = False
        if ids.shape[1] >= 2 and loop_supports(model):
            try:
                cache = DynamicCache(config=model.config)
                model(input_ids=ids[:, :1], past_key_values=cache, use_cache=True)
                rest = model(input_ids=ids[:, 1:], past_key_values=cache, use_cache=True).logits
                caches = _cacheable(cache) and cache.get_seq_length() == ids.shape[1] and _close(rest, full[:, 1:])
            except (TypeError, ValueError, RuntimeError):
                caches = False
        return cls(model, decoder, head, caches)

    @property
    def device(self):
        return self.model.device

    def prefill(self, prefix: Prefix) -> object:
        """The KV cache of the prompts' prefixes (left-padded)."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        dev = self.device
        kw = {"input_ids": prefix.input_ids.to(dev), "attention_mask": prefix.attention_mask.to(dev),
              "position_ids": prefix.position_ids.to(dev), "past_key_values": cache, "use_cache": True}
        if self.decoder is not None:
            self.decoder(**kw)  # no output layer: nothing reads the prompt's logits
        else:
            self.model(**kw, **({"logits_to_keep": 1} if _accepts_logits_to_keep(self.model) else {}))
        return cache

    def states(self, b: Batch, cache, prefix: Prefix | None) -> torch.Tensor:
        """(tokens, hidden) at the completion positions of ``b`` when the output layer is split off,
        else (tokens, vocab) logits; rows in ``b``'s flattened token order."""
        dev = self.device
        mask = b.attention_mask
        kw = {}
        if prefix is not None:
            sel = copy.copy(cache)  # rows selected afresh for this batch; the prompts' cache stays as it is
            sel.layers = [copy.copy(layer) for layer in cache.layers]
            sel.batch_select_indices(b.prompt_rows.to(dev))
            mask = torch.cat([prefix.attention_mask[b.prompt_rows], mask], dim=1)
            kw = {"past_key_values": sel, "use_cache": True}
        else:
            kw = {"use_cache": False}
        pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, -b.input_ids.shape[1]:]
        kw.update(input_ids=b.input_ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev))
        rows, cols = b.rows.to(dev), b.cols.to(dev)
        if self.decoder is not None:
            return self.decoder(**kw).last_hidden_state[rows, cols]
        keep = b.input_ids.shape[1] - int(b.cols.min())
        if _accepts_logits_to_keep(self.model):
            kw["logits_to_keep"] = keep
        logits = self.model(**kw).logits[:, -keep:]
        return logits[rows, cols - (b.input_ids.shape[1] - keep)]

    def logits(self, states: torch.Tensor) -> torch.Tensor:
        """Logits of rows from :meth:`states`, as float32."""
        return (self.head(states) if self.decoder is not None else states).float()


# ---------------------------------------------------------------------------------------------
# Batches


@dataclass
class Prefix:
    """Left-padded prompts without their last token, run once into a cache."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor


@dataclass
class Batch:
    """One forward over the tails of some sequences (left or right padded)."""

    index: list[int]
    """Sequence indices, in row order."""
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    prompt_rows: torch.Tensor
    """Row of each sequence's prompt in the :class:`Prefix` (unused without one)."""
    rows: torch.Tensor
    """Row of every completion token, flattened over the batch."""
    cols: torch.Tensor
    """Column of the position that predicts that token."""
    targets: torch.Tensor
    lengths: list[int]


@dataclass
class Window:
    """Prompts run once, and the batches of their samples."""

    prefix: Prefix | None
    batches: list[Batch]


def _padded(rows: list[list[int]], pad_id: int, side: str = "left") -> tuple[torch.Tensor, torch.Tensor]:
    width = max((len(r) for r in rows), default=0)
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    cols = torch.arange(width)
    start = width - lengths if side == "left" else torch.zeros_like(lengths)
    mask = (cols >= start[:, None]) & (cols < (start + lengths)[:, None])
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    ids[mask] = torch.tensor([t for r in rows for t in r], dtype=torch.long)
    return ids, mask.long()


def _batch(seqs: list[Seq], index: list[int], tails: list[list[int]], prompt_rows: list[int], pad_id: int,
           side: str) -> Batch:
    ids, mask = _padded(tails, pad_id, side)
    width = ids.shape[1]
    comp = torch.tensor([len(seqs[i][1]) for i in index])
    tail = torch.tensor([len(t) for t in tails])
    end = torch.full_like(tail, width) if side == "left" else tail  # one past each row's last real column
    first = end - comp  # the column that predicts the completion's first token
    starts = torch.cumsum(comp, 0) - comp
    within = torch.arange(int(comp.sum())) - starts.repeat_interleave(comp)
    return Batch(index, ids, mask, torch.tensor(prompt_rows, dtype=torch.long),
                 torch.arange(len(index)).repeat_interleave(comp), first.repeat_interleave(comp) + within,
                 torch.tensor([t for i in index for t in seqs[i][1]], dtype=torch.long), comp.tolist())


def _cut(index: list[int], length, rows: int, positions: int, logits_fit=None) -> list[list[int]]:
    """Longest first, cut where a batch would pass ``rows`` sequences or ``positions`` padded
    positions, or be more than a quarter padding (or fail ``logits_fit``)."""
    order = sorted(index, key=lambda i: -length(i))
    out: list[list[int]] = []
    cur: list[int] = []
    real = 0
    for i in order:
        width = length(cur[0]) if cur else length(i)
        padded = (len(cur) + 1) * width
        full = len(cur) + 1 > rows or padded > positions or padded > PADDING * (real + length(i))
        if cur and (full or (logits_fit is not None and not logits_fit(cur + [i]))):
            out.append(cur)
            cur, real = [], 0
        cur.append(i)
        real += length(i)
    if cur:
        out.append(cur)
    return out


def _batches(seqs: list[Seq], index: list[int], tail_of: dict[int, list[int]], prompt_row, pad_id: int, side: str,
             rows: int, positions: int, logits_fit) -> list[Batch]:
    fits = (lambda b: logits_fit(b, [tail_of[i] for i in b])) if logits_fit else None
    return [_batch(seqs, b, [tail_of[i] for i in b], [prompt_row(i) for i in b], pad_id, side)
            for b in _cut(index, lambda i: len(tail_of[i]), rows, positions, fits)]


def plan(seqs: list[Seq], pad_id: int, side: str, rows: int, positions: int, shared_prompts: bool,
         logits_fit=None) -> list[Window]:
    """Windows of prompts and batches of their samples (empty completions are skipped).

    ``shared_prompts``: prompts run once into a cache, each sample's forward is its last prompt
    token and completion; otherwise one window holds every sequence, each run in full.
    ``logits_fit(seq_indices, tails)``: whether a batch's full logits fit (when the output layer
    cannot be split off)."""
    live = [i for i, (_, c) in enumerate(seqs) if c]
    if not shared_prompts:
        tails = {i: seqs[i][0] + seqs[i][1][:-1] for i in live}
        batches = _batches(seqs, live, tails, lambda i: 0, pad_id, side, rows, positions, logits_fit)
        return [Window(None, batches)] if batches else []
    by_prompt: dict[tuple[int, ...], list[int]] = {}
    for i in live:
        by_prompt.setdefault(tuple(seqs[i][0]), []).append(i)
    prompts = sorted(by_prompt, key=len, reverse=True)
    windows: list[Window] = []
    start = 0
    while start < len(prompts):  # as many prompts as one prefill of ``rows`` × ``positions`` allows
        stop = start + 1
        while (stop < len(prompts) and stop + 1 - start <= rows
               and (stop + 1 - start) * (len(prompts[start]) - 1) <= positions
               and (len(prompts[stop]) == 1) == (len(prompts[start]) == 1)):  # no all-padding prefix rows
            stop += 1
        group = prompts[start:stop]
        row_of = {p: r for r, p in enumerate(group)}
        ids, mask = _padded([list(p[:-1]) for p in group], pad_id)
        prefix = Prefix(ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)) if ids.shape[1] else None
        index = [i for p in group for i in by_prompt[p]]
        tails = {i: [seqs[i][0][-1]] + seqs[i][1][:-1] for i in index}
        windows.append(Window(prefix, _batches(seqs, index, tails, lambda i, r=row_of: r[tuple(seqs[i][0])], pad_id,
                                               side, rows, positions, logits_fit)))
        start = stop
    return windows
