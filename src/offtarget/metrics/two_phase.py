"""Two-phase entropy: token entropy of planning tokens and of execution tokens, apart.

RL on reasoning first masters execution (the arithmetic, the procedure); then planning becomes
the bottleneck, planning-token entropy rises while execution-token entropy settles (Wang et al.
2025, arXiv 2509.03646). The audit's ``two_phase_entropy`` probe and the training monitor both
report these numbers, so the classifier and the definitions live here, once.

**Classifier (stated, overridable).** Each generated token is decoded with the checkpoint's
tokenizer. A token is *execution* when its text holds a digit or an arithmetic sign
(``+ - − * × / ÷ = ^``); else *planning* when it overlaps a match of one of the planning
patterns (case-insensitive regular expressions, one a line; built in
``offtarget/probes/data/planning_patterns.txt``, yours with ``--planning-patterns FILE``);
else neither (not counted).

Per sample, the mean stored per-token entropy (nats, T = 1) over its planning tokens and over
its execution tokens; per problem the mean over its samples (samples without such tokens left
out); then the mean over the answerable problems of a group.

    >>> classify(["Let", "'s", " add", ":", " 1", "+", "2"], load_patterns()).tolist()
    [1, 1, 0, 0, 2, 2, 2]
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from offtarget.errors import OfftargetError
from offtarget.metrics.definition import SHARE, define, nanmean_rows

SOURCE = ("Wang et al. 2025, 'Emergent Hierarchical Reasoning in LLMs through Reinforcement Learning' "
          "(arXiv 2509.03646)")
EXECUTION = re.compile(r"[0-9+\-−*×/÷=^]")
PLANNING, EXEC, OTHER = 1, 2, 0
PHASE_METRICS = ("planning_token_entropy", "execution_token_entropy", "planning_token_share")
"""The three numbers of :func:`phase_means`, in its order."""

for _name, _meaning, _unit in (
        ("planning_token_entropy", ("mean per-token entropy of planning tokens (planning phrases), per sample, "
         "problem, then group; answerable problems"), "nats ≥ 0"),
        ("execution_token_entropy", ("mean per-token entropy of execution tokens (digits, arithmetic signs), per "
         "sample, problem, then group; answerable problems"), "nats ≥ 0"),
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


def classify(pieces: Sequence[str], planning: re.Pattern) -> np.ndarray:
    """Per token: 2 execution, 1 planning, 0 neither (``pieces``: each token's decoded text)."""
    out = np.fromiter((EXEC if _is_execution(p) else OTHER for p in pieces), dtype=int, count=len(pieces))
    spans = [m.span() for m in planning.finditer("".join(pieces)) if m.end() > m.start()]
    start = j = 0
    for k, piece in enumerate(pieces if spans else ()):  # the matches are in order and do not overlap
        end = start + len(piece)
        while j < len(spans) and spans[j][1] <= start:
            j += 1
        if out[k] != EXEC and end > start and j < len(spans) and spans[j][0] < end:
            out[k] = PLANNING
        start = end
    return out


@lru_cache(maxsize=1 << 16)
def _is_execution(piece: str) -> bool:
    return EXECUTION.search(piece) is not None


def phase_means(entropies: Sequence[float], classes: Sequence[int]) -> tuple[float, float, float]:
    """(planning mean entropy, execution mean entropy, planning share) of one sample; NaN where none."""
    entropies, classes = np.asarray(entropies, dtype=float), np.asarray(classes)
    n = min(len(entropies), len(classes))
    entropies, classes = entropies[:n], classes[:n]

    def mean(mask):
        return float(entropies[mask].mean()) if mask.any() else float("nan")

    share = float((classes == PLANNING).mean()) if n else float("nan")
    return mean(classes == PLANNING), mean(classes == EXEC), share


def sample_phase_means(token_ids: Sequence[int], entropies: Sequence[float], tokenizer,
                       planning: re.Pattern) -> tuple[float, float, float]:
    """:func:`phase_means` of one generated sample, its tokens decoded one by one with ``tokenizer``."""
    return phase_means(entropies, classify(token_pieces(tokenizer, token_ids), planning))


_PIECES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def token_pieces(tokenizer, token_ids: Sequence[int], skip_special_tokens: bool = False) -> list[str]:
    """Each token's text as ``tokenizer`` decodes it alone; every id is decoded once per tokenizer
    (an audit classifies tens of thousands of samples over a few hundred distinct tokens, and a
    decode call costs far more than a dictionary lookup)."""
    ids = [int(t) for t in token_ids]
    try:
        known = _PIECES.setdefault(tokenizer, {})
    except TypeError:  # an object that cannot be weakly referenced: decode without remembering
        known = {}
    keys = [(t, skip_special_tokens) for t in ids]
    missing = sorted(set(keys) - known.keys())
    if missing:
        rows = [[t] for t, _ in missing]
        pieces = (tokenizer.batch_decode(rows, skip_special_tokens=True) if skip_special_tokens
                  else tokenizer.batch_decode(rows))
        known.update(zip(missing, pieces))
    return [known[k] for k in keys]


def problem_means(per_sample: Sequence[Sequence[float]]) -> np.ndarray:
    """``(3,)``: the mean over a problem's samples of each :func:`phase_means` number, NaN ignored."""
    a = np.asarray(per_sample, dtype=float).reshape(-1, 3)
    ok = np.isfinite(a)
    return np.where(ok.any(0), np.where(ok, a, 0).sum(0) / np.maximum(ok.sum(0), 1), np.nan)


__all__ = ["EXEC", "EXECUTION", "OTHER", "PHASE_METRICS", "PLANNING", "SOURCE", "builtin_patterns_path",
           "classify", "load_patterns", "phase_means", "problem_means", "sample_phase_means", "token_pieces"]
