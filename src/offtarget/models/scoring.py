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

Cost and memory follow the completion tokens, not the prompts or the vocabulary: each
distinct prompt runs once into a KV cache shared by its samples, batches are length-sorted,
the output layer runs only on completion positions, and float32 normalisation runs over
chunks of at most ``max_logits`` entries (:mod:`offtarget.models.teacher_forcing`). Position
ids come from the attention mask, so a batched score equals an unbatched one.

    >>> base, sft = load_checkpoint("models/lab/base"), load_checkpoint("models/lab/sft")
    >>> ids = base.tokenizer("d 85<eos>", add_special_tokens=False)["input_ids"]
    >>> completion_logprobs(base, ["27+58="], [ids])[0]      # log p of each completion token
    >>> forward_kl(base, sft, ["27+58="], [ids])[0]           # D(base‖sft) at each position, nats
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from offtarget.errors import OfftargetError
from offtarget.models.loading import Checkpoint, check_same_tokenizer
from offtarget.models.sampling import render_prompt
from offtarget.models.teacher_forcing import ModelPass, plan


@dataclass(frozen=True)
class ScoringConfig:
    """How teacher-forced scoring batches its forward passes."""

    batch_sequences: int = 256
    """Most sequences per forward pass (and prompts per shared-prompt pass)."""
    max_positions: int = 1024
    """Most padded positions (rows × longest row) per forward pass: bounds activation memory.
    On a CPU, larger batches gain nothing once the matrix products are large (every position
    costs a full forward either way) and lose cache locality; raise it on a GPU."""
    max_logits: int = 1 << 26
    """Most float32 logit entries (rows × vocab) normalised at once, per model: 2**26 is
    256 MiB. Where the output layer cannot be split off, also the most logits (rows × kept
    positions × vocab) per forward; a single longer sequence still runs alone."""
    padding_side: str = "left"
    """``left`` (as the sampler pads) or ``right``; both give the same numbers."""
    share_prompts: bool = True
    """Run each distinct prompt once into a KV cache shared by its samples (where the model's
    cache allows); off, every sequence runs in full."""


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
# The forward passes (see :mod:`offtarget.models.teacher_forcing`)


def _score(
    seqs, models: list, vocab: int, cfg: ScoringConfig, pad_id: int,
    per_chunk: Callable[[list[torch.Tensor], torch.Tensor], torch.Tensor],
) -> list[torch.Tensor]:
    """Run ``models`` over every batch; ``per_chunk(logits, targets)`` gives one value per token
    from float32 logits of at most ``max_logits`` entries per model (each normalises only what
    it needs)."""
    if cfg.padding_side not in ("left", "right"):
        raise OfftargetError(f"padding_side {cfg.padding_side!r}: choose left or right")
    out: list[torch.Tensor] = [torch.zeros(0) for _ in seqs]
    probe = next((p + c for p, c in seqs if c), None)
    if probe is None:
        return out
    passes = [ModelPass.probe(m, probe) for m in models]
    shared = cfg.share_prompts and all(p.caches for p in passes)
    logits_fit = None
    if any(p.decoder is None for p in passes):  # full logits of the kept positions: bound them per batch
        def logits_fit(index, tails):
            width = max(len(t) for t in tails)
            ends = [width if cfg.padding_side == "left" else len(t) for t in tails]
            keep = width - min(e - len(seqs[i][1]) for i, e in zip(index, ends))
            return len(index) * keep * vocab <= cfg.max_logits
    chunk = max(1, cfg.max_logits // max(vocab, 1))
    for window in plan(seqs, pad_id, cfg.padding_side, cfg.batch_sequences, cfg.max_positions, shared, logits_fit):
        caches = [p.prefill(window.prefix) if window.prefix is not None else None for p in passes]
        for b in window.batches:
            states = [p.states(b, c, window.prefix) for p, c in zip(passes, caches)]
            dev = passes[0].device
            targets = b.targets.to(dev)
            vals = [per_chunk([p.logits(x[s : s + chunk]).to(dev) for p, x in zip(passes, states)], targets[s : s + chunk])
                    for s in range(0, targets.numel(), chunk)]
            for i, piece in zip(b.index, torch.cat(vals).cpu().split(b.lengths)):
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


def kl_rows(ref_logp: torch.Tensor, logp: torch.Tensor, ref_p: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_v p_ref(v)(log p_ref(v) − log p(v)) per row; tokens with p_ref = 0 contribute 0
    (``ref_p``: ``ref_logp.exp()`` when already computed)."""
    p = ref_logp.exp() if ref_p is None else ref_p
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
    return forward_kl_many(reference, [tuned], prompts, completions, chat_template, cfg)[0]


@torch.inference_mode()
def forward_kl_many(
    reference: Checkpoint,
    tuned: Sequence[Checkpoint],
    prompts: Sequence[str],
    completions: Sequence[Sequence[int]],
    chat_template: bool = True,
    cfg: ScoringConfig = ScoringConfig(),
) -> list[list[torch.Tensor]]:
    """:func:`forward_kl` of several tuned checkpoints against one reference, per checkpoint: the
    reference's forward pass and log-softmax run once per batch for all of them (n + 1 passes
    instead of 2n), the same numbers as one call each."""
    v_ref = _vocab(reference)
    for t in tuned:
        check_same_tokenizer(reference, t)
        if _vocab(t) != v_ref:
            raise OfftargetError(
                f"checkpoints {reference.name!r} and {t.name!r} have output layers of {v_ref} and {_vocab(t)} "
                "tokens: KL needs one vocabulary"
            )
    seqs = _encode(reference.tokenizer, prompts, completions, chat_template)

    def kl(logits, _targets):  # (tokens, checkpoints)
        ref_logp = torch.log_softmax(logits[0], dim=-1)
        ref_p = ref_logp.exp()
        return torch.stack([kl_rows(ref_logp, torch.log_softmax(x, dim=-1), ref_p) for x in logits[1:]], dim=1)

    per_seq = _score(seqs, [reference.model, *[t.model for t in tuned]], v_ref, cfg, _pad_id(reference.tokenizer), kl)
    return [[s[:, j] if s.ndim == 2 else s for s in per_seq] for j in range(len(tuned))]
