"""Foothold: can RL learn anything here? Per-prompt pass rates of the starting policy.

GRPO learns only from groups whose rewards differ. If the policy never solves a prompt in k
samples, every group of G rollouts on it is tied at zero reward and carries no gradient;
if it always solves it, the group is tied at the top. "Reward is always zero" is the first
way RL fails ("Obvious ways RL can fail": the model needs a foothold — occasional
success — for reinforcement to happen at all).

From k samples per training prompt this module reports

- the pass rate of each prompt (a success is the task's right response: a correct answer,
  or an abstention where the item is unanswerable) and their histogram;
- the share of prompts never solved and always solved in the k samples;
- the expected share of GRPO groups with no signal at group size G: a prompt with pass rate
  p gives a tied group with probability p^G + (1 − p)^G. It is estimated without the plug-in
  bias of p̂^G by the U-statistic C(c, G)/C(k, G) + C(k − c, G)/C(k, G) (c successes in k
  samples; the probability that G of the k samples drawn without replacement are all right or
  all wrong), the same construction as the unbiased pass@k (Chen et al. 2021); when G > k the
  plug-in p̂^G + (1 − p̂)^G is used and the result says so;
- a verdict (:class:`FootholdThresholds`), and the prompts inside a difficulty window
  (:func:`offtarget.train.curation.difficulty_window`, default 0.1–0.9) written as a JSONL of
  GRPO rows (:func:`offtarget.rewards.problem_to_row`) that the trainer reads directly.

    >>> import numpy as np
    >>> from offtarget.tasks import ArithmeticTask
    >>> problems = ArithmeticTask(unanswerable_share=0).problems("train", 2)
    >>> fh = measure_foothold(np.array([[1, 1, 0, 0], [0, 0, 0, 0]]), problems, group_size=2)
    >>> round(fh.tied.value, 4)    # prompt 1: (C(2,2) + C(2,2)) / C(4,2) = 1/3; prompt 2: 1
    0.6667
    >>> fh.verdict
    'mostly unsolved'

    offtarget preflight --model models/lab/base --suite arithmetic --checks foothold --out runs/pf
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import comb
from pathlib import Path

import numpy as np

from offtarget.report.results import atomic_write_text
from offtarget.rewards.columns import problem_to_row
from offtarget.stats import Estimate, bootstrap_mean
from offtarget.tasks.problem import Problem, Verdict
from offtarget.train.curation.difficulty import DifficultyReport, difficulty_window


@dataclass(frozen=True)
class FootholdThresholds:
    """When the pass-rate distribution earns each verdict (checked in this order)."""

    no_foothold: float = 0.9
    """Share of prompts never solved at or above which RL sees (almost) only zero reward."""
    saturated: float = 0.9
    """Share of prompts always solved at or above which there is (almost) nothing left to learn."""
    max_tied: float = 0.5
    """Expected share of tied (no-signal) GRPO groups above which most rollouts are wasted."""


@dataclass
class Foothold:
    """What k samples per prompt say about GRPO's signal at group size G."""

    problems: list[Problem]
    successes: np.ndarray
    """``(prompts,)`` number of successful samples of each prompt."""
    samples: int
    """k, the samples drawn per prompt."""
    group_size: int
    """G, the planned GRPO group size."""
    never_solved: Estimate
    """Share of prompts with no success in k samples."""
    always_solved: Estimate
    """Share of prompts with k successes out of k."""
    mean_pass_rate: Estimate
    tied: Estimate
    """Expected share of GRPO groups of size G whose rewards are all equal (no signal)."""
    tied_all_wrong: float
    tied_all_right: float
    unbiased: bool
    """True when G ≤ k and the tied share is the unbiased U-statistic (else the plug-in)."""
    verdict: str
    summary: str
    window: DifficultyReport
    per_slice: list[dict] = field(default_factory=list)

    @property
    def pass_rates(self) -> dict[str, float]:
        return {p.id: float(c) / self.samples for p, c in zip(self.problems, self.successes)}

    def histogram(self) -> dict:
        """Prompts per number of successes (0..k): a ``hist`` plot spec with edges at (c ± ½)/k."""
        counts = np.bincount(self.successes.astype(int), minlength=self.samples + 1)
        edges = [(c - 0.5) / self.samples for c in range(self.samples + 2)]
        return {"kind": "hist", "edges": edges, "counts": counts.tolist(),
                "title": f"pass rate per prompt ({self.samples} samples each)",
                "xlabel": "pass rate", "ylabel": "prompts"}


# ---------------------------------------------------------------------------------------------
# The numbers


def success(problem: Problem, verdict: Verdict) -> bool:
    """The task's right response: a correct answer, or an abstention on an unanswerable item."""
    return bool(verdict.abstained) if problem.should_abstain else bool(verdict.correct)


def success_matrix(problems: Sequence[Problem], verdicts: Sequence[Sequence[Verdict]]) -> np.ndarray:
    """``(prompts, k)`` 0/1 successes from the strict verifier's verdicts."""
    return np.array([[success(p, v) for v in row] for p, row in zip(problems, verdicts)], dtype=float)


def tied_probability(c: int, k: int, group_size: int) -> tuple[float, float]:
    """(all wrong, all right) probabilities of a group of ``group_size`` for c successes in k samples.

    Unbiased for p^G and (1 − p)^G when G ≤ k (sampling G of the k without replacement);
    otherwise the plug-in with p̂ = c / k.
    """
    if group_size <= k:
        total = comb(k, group_size)
        return comb(k - c, group_size) / total, comb(c, group_size) / total
    p = c / k
    return (1 - p) ** group_size, p**group_size


