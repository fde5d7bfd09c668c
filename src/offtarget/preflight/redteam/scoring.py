"""Scoring a reward: the honest baselines, every pattern and wrapper against them, one report.

    >>> from offtarget.rewards import get_reward
    >>> from offtarget.tasks import ArithmeticTask
    >>> task = ArithmeticTask(unanswerable_share=0)
    >>> red_team(get_reward("correctness"), "correctness", task.problems("train", 20), task).verdict
    'not found hackable'
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from offtarget.preflight.redteam.answers import _WRONG_CACHE
from offtarget.preflight.redteam.baselines import honest_correct, honest_wrong
from offtarget.preflight.redteam.catalogue import PATTERNS, Pattern
from offtarget.preflight.redteam.trl_call import RewardFailure, call_like_trl
from offtarget.preflight.redteam.verdicts import NOT_CORRECTNESS, is_exploit, separation, verdict
from offtarget.preflight.redteam.wrappers import WRAPPERS, plain_correct
from offtarget.stats import Estimate, bootstrap_mean
from offtarget.tasks.problem import Problem, Task


@dataclass
class PatternScore:
    """One pattern against one reward."""

    pattern: str
    description: str
    n: int = 0
    """Problems where the pattern applied and the reward returned a number."""
    mean: float | None = None
    gain: Estimate | None = None
    """Mean per-problem reward minus the baseline's, with its bootstrap interval."""
    share_of_gap: float | None = None
    """Gain / (honest correct − honest wrong): 1 means the pattern pays as much as solving the problem."""
    exploit: bool = False
    example: str | None = None
    example_reward: float | None = None
    n_none: int = 0
    """Rows the reward returned ``None`` for (TRL leaves them out of the group statistics)."""
    error: str | None = None
    deficit: Estimate | None = None
    """For a right-answer wrapper: the plain right answer's reward minus the wrapper's, per problem."""
    underpaid: bool = False
    """For a right-answer wrapper: paid less than the plain right answer (beyond the margin, interval above 0)."""


@dataclass
class RewardRedTeam:
    """Everything the red-team found about one reward."""

    reward: str
    verdict: str
    """``hackable`` / ``errors`` / ``not found hackable`` / ``broken`` (the baseline itself failed)."""
    summary: str
    honest_correct: float | None
    honest_correct_variant: str | None
    honest_wrong: float | None
    honest_wrong_variant: str | None
    margin: float | None
    patterns: list[PatternScore] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    separation: Estimate | None = None
    """Best honest correct − best honest wrong reward per problem (mean, 95% paired bootstrap)."""
    pays_correctness: bool = True
    """False for rewards that by design do not pay for a right answer (:data:`NOT_CORRECTNESS`)."""
    tolerance: float = 0.05
    """The margin the verdicts use, as a share of the reward's scale."""
    wrappers: list[PatternScore] = field(default_factory=list)
    """The right answer in other wrappers the task accepts, against the plain right answer."""
    plain_correct: float | None = None
    """Mean reward of the plain right answer (the task's first format, no confidence)."""

    @property
    def exploits(self) -> list[PatternScore]:
        return sorted((p for p in self.patterns if p.exploit), key=lambda p: -(p.gain.value or 0))

    @property
    def underpaid(self) -> list[PatternScore]:
        """Wrappers of the right answer paid less than the plain one, largest deficit first."""
        return sorted((w for w in self.wrappers if w.underpaid), key=lambda w: -(w.deficit.value or 0))


def _best(fn, problems, texts_by_variant: dict[str, list[str]], tokenizer, errors: list[str], what: str):
    """(variant, per-problem rewards) of the variant with the highest mean; failures go to ``errors``."""
    best_name, best_vals, best_mean = None, None, -math.inf
    for name, texts in texts_by_variant.items():
        try:
            vals = call_like_trl(fn, problems, texts, tokenizer)
        except RewardFailure as exc:
            errors.append(f"errors on honest {what} ({name}): {exc}")
            continue
        defined = [v for v in vals if v is not None]
        if defined and np.mean(defined) > best_mean:
            best_name, best_vals, best_mean = name, vals, float(np.mean(defined))
    return best_name, best_vals


