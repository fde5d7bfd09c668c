"""Teacher-forced scoring: log p(token) of given completions, and the exact per-token forward KL.

Both run a model forward over ``prompt + completion`` (no sampling) and read the next-token
distribution at every completion position. Prompts are rendered exactly as the sampler
renders them (:func:`offtarget.models.sampling.render_prompt`, same special tokens), so the
log-probs of a stored sample re-scored here match the ones recorded while sampling.

**Forward KL** at completion position t of one sequence x:

    D(π_ref‖π)_t = Σ_v p_ref(v | x_<t) (log p_ref(v | x_<t) − log p(v | x_<t))

summed over the whole vocabulary (exact, not a sampled estimate), with both models'
log-softmax computed on *the same* token sequence. Distributions are the models' own, at
temperature 1. RL's Razor (Shenfeld et al. 2025, arXiv 2509.04259) measures drift this way,
on sequences sampled from the reference.

Memory stays bounded for large vocabularies: only the logits of completion positions are
materialised (``logits_to_keep`` where the model supports it), batches are sized so that
rows × kept positions × vocab ≤ ``max_logits``, and float32 log-softmax runs over chunks of
at most ``max_logits`` entries. Padding is on the left by default, with position ids taken
from the attention mask, so a batched score equals an unbatched one.

    >>> base, sft = load_checkpoint("models/lab/base"), load_checkpoint("models/lab/sft")
    >>> ids = base.tokenizer("d 85<eos>", add_special_tokens=False)["input_ids"]
    >>> completion_logprobs(base, ["27+58="], [ids])[0]      # log p of each completion token
    >>> forward_kl(base, sft, ["27+58="], [ids])[0]           # D(base‖sft) at each position, nats
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from offtarget.errors import OfftargetError
from offtarget.models.loading import Checkpoint, check_same_tokenizer
from offtarget.models.sampling import render_prompt


@dataclass(frozen=True)
class ScoringConfig:
    """How teacher-forced scoring batches its forward passes."""

    batch_sequences: int = 32
    """Most sequences per forward pass."""
    max_logits: int = 1 << 26
    """Most logit entries (rows × kept positions × vocab) per forward and per float32 chunk:
    2**26 is 256 MiB in float32, per model. A single longer sequence still runs alone."""
    padding_side: str = "left"
    """``left`` (as the sampler pads) or ``right``; both give the same numbers."""


# ---------------------------------------------------------------------------------------------
# Encoding: exactly the sampler's prompt, then the stored completion ids


def encode_prompt(tokenizer, prompt: str, chat_template: bool = True) -> list[int]:
    """Token ids of a prompt as :class:`~offtarget.models.hf_engine.HFEngine` feeds it."""
    text, add_special = render_prompt(tokenizer, prompt, chat_template)
    return list(tokenizer(text, add_special_tokens=add_special)["input_ids"])


def _encode(tokenizer, prompts: Sequence[str], completions: Sequence[Sequence[int]], chat_template: bool):
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    cache: dict[str, list[int]] = {}
    out = []
    for p, c in zip(prompts, completions):
        if p not in cache:
            cache[p] = encode_prompt(tokenizer, p, chat_template)
        if not cache[p]:
            raise OfftargetError(f"prompt {p[:40]!r} encodes to no tokens: scoring needs at least one prompt token")
        out.append((cache[p], [int(t) for t in c]))
    return out


# ---------------------------------------------------------------------------------------------
# Batching


def _kept(batch: list[tuple[list[int], list[int]]], side: str) -> tuple[int, int]:
    """(padded input length, positions whose logits are kept) for one batch."""
    total = max(len(p) + len(c) - 1 for p, c in batch)
    if side == "left":
        return total, max(len(c) for _, c in batch)
    return total, total - min(len(p) for p, _ in batch) + 1


def _plan(seqs, vocab: int, cfg: ScoringConfig) -> list[list[int]]:
    """Batches of sequence indices, longest first so padding stays small."""
    order = sorted((i for i, (_, c) in enumerate(seqs) if c), key=lambda i: -(len(seqs[i][0]) + len(seqs[i][1])))
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        trial = cur + [i]
        _, keep = _kept([seqs[j] for j in trial], cfg.padding_side)
        if cur and (len(trial) > cfg.batch_sequences or len(trial) * keep * vocab > cfg.max_logits):
            batches.append(cur)
            trial = [i]
        cur = trial
    if cur:
        batches.append(cur)
    return batches


@dataclass
class _Batch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    keep: int
    rows: torch.Tensor
    """Row of every completion token, flattened over the batch."""
    cols: torch.Tensor
    """Index among the kept logits that predicts that token."""
    targets: torch.Tensor
    lengths: list[int]


def _collate(batch: list[tuple[list[int], list[int]]], pad_id: int, side: str, device) -> _Batch:
    total, keep = _kept(batch, side)
    start = total - keep  # first kept position
    ids = torch.full((len(batch), total), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), total), dtype=torch.long)
    rows, cols, targets = [], [], []
    for r, (p, c) in enumerate(batch):
        seq = p + c[:-1]  # the last completion token is never context
        off = total - len(seq) if side == "left" else 0
        ids[r, off : off + len(seq)] = torch.tensor(seq)
        mask[r, off : off + len(seq)] = 1
        first = off + len(p) - 1  # the position that predicts c[0]
        rows += [r] * len(c)
        cols += range(first - start, first - start + len(c))
        targets += c
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return _Batch(
        ids.to(device), mask.to(device), pos.to(device), keep,
        torch.tensor(rows, device=device), torch.tensor(cols, device=device),
        torch.tensor(targets, device=device), [len(c) for _, c in batch],
    )


def _accepts_logits_to_keep(model) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def _completion_logits(model, b: _Batch) -> torch.Tensor:
    """Logits at every completion position, flattened: (tokens, vocab), in the model's dtype."""
    kw = {"logits_to_keep": b.keep} if _accepts_logits_to_keep(model) else {}
    logits = model(input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids,
                   use_cache=False, **kw).logits
    logits = logits[:, -b.keep :]
    return logits[b.rows, b.cols]