def verdict_for(never: float, always: float, tied: float, all_wrong: float, all_right: float,
                thresholds: FootholdThresholds = FootholdThresholds()) -> str:
    """``no foothold`` / ``saturated`` / ``mostly unsolved`` / ``mostly saturated`` / ``healthy``."""
    if never >= thresholds.no_foothold:
        return "no foothold"
    if always >= thresholds.saturated:
        return "saturated"
    if tied > thresholds.max_tied:
        return "mostly unsolved" if all_wrong >= all_right else "mostly saturated"
    return "healthy"


_EXPLAIN = {
    "no foothold": "RL will see zero reward",
    "saturated": "nothing left to learn: every group is tied at full reward",
    "mostly unsolved": "most GRPO groups will be all-wrong and carry no signal",
    "mostly saturated": "most GRPO groups will be all-right and carry no signal",
    "healthy": "most GRPO groups will carry signal",
}


def measure_foothold(
    successes: np.ndarray,
    problems: Sequence[Problem],
    group_size: int = 8,
    window: tuple[float, float] = (0.1, 0.9),
    thresholds: FootholdThresholds = FootholdThresholds(),
    n_resamples: int = 1000,
    seed: int = 0,
) -> Foothold:
    """Pass rates, tied-group share, verdict and difficulty window from a ``(prompts, k)`` 0/1 matrix."""
    s = np.asarray(successes, dtype=float)
    if s.ndim != 2 or s.shape[0] != len(problems) or s.shape[0] == 0:
        raise ValueError(f"successes must be (prompts, samples) for {len(problems)} prompts, got {s.shape}")
    k = s.shape[1]
    c = s.sum(1).astype(int)
    wrong_right = np.array([tied_probability(int(ci), k, group_size) for ci in c])
    tied_each = wrong_right.sum(1)
    est = {"n_resamples": n_resamples, "seed": seed}
    never = bootstrap_mean((c == 0).astype(float), **est)
    always = bootstrap_mean((c == k).astype(float), **est)
    tied = bootstrap_mean(tied_each, **est)
    mean_rate = bootstrap_mean(s, **est)
    all_wrong, all_right = float(wrong_right[:, 0].mean()), float(wrong_right[:, 1].mean())
    verdict = verdict_for(never.value, always.value, tied.value, all_wrong, all_right, thresholds)
    report = difficulty_window({p.id: s[i].tolist() for i, p in enumerate(problems)}, *window)
    summary = (
        f"{verdict}: {never.value:.0%} of prompts never solved and {always.value:.0%} always solved in {k} "
        f"samples — {_EXPLAIN[verdict]}. Expected share of GRPO groups with no signal at G={group_size}: "
        f"{tied.value:.0%} [{tied.low:.0%}, {tied.high:.0%}] ({all_wrong:.0%} all wrong, {all_right:.0%} all right"
        f"{'' if group_size <= k else f'; plug-in estimate, G > k={k}'}). "
        f"{len(report.kept)} of {len(problems)} prompts lie in the window [{window[0]:g}, {window[1]:g}]."
    )
    fh = Foothold(list(problems), c, k, group_size, never, always, mean_rate, tied, all_wrong, all_right,
                  group_size <= k, verdict, summary, report)
    fh.per_slice = slice_rows(fh, tied_each, n_resamples, seed)
    dead = [r for r in fh.per_slice[1:] if r["prompts"] >= 5 and r["never_solved"] >= 0.5]
    if dead and verdict != "no foothold":
        fh.summary += " Slices where most prompts are never solved (no foothold there): " + ", ".join(
            f"{r['group']} ({r['never_solved']:.0%} of {r['prompts']})" for r in dead) + "."
    return fh


def slice_rows(fh: Foothold, tied_each: np.ndarray, n_resamples: int, seed: int) -> list[dict]:
    """One table row per slice (and ``all``): prompts, mean pass rate, never/always solved, tied."""
    by: dict[str, list[int]] = {"all": list(range(len(fh.problems)))}
    for i, p in enumerate(fh.problems):
        by.setdefault(f"{p.split}/{p.slice}", []).append(i)
    kept = set(fh.window.kept)
    rows = []
    for group, idx in by.items():
        c = fh.successes[idx]
        rate = bootstrap_mean(c / fh.samples, n_resamples=n_resamples, seed=seed)
        rows.append({
            "group": group, "prompts": len(idx),
            "mean_pass_rate": rate.value, "low": rate.low, "high": rate.high,
            "never_solved": float(np.mean(c == 0)), "always_solved": float(np.mean(c == fh.samples)),
            f"tied_groups_G{fh.group_size}": float(tied_each[idx].mean()),
            "in_window": sum(fh.problems[i].id in kept for i in idx),
        })
    return rows


# ---------------------------------------------------------------------------------------------
# The trainer's input


def write_window_jsonl(path: str | Path, foothold: Foothold) -> int:
    """Write the prompts inside the window as GRPO rows (one JSON object per line); returns the count.

    Rows follow :data:`offtarget.rewards.COLUMNS`, so ``datasets.load_dataset("json", ...)``
    gives the trainer a dataset whose columns reach every offtarget reward. Written atomically.
    """
    kept = foothold.window.filter(foothold.problems)
    text = "".join(json.dumps(problem_to_row(p), sort_keys=False) + "\n" for p in kept)
    atomic_write_text(path, text)
    return len(kept)
