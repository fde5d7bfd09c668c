"""Drift from the reference: exact forward KL D(π_ref‖π) per token on held-out prompts.

RL's Razor (Shenfeld et al. 2025, arXiv 2509.04259): how much a fine-tune forgets tracks the
forward KL from the base policy, measured on the *base's* distribution. So the sequences are
the reference's own stored samples (its ``token_ids``, at T = 1), and each is scored
teacher-forced under the reference and under each tuned checkpoint; at every completion
position the KL is summed over the whole vocabulary (exact, not a sampled estimate), see
:func:`offtarget.models.scoring.forward_kl`.

Metrics, per group (each split and slice, answerable or not):

- ``kl_per_token``: per problem, the mean over all scored tokens of its samples; then the
  mean over problems, with a bootstrap interval over problems.
- ``kl_sequence``: per sample, the sum over its tokens; mean over samples, then problems.

Cost: one forward pass per checkpoint over problems × ``samples_per_problem`` sequences, the
reference's shared by the tuned checkpoints scored beside it (as many as ``resident_bytes`` of
weights allow; else 2 passes per tuned checkpoint); only the first ``samples_per_problem`` stored
samples of each problem are used.

The reference's KL from itself is 0 by definition, so its rows read 0 [0, 0] and each
comparison's diff is the tuned checkpoint's KL − 0. KL is a drift *measure*, not a score:
any changed model has KL > 0 on every problem, so a test against 0 is always "significant"
and a regression flag would fire on every group of every fine-tune (and block routing to
it). The metrics are therefore descriptive (``higher_is_better=None``): intervals and
p-values are reported, never flagged.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes kl
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from offtarget.models.scoring import ScoringConfig, forward_kl_many
from offtarget.probes.base import ProbeResult, evaluate, spec_of
from offtarget.probes.registry import register_probe


@dataclass(frozen=True)
class KLConfig:
    """How much of the reference's stored sample the kl probe scores."""

    samples_per_problem: int = 4
    """First stored reference samples scored per problem: bounds the cost at 2 forward passes
    × problems × this, per tuned checkpoint; 4 gives per-problem means steady enough for the
    bootstrap over problems, which carries the interval."""
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    """Batching and memory bounds of the teacher-forced forward passes."""
    resident_bytes: int = 2 << 30
    """Weights of the tuned checkpoints scored side by side, beside the reference, in one pass:
    each one more shares the reference's forward pass (n + 1 passes instead of 2n). 2 GiB holds
    three 135M-parameter checkpoints in float32; a checkpoint larger than this runs alone."""


@dataclass
class KLArrays:
    """Per-problem KL of one tuned checkpoint, aligned with the problems."""

    per_token: np.ndarray
    sequence: np.ndarray
    tokens: np.ndarray
    """Tokens scored per problem."""


def weight_bytes(model) -> int:
    """Bytes of a model's parameters and buffers as loaded."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def kl_arrays(token_kl: list, owner: list[int], n_problems: int) -> KLArrays:
    """Aggregate per-sequence token KLs into per-problem means (token-pooled, and per sequence)."""
    kl_sum = np.zeros(n_problems)
    tokens = np.zeros(n_problems)
    seq_sum = np.zeros(n_problems)
    seqs = np.zeros(n_problems)
    for k, i in zip(token_kl, owner):
        s = float(k.double().sum())
        kl_sum[i] += s
        tokens[i] += k.numel()
        seq_sum[i] += s
        seqs[i] += 1
    per_token = np.divide(kl_sum, tokens, out=np.zeros(n_problems), where=tokens > 0)
    sequence = np.divide(seq_sum, seqs, out=np.zeros(n_problems), where=seqs > 0)
    return KLArrays(per_token, sequence, tokens)


@register_probe("kl", needs_models=True)
def run(ctx, cfg: KLConfig = KLConfig()) -> ProbeResult:
    ref_name = ctx.reference
    ref_ev = ctx.evidences[ref_name]
    problems = ref_ev.problems
    k = min(cfg.samples_per_problem, ref_ev.n_samples)
    prompts, completions, owner = [], [], []
    for i, (p, row) in enumerate(zip(problems, ref_ev.samples)):
        for s in row[:k]:
            prompts.append(p.prompt)
            completions.append(s.token_ids)
            owner.append(i)
    n = len(problems)
    tokens = np.bincount(owner, weights=[len(c) for c in completions], minlength=n).astype(float)
    arrays: dict[str, KLArrays] = {ref_name: KLArrays(np.zeros(n), np.zeros(n), tokens)}
    reference = ctx.checkpoint(ref_name)
    unavailable = [ctx.evidences[name].unavailable() for name in ctx.others if ctx.evidences[name].model_path is None]
    tuned = [name for name in ctx.others if ctx.evidences[name].model_path is not None]
    # tuned checkpoints are about the reference's size (one vocabulary, one tokenizer): as many per pass as fit
    per_pass = max(1, cfg.resident_bytes // max(1, weight_bytes(reference.model)))
    for start in range(0, len(tuned), per_pass):
        names = tuned[start : start + per_pass]
        token_kls = forward_kl_many(reference, ctx.checkpoints(names), prompts, completions,
                                    chat_template=ctx.settings.chat_template, cfg=cfg.scoring)
        for name, token_kl in zip(names, token_kls):
            arrays[name] = kl_arrays(token_kl, owner, n)

    specs = [spec_of("kl_per_token", lambda ev: (arrays[ev.name].per_token,), rows="all"),
             spec_of("kl_sequence", lambda ev: (arrays[ev.name].sequence,), rows="all")]
    scored = {k: v for k, v in ctx.evidences.items() if k in arrays}
    metrics, comparisons = evaluate("kl", specs, scored, ref_name, ctx.settings.bootstrap, ctx.settings.seed)
    for m in metrics:
        if m.checkpoint == ref_name:
            m.reason = "reference: 0 by definition"

    by_group: dict[str, dict[str, dict]] = {}
    for m in metrics:
        if m.metric == "kl_per_token":
            by_group.setdefault(m.group, {})[m.checkpoint] = {"value": m.value, "low": m.low, "high": m.high}
    overall = {
        name: {"kl_per_token_pooled": float(a.per_token @ tokens / tokens.sum()) if tokens.sum() else None,
               "kl_sequence_mean": float(a.sequence.mean()) if n else None,
               "max_problem_kl_per_token": float(a.per_token.max()) if n else None}
        for name, a in arrays.items()
    }
    notes = [(f"scored the first {k} stored sample(s) of {ref_name} per problem: {len(completions)} sequences, "
              f"{int(tokens.sum())} tokens, under each checkpoint")]
    notes += unavailable
    if (tokens == 0).any():
        notes.append(f"{int((tokens == 0).sum())} problem(s) had no completion tokens: their KL counts as 0")
    return ProbeResult(
        "kl", "drift from the reference: exact forward KL per token on the reference's samples",
        "RL's Razor, Shenfeld et al. 2025 (arXiv 2509.04259)", metrics, comparisons,
        plots={"kl_by_group": by_group},
        extras={"samples_per_problem": k, "sequences": len(completions), "tokens": int(tokens.sum()),
                "overall": overall, "config": asdict(cfg)},
        notes=notes,
    )
