"""Diversity: how spread out are the samples of one prompt?

RL sharpens the output distribution: token entropy falls and the samples of a prompt converge
on the same wording and answer (Yue et al. 2025, arXiv 2504.13837; Cui et al. 2025, "The
Entropy Mechanism of RL for Reasoning LMs", arXiv 2505.22617). Per problem, then averaged over
the *answerable* problems of a group (every problem weighs the same; on an unanswerable problem
the right behaviour is to abstain every time, so low spread there is no loss):

- ``mean_token_entropy`` — mean over the samples of each sample's mean per-token entropy of the
  model's own T = 1 next-token distribution, as recorded while sampling (nats). Higher is
  better (collapse is the off-target harm this probe watches).
- ``distinct_2`` / ``distinct_3`` — distinct-n (Li et al. 2016, NAACL, arXiv 1510.03055): unique
  n-grams / all n-grams, pooled over the samples of one prompt, on the model's own generated
  token ids (end-of-sequence token included; n-grams never cross samples). A prompt whose
  samples are all shorter than n has none and is left out. Higher is better.
- ``distinct_answers`` — number of different parsed final answers among the samples of a
  prompt (abstentions and malformed output are not answers); ``distinct_answer_ratio`` — that
  count / samples per prompt. Descriptive: a correct model answers one thing, a guessing one
  many, so neither direction is good in itself.

Token-level metrics (entropy, distinct-n) depend on the vocabulary: they are compared only
between checkpoints that share the reference's tokenizer (:func:`offtarget.probes.base.tokenizer_identity`);
otherwise the comparison is reported as not compared, with the reason, and a note says so.

Plot ``entropy_hist``: ``{split: {checkpoint: {"edges": [...], "counts": [...]}}}``, the
histogram of per-sample mean token entropy on answerable problems, on shared edges.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes diversity
"""

from __future__ import annotations

import numpy as np

from offtarget.metrics.definition import nanmean_rows
from offtarget.metrics.diversity import distinct_n_ids
from offtarget.probes.base import ProbeResult, different_tokenizer, evaluate, groups, spec_of
from offtarget.probes.registry import register_probe

HIST_BINS = 20
__all__ = ["distinct_n_ids", "nanmean_rows", "run"]


def _distinct(ev, n: int) -> np.ndarray:
    key = f"distinct_{n}"
    if key not in ev.arrays:
        ev.arrays[key] = np.array([distinct_n_ids([list(s.token_ids) for s in row], n) for row in ev.samples])
    return ev.arrays[key]


def _answers(ev) -> np.ndarray:
    if "distinct_answers" not in ev.arrays:
        ev.arrays["distinct_answers"] = np.array(
            [len({v.answer for v in row if v.answer is not None and not v.abstained}) for row in ev.verdicts],
            dtype=float,
        )
    return ev.arrays["distinct_answers"]


SPECS = [
    spec_of("mean_token_entropy", lambda ev: (ev.mean_entropy.mean(1),), token_level=True),
    spec_of("distinct_2", lambda ev: (_distinct(ev, 2),), token_level=True),
    spec_of("distinct_3", lambda ev: (_distinct(ev, 3),), token_level=True),
    spec_of("distinct_answers", lambda ev: (_answers(ev),)),
    spec_of("distinct_answer_ratio", lambda ev: (_answers(ev) / ev.n_samples,)),
]


def entropy_hist(ctx) -> dict:
    problems = ctx.evidences[ctx.reference].problems
    answerable = np.array([not p.should_abstain for p in problems])
    top = max(float(ev.mean_entropy.max()) if ev.mean_entropy.size else 0.0 for ev in ctx.evidences.values())
    edges = np.linspace(0.0, max(top, 1e-6), HIST_BINS + 1)
    out: dict[str, dict] = {}
    for group, idx in groups(problems).items():
        idx = idx[answerable[idx]]
        if "/" in group or not len(idx):
            continue
        out[group] = {
            name: {"edges": edges.tolist(), "counts": np.histogram(ev.mean_entropy[idx], edges)[0].tolist()}
            for name, ev in ctx.evidences.items()
        }
    return out


@register_probe("diversity")
def run(ctx) -> ProbeResult:
    # evidence read from a log without its model has no distributions: entropy is unavailable, not 0
    blind = [ev for ev in ctx.evidences.values() if not getattr(ev, "has_entropies", True)]
    specs = [s for s in SPECS if s.name != "mean_token_entropy"] if blind else SPECS
    metrics, comparisons = evaluate("diversity", specs, ctx.evidences, ctx.reference, ctx.settings.bootstrap, ctx.settings.seed)
    notes = [f"mean_token_entropy {ev.unavailable()}: the log has no full next-token distributions" for ev in blind]
    if min(ev.n_samples for ev in ctx.evidences.values()) < 2:
        notes.append("one sample per prompt: distinct-n and distinct answers say nothing about spread")
    ref = ctx.evidences[ctx.reference]
    for name in ctx.others:
        why = different_tokenizer(ctx.evidences[name], ref)
        if why:
            notes.append(f"token-level metrics (mean_token_entropy, distinct_2, distinct_3) of {name} not compared "
                         f"with {ctx.reference}: {why}")
    return ProbeResult(
        "diversity", "token entropy and the spread of a prompt's samples",
        "Li et al. 2016 (distinct-n); Yue et al. 2025 (arXiv 2504.13837); Cui et al. 2025 (arXiv 2505.22617)",
        metrics, comparisons, plots={} if blind else {"entropy_hist": entropy_hist(ctx)}, notes=notes,
    )