def _score(
    seqs, models: list, vocab: int, cfg: ScoringConfig, pad_id: int,
    per_chunk: Callable[[list[torch.Tensor], torch.Tensor], torch.Tensor],
) -> list[torch.Tensor]:
    """Run ``models`` over every batch; ``per_chunk(logits, targets)`` gives one value per token
    from float32 logits (each normalises only what it needs)."""
    if cfg.padding_side not in ("left", "right"):
        raise OfftargetError(f"padding_side {cfg.padding_side!r}: choose left or right")
    out: list[torch.Tensor] = [torch.zeros(0) for _ in seqs]
    device = models[0].device
    chunk = max(1, cfg.max_logits // max(vocab, 1))
    for idx in _plan(seqs, vocab, cfg):
        b = _collate([seqs[i] for i in idx], pad_id, cfg.padding_side, device)
        logits = [_completion_logits(m, b).to(device) for m in models]
        vals = []
        for s in range(0, b.targets.numel(), chunk):
            vals.append(per_chunk([x[s : s + chunk].float() for x in logits], b.targets[s : s + chunk]))
        flat = torch.cat(vals).cpu()
        for i, piece in zip(idx, flat.split(b.lengths)):
            out[i] = piece
    return out


def _vocab(ckpt: Checkpoint) -> int:
    emb = ckpt.model.get_output_embeddings()
    return int(emb.weight.shape[0]) if emb is not None else int(ckpt.model.config.vocab_size)


def _pad_id(tokenizer) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return 0 if pad is None else int(pad)


# ---------------------------------------------------------------------------------------------
# Public entry points


@torch.inference_mode()
def completion_logprobs(
    ckpt: Checkpoint,
    prompts: Sequence[str],
    completions: Sequence[Sequence[int]],
    chat_template: bool = True,
    cfg: ScoringConfig = ScoringConfig(),
) -> list[torch.Tensor]:
    """log p(c_t | prompt, c_<t) for every completion token: one float32 CPU tensor per sequence."""
    seqs = _encode(ckpt.tokenizer, prompts, completions, chat_template)

    def gather(logits, targets):  # log p(target) = logit − logsumexp: no full log-softmax written out
        x = logits[0]
        return x.gather(1, targets[:, None]).squeeze(1) - torch.logsumexp(x, dim=-1)

    return _score(seqs, [ckpt.model], _vocab(ckpt), cfg, _pad_id(ckpt.tokenizer), gather)


def kl_rows(ref_logp: torch.Tensor, logp: torch.Tensor) -> torch.Tensor:
    """Σ_v p_ref(v)(log p_ref(v) − log p(v)) per row; tokens with p_ref = 0 contribute 0."""
    p = ref_logp.exp()
    term = torch.where(p > 0, p * (ref_logp - logp), torch.zeros_like(p))
    return term.sum(-1)


@torch.inference_mode()
def forward_kl(
    reference: Checkpoint,
    tuned: Checkpoint,
    prompts: Sequence[str],
    completions: Sequence[Sequence[int]],
    chat_template: bool = True,
    cfg: ScoringConfig = ScoringConfig(),
) -> list[torch.Tensor]:
    """Exact D(π_ref‖π) in nats at every completion position: one float32 CPU tensor per sequence.

    Both checkpoints read the same token ids (rendered with the reference's tokenizer), so
    their tokenizers must agree (:func:`~offtarget.models.loading.check_same_tokenizer`).
    """
    check_same_tokenizer(reference, tuned)
    v_ref, v_tuned = _vocab(reference), _vocab(tuned)
    if v_ref != v_tuned:
        raise OfftargetError(
            f"checkpoints {reference.name!r} and {tuned.name!r} have output layers of {v_ref} and {v_tuned} "
            "tokens: KL needs one vocabulary"
        )
    seqs = _encode(reference.tokenizer, prompts, completions, chat_template)

    def kl(logits, _targets):
        return kl_rows(torch.log_softmax(logits[0], dim=-1), torch.log_softmax(logits[1], dim=-1))

    return _score(seqs, [reference.model, tuned.model], v_ref, cfg, _pad_id(reference.tokenizer), kl)
