"""Two-phase entropy: token entropy of planning tokens and of execution tokens, apart.

RL on reasoning runs in two phases: first the model masters execution (the arithmetic, the
procedure), then strategic planning becomes the bottleneck; planning-token entropy *rises*
while execution-token entropy settles, and concentrating the update on planning tokens helps
(Wang et al. 2025, "Emergent Hierarchical Reasoning in LLMs through Reinforcement Learning",
arXiv 2509.03646; the note "Does RL training follow a predictable two-phase learning
sequence?"). One mean token entropy hides which phase a checkpoint is in; this probe splits it.

**Classifier (stated, overridable; defined in :mod:`offtarget.metrics.two_phase`, which the
training monitor shares).** Each generated token is decoded with the checkpoint's
tokenizer. A token is

- *execution* when its text holds a digit or an arithmetic sign (``+ - − * × / ÷ = ^``);
- else *planning* when it overlaps a match of one of the planning patterns — case-insensitive
  regular expressions, one a line, built in ``offtarget/probes/data/planning_patterns.txt``
  (phrases that steer a solution: "let's", "wait", "alternatively", "first", "so", "check",
  "we need" …, after the paper's "strategic grams"), yours with ``--planning-patterns FILE``;
- else neither (not counted).

Per sample, the mean of the stored per-token entropies (nats, the model's own T = 1
distribution) over its planning tokens and over its execution tokens; per problem the mean over
its samples (samples without such tokens left out); then the mean over the answerable problems
of a group. All three numbers are descriptive (which phase is healthy depends on where training
is); token-level, so compared only between checkpoints that share a tokenizer:

- ``planning_token_entropy`` / ``execution_token_entropy`` — nats;
- ``planning_token_share`` — planning tokens / generated tokens.

    offtarget audit --model base=models/lab/base --model rl=runs/rl --probes two_phase_entropy
"""

from __future__ import annotations

import re

import numpy as np

from offtarget.errors import OfftargetError
from offtarget.metrics.two_phase import (  # noqa: F401 - the classifier and definitions, shared with the monitor
    EXEC,
    EXECUTION,
    OTHER,
    PHASE_METRICS,
    PLANNING,
    SOURCE,
    builtin_patterns_path,
    classify,
    load_patterns,
    phase_means,
    problem_means,
    sample_phase_means,
    token_pieces,
)
from offtarget.probes.base import ProbeResult, different_tokenizer, evaluate, spec_of
from offtarget.probes.registry import register_probe


def per_problem(ev, tokenizer, planning: re.Pattern) -> np.ndarray:
    """``(problems, 3)``: planning entropy, execution entropy, planning share (means over samples).

    Each distinct completion's tokens are classified once (a tuned model repeats itself); the
    entropies are each sample's own."""
    out = np.full((len(ev.problems), 3), np.nan)
    classes: dict[tuple[int, ...], np.ndarray] = {}
    for i, row in enumerate(ev.samples):
        per_sample = []
        for s in row:
            ids = tuple(s.token_ids)
            if ids not in classes:
                classes[ids] = classify(token_pieces(tokenizer, ids), planning)
            per_sample.append(phase_means(s.entropies, classes[ids]))
        out[i] = problem_means(per_sample)
    return out


@register_probe("two_phase_entropy")
def run(ctx) -> ProbeResult:
    from offtarget.probes.calibration import load_tokenizer

    blind = [ev.name for ev in ctx.evidences.values()
             if not getattr(ev, "has_entropies", True) or ev.model_path is None]
    if blind:
        raise OfftargetError(f"unavailable: no per-token entropies or tokenizer for {', '.join(blind)} "
                             "(evidence from a log)")
    path = getattr(ctx.settings, "planning_patterns", None)
    planning = load_patterns(path)
    arrays = {name: per_problem(ev, load_tokenizer(ev.model_path, ctx.settings.trust_remote_code), planning)
              for name, ev in ctx.evidences.items()}
    specs = [spec_of(metric, lambda ev, j=j: (arrays[ev.name][:, j],), token_level=True)
             for j, metric in enumerate(PHASE_METRICS)]
    metrics, comparisons = evaluate("two_phase_entropy", specs, ctx.evidences, ctx.reference,
                                    ctx.settings.bootstrap, ctx.settings.seed)
    notes = [
        ("classifier: execution = a token holding a digit or an arithmetic sign; planning = otherwise a token "
        f"overlapping a planning pattern ({path or 'built-in planning_patterns.txt'}); other tokens not counted"),
        "definition: mean stored per-token entropy (nats) over each class per sample, then per problem, then group",
    ]
    ref = ctx.evidences[ctx.reference]
    notes += [f"{name} not compared with {ctx.reference}: {why}" for name in ctx.others
              if (why := different_tokenizer(ctx.evidences[name], ref))]
    return ProbeResult("two_phase_entropy", "token entropy of planning vs execution tokens", SOURCE,
                       metrics, comparisons, notes=notes)