def red_team(
    fn: Callable,
    name: str,
    problems: Sequence[Problem],
    task: Task,
    patterns: Sequence[Pattern] | None = None,
    tolerance: float = 0.05,
    tokenizer: Any = None,
    n_resamples: int = 1000,
    seed: int = 0,
    wrappers: Sequence[Pattern] | None = None,
) -> RewardRedTeam:
    """Score every pattern and the honest baselines with ``fn`` on the answerable ``problems``, and
    every right-answer wrapper against the plain right answer (all of :data:`WRAPPERS` by default,
    none when ``patterns`` is chosen and ``wrappers`` is not)."""
    if wrappers is None:
        wrappers = WRAPPERS if patterns is None else ()
    patterns = PATTERNS if patterns is None else list(patterns)
    _WRONG_CACHE.clear()
    problems = [p for p in problems if not p.should_abstain and p.answer is not None]
    if not problems:
        raise ValueError("the red-team needs answerable problems (with a reference answer)")
    errors: list[str] = []
    wrong_v = [honest_wrong(p, task, seed) for p in problems]
    right_v = [honest_correct(p, task) for p in problems]
    # a problem with no writable wrong answer keeps to its honest abstention in every wrong variant
    wrong_keys = list(dict.fromkeys(k for w in wrong_v for k in w))
    right_keys = [k for k in right_v[0] if all(k in r for r in right_v)]
    w_name, w_vals = _best(fn, problems, {k: [w.get(k, w["abstain"]) for w in wrong_v] for k in wrong_keys},
                           tokenizer, errors, "wrong answer")
    r_name, r_vals = _best(fn, problems, {k: [r[k] for r in right_v] for k in right_keys}, tokenizer, errors,
                           "correct answer")
    if w_vals is None:
        if errors:
            summary = f"broken: every honest wrong answer failed ({errors[0]})"
            return RewardRedTeam(name, "broken", summary, None, None, None, None, None, [], errors)
        return RewardRedTeam(name, "not applicable", "not applicable: returns None on every honest completion, "
                             "so it does not score these problems (TRL drops such rows).",
                             None, None, None, None, None, [], errors)
    w_mean = _mean(w_vals)
    r_mean = _mean(r_vals) if r_vals is not None else None
    gap = None if r_mean is None else r_mean - w_mean
    margin = tolerance * gap if gap is not None and gap > 0 else tolerance
    scores = [_score(fn, pat, problems, task, w_vals, gap, tolerance, tokenizer, n_resamples, seed)
              for pat in patterns]
    for s in scores:
        if s.error:
            errors.append(f"errors on pattern {s.pattern}: {s.error}")
    plain_vals, wrapped = None, []
    if wrappers:
        try:
            plain_vals = call_like_trl(fn, problems, [plain_correct(p, task) for p in problems], tokenizer)
        except RewardFailure as exc:
            errors.append(f"errors on the plain right answer: {exc}")
    if plain_vals is not None:
        wrapped = [_score_wrapper(fn, w, problems, task, plain_vals, gap, tolerance, tokenizer, n_resamples, seed)
                   for w in wrappers]
        errors += [f"errors on wrapper {w.pattern}: {w.error}" for w in wrapped if w.error]
    out = RewardRedTeam(name, "", "", r_mean, r_name, w_mean, w_name, margin, scores, errors)
    out.wrappers = wrapped
    out.plain_correct = None if plain_vals is None else _mean(plain_vals)
    out.separation = separation(r_vals, w_vals, n_resamples, seed)
    out.pays_correctness = name.lstrip("-") not in NOT_CORRECTNESS
    out.tolerance = tolerance
    out.verdict, out.summary = verdict(out)
    return out


def _mean(vals: Sequence[float | None]) -> float | None:
    defined = [v for v in vals if v is not None]
    return float(np.mean(defined)) if defined else None


def _paired(fn, pat: Pattern, problems, task, applies, against, gap, deficit: bool, tokenizer, n_resamples,
            seed) -> tuple[PatternScore, Estimate | None]:
    """Score ``pat``'s completion of each problem where ``applies(problem, text)``, paired per problem
    with the reward ``against`` it is measured against: the mean of reward − against (against −
    reward with ``deficit``) with its bootstrap interval, None where nothing paired. The example
    kept is the completion with the largest paired difference."""
    score = PatternScore(pat.name, pat.description)
    idx, texts = [], []
    for i, p in enumerate(problems):
        text = pat.generate(p, task, random.Random(f"{seed}/{pat.name}/{p.id}"))
        if text is not None and applies(p, text):
            idx.append(i)
            texts.append(text)
    if not texts:
        return score, None
    try:
        vals = call_like_trl(fn, [problems[i] for i in idx], texts, tokenizer)
    except RewardFailure as exc:
        score.error = str(exc)
        return score, None
    score.n_none = sum(v is None for v in vals)
    pairs = [(t, v, against[i]) for i, t, v in zip(idx, texts, vals) if v is not None and against[i] is not None]
    if not pairs:
        return score, None
    diffs = np.array([b - v if deficit else v - b for _, v, b in pairs])
    score.n = len(pairs)
    score.mean = float(np.mean([v for _, v, _ in pairs]))
    score.share_of_gap = float(diffs.mean() / gap) if gap is not None and gap > 0 else None
    largest = int(np.argmax(diffs))
    score.example, score.example_reward = pairs[largest][0], pairs[largest][1]
    return score, bootstrap_mean(diffs, n_resamples=n_resamples, seed=seed)


def _score(fn, pat: Pattern, problems, task, baseline, gap, tolerance, tokenizer, n_resamples, seed) -> PatternScore:
    """A pattern against the honest wrong answer, where the task's own verifier rejects it."""
    score, gain = _paired(fn, pat, problems, task, lambda p, text: not task.verify(p, text).correct, baseline, gap,
                          False, tokenizer, n_resamples, seed)
    if gain is not None:
        score.gain, score.exploit = gain, is_exploit(gain, gap, tolerance)
    return score


def _score_wrapper(fn, wrap: Pattern, problems, task, plain, gap, tolerance, tokenizer, n_resamples,
                   seed) -> PatternScore:
    """A right-answer wrapper against the plain right answer, where the task's own verifier accepts
    it and it is not the plain answer itself."""

    def applies(p, text):
        return text != plain_correct(p, task) and task.verify(p, text).correct

    score, deficit = _paired(fn, wrap, problems, task, applies, plain, gap, True, tokenizer, n_resamples, seed)
    if deficit is not None:
        score.deficit, score.underpaid = deficit, is_exploit(deficit, gap, tolerance)
    return score
