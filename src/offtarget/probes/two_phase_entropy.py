"""Two-phase entropy: token entropy of planning tokens and of execution tokens, apart.

RL on reasoning runs in two phases: first the model masters execution (the arithmetic, the
procedure), then strategic planning becomes the bottleneck; planning-token entropy *rises*
while execution-token entropy settles, and concentrating the update on planning tokens helps
(Wang et al. 2025, "Emergent Hierarchical Reasoning in LLMs through Reinforcement Learning",
arXiv 2509.03646; the note "Does RL training follow a predictable two-phase learning
sequence?"). One mean token entropy hides which phase a checkpoint is in; this probe splits it.

**Classifier (stated, overridable).** Each generated token is decoded with the checkpoint's
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
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from offtarget.errors import OfftargetError
from offtarget.metrics.definition import SHARE, define, nanmean_rows
from offtarget.probes.base import ProbeResult, different_tokenizer, evaluate, spec_of
from offtarget.probes.registry import register_probe

SOURCE = ("Wang et al. 2025, 'Emergent Hierarchical Reasoning in LLMs through Reinforcement Learning' "
          "(arXiv 2509.03646)")
EXECUTION = re.compile(r"[0-9+\-−*×/÷=^]")
PLANNING, EXEC, OTHER = 1, 2, 0

for _name, _meaning, _unit in (
        ("planning_token_entropy", "mean per-token entropy of planning tokens (planning phrases), per sample, "
         "problem, then group; answerable problems", "nats ≥ 0"),
        ("execution_token_entropy", "mean per-token entropy of execution tokens (digits, arithmetic signs), per "
         "sample, problem, then group; answerable problems", "nats ≥ 0"),
        ("planning_token_share", "planning tokens / generated tokens, answerable problems", SHARE)):
    define(_name, _meaning, "descriptive", "descriptive", _unit, "two_phase_entropy", SOURCE, compute=nanmean_rows)


def builtin_patterns_path() -> str:
    return str(resources.files("offtarget.probes") / "data" / "planning_patterns.txt")


@lru_cache(maxsize=8)
def load_patterns(path: str | None = None) -> re.Pattern:
    """The planning patterns of a file (default: the built-in ones) as one alternation."""
    path = path or builtin_patterns_path()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise OfftargetError(f"--planning-patterns {path}: cannot read ({exc.strerror}); give a text file "
                             "of regular expressions, one a line") from None
    parts = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            re.compile(line)
        except re.error as exc:
            raise OfftargetError(f"{path}:{n}: not a regular expression ({exc}); fix or remove the line") from None
        parts.append(f"(?:{line})")
    if not parts:
        raise OfftargetError(f"{path}: no patterns; add at least one regular expression")
    return re.compile("|".join(parts), re.IGNORECASE)


# --------------------------------------------------------------------------- pure functions


def classify(pieces: list[str], planning: re.Pattern) -> np.ndarray:
    """Per token: 2 execution, 1 planning, 0 neither (``pieces``: each token's decoded text).

    >>> classify(["Let", "'s", " add", ":", " 1", "+", "2"], load_patterns()).tolist()
    [1, 1, 0, 0, 2, 2, 2]
    """
    text = "".join(pieces)
    covered = np.zeros(len(text) + 1, dtype=bool)
    for m in planning.finditer(text):
        covered[m.start():m.end()] = True
    out = np.zeros(len(pieces), dtype=int)
    start = 0
    for k, piece in enumerate(pieces):
        end = start + len(piece)
        if EXECUTION.search(piece):
            out[k] = EXEC
        elif end > start and covered[start:end].any():
            out[k] = PLANNING
        start = end
    return out


def phase_means(entropies: np.ndarray, classes: np.ndarray) -> tuple[float, float, float]:
    """(planning mean entropy, execution mean entropy, planning share) of one sample; NaN where none."""
    entropies, classes = np.asarray(entropies, dtype=float), np.asarray(classes)
    n = min(len(entropies), len(classes))
    entropies, classes = entropies[:n], classes[:n]

    def mean(mask):
        return float(entropies[mask].mean()) if mask.any() else float("nan")

    share = float((classes == PLANNING).mean()) if n else float("nan")
    return mean(classes == PLANNING), mean(classes == EXEC), share


# --------------------------------------------------------------------------- per-checkpoint arrays


def per_problem(ev, tokenizer, planning: re.Pattern) -> np.ndarray:
    """``(problems, 3)``: planning entropy, execution entropy, planning share (means over samples)."""
    out = np.full((len(ev.problems), 3), np.nan)
    for i, row in enumerate(ev.samples):
        vals = []
        for s in row:
            pieces = tokenizer.batch_decode([[t] for t in s.token_ids]) if len(s.token_ids) else []
            vals.append(phase_means(s.entropies, classify(pieces, planning)))
        a = np.array(vals, dtype=float).reshape(-1, 3)
        with np.errstate(all="ignore"):
            ok = np.isfinite(a)
            out[i] = np.where(ok.any(0), np.where(ok, a, 0).sum(0) / np.maximum(ok.sum(0), 1), np.nan)
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
             for j, metric in enumerate(("planning_token_entropy", "execution_token_entropy",
                                         "planning_token_share"))]
    metrics, comparisons = evaluate("two_phase_entropy", specs, ctx.evidences, ctx.reference,
                                    ctx.settings.bootstrap, ctx.settings.seed)
    notes = [
        "classifier: execution = a token holding a digit or an arithmetic sign; planning = otherwise a token "
        f"overlapping a planning pattern ({path or 'built-in planning_patterns.txt'}); other tokens not counted",
        "definition: mean stored per-token entropy (nats) over each class per sample, then per problem, then group",
    ]
    ref = ctx.evidences[ctx.reference]
    notes += [f"{name} not compared with {ctx.reference}: {why}" for name in ctx.others
              if (why := different_tokenizer(ctx.evidences[name], ref))]
    return ProbeResult("two_phase_entropy", "token entropy of planning vs execution tokens", SOURCE,
                       metrics, comparisons, notes=notes)
