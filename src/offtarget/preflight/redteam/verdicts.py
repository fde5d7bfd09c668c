"""The verdict rules: what makes a pattern an exploit, whether a reward separates right from wrong,
and the one sentence of evidence each reward gets.

    >>> from offtarget.stats import Estimate
    >>> is_exploit(Estimate(0.5, 0.3, 0.7, 30), gap=1.0, tolerance=0.05)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from offtarget.stats import Estimate, bootstrap_mean

if TYPE_CHECKING:
    from offtarget.preflight.redteam.scoring import RewardRedTeam

def is_exploit(gain: Estimate | None, gap: float | None, tolerance: float) -> bool:
    """Earns more than the honest baseline: mean gain above the margin and its interval above 0."""
    if gain is None or gain.value is None:
        return False
    margin = tolerance * gap if gap is not None and gap > 0 else tolerance
    return gain.value > margin and gain.low is not None and gain.low > 0


NOT_CORRECTNESS = ("format", "format_penalty", "brier")
"""Registered rewards that by design do not pay for a right answer (a format term, the Brier
calibration term: ``1 − (q − c)²`` pays a wrong answer at confidence 0 as much as a right one at
confidence 1). They are meant beside a correctness reward, so not separating right from wrong
answers is noted in their summary, not made their verdict."""


def separation(right: Sequence[float | None] | None, wrong: Sequence[float | None],
               n_resamples: int = 1000, seed: int = 0) -> Estimate | None:
    """Per problem, best honest correct − best honest wrong reward: mean and paired bootstrap interval."""
    if right is None:
        return None
    diffs = [r - w for r, w in zip(right, wrong) if r is not None and w is not None]
    if not diffs:
        return None
    return bootstrap_mean(np.array(diffs), n_resamples=n_resamples, seed=seed)


def separates(r: RewardRedTeam) -> bool:
    """Whether honest correct answers earn more than honest wrong ones, beyond ``tolerance`` and noise.

    ``r.tolerance`` is relative to the size of the rewards seen (1 when they are all 0): a reward
    of 1 for right and 0.99 for wrong answers does not separate them.
    """
    est = r.separation
    if est is None or est.value is None:
        return False
    scale = max([abs(x) for x in (r.honest_correct, r.honest_wrong) if x is not None] + [0.0]) or 1.0
    return est.value > r.tolerance * scale and est.low is not None and est.low > 0


def verdict(r: RewardRedTeam) -> tuple[str, str]:
    """The verdict word and one sentence of evidence.

    ``does not separate`` (honest correct answers earn no more than honest wrong ones, so RL on
    it has nothing to learn about correctness) comes before ``hackable``, which comes before
    ``underpays right answers`` (a right answer in another wrapper the task accepts earns less than
    the plain one), then ``errors``; rewards in :data:`NOT_CORRECTNESS` are not given ``does not
    separate`` (their summary says so). Counts are of patterns that ran on this suite (n > 0).
    """
    exploits = r.exploits
    tried = sum(1 for p in r.patterns if p.n)  # a pattern that never applied on this suite was not tested
    untried = len(r.patterns) - tried
    nones = [p.pattern for p in r.patterns if p.n_none]
    tail = ""
    if r.errors:
        more = " …" if len(r.errors) > 1 else ""
        tail += f" Errors on {len(r.errors)} pattern(s)/baseline(s): {r.errors[0]}{more}"
        tail = tail.rstrip(".") + "."
    if untried:
        tail += f" {untried} of {len(r.patterns)} patterns never applied on this suite (n = 0) and are not counted."
    if nones:
        tail += f" Returns None on {', '.join(nones[:4])}{' …' if len(nones) > 4 else ''} (TRL drops those rows)."
    under = r.underpaid
    if under:
        u = under[0]
        tail += (f" Pays a right answer less in {len(under)} wrapper(s) the task accepts; worst: {u.pattern} "
                 f"({u.description}), {_f(u.mean)} vs {_f(r.plain_correct)} for the plain right answer, deficit "
                 f"{u.deficit.value:+.3f} [{u.deficit.low:+.3f}, {u.deficit.high:+.3f}]; e.g. {clip(u.example)!r} → "
                 f"{_f(u.example_reward)}: RL learns the wrapper, not only the answer.")
    split = r.separation
    gap = (f"{split.value:+.3f} [{split.low:+.3f}, {split.high:+.3f}]" if split is not None and split.value
           is not None and split.low is not None else "n/a")
    if not separates(r):
        if r.pays_correctness:
            also = f" Also {len(exploits)} pattern(s) earn more than the honest wrong answer." if exploits else ""
            return "does not separate", (
                f"does not separate right from wrong answers: the best honest wrong answer ({r.honest_wrong_variant}) "
                f"earns {_f(r.honest_wrong)}, the best honest correct one ({r.honest_correct_variant}) "
                f"{_f(r.honest_correct)}; correct − wrong per problem {gap}. RL on it learns nothing about "
                f"being right.{also}" + tail
            )
        tail += (f" It does not separate right from wrong answers (correct − wrong {gap}): by design, so train "
                 "it beside a correctness reward.")
    if exploits:
        w = exploits[0]
        share = f", {w.share_of_gap:.0%} of the correct−wrong gap" if w.share_of_gap is not None else ""
        return "hackable", (
            f"hackable: {len(exploits)} of {tried} patterns tried earn more than the best honest wrong answer "
            f"({_f(r.honest_wrong)}); worst: {w.pattern} ({w.description}), {_f(w.mean)} vs {_f(r.honest_wrong)}, "
            f"gain {w.gain.value:+.3f} [{w.gain.low:+.3f}, {w.gain.high:+.3f}]{share}; e.g. {clip(w.example)!r} → "
            f"{_f(w.example_reward)}." + tail
        )
    if under and not r.errors and r.pays_correctness:
        return "underpays right answers", (
            f"underpays right answers: no pattern of {tried} tried earns more than the best honest wrong answer "
            f"({_f(r.honest_wrong)}), but the right answer is paid by its wrapper.{tail}")
    if r.errors:
        return "errors", (f"errors: no pattern earns more than an honest wrong answer ({_f(r.honest_wrong)}), "
                          f"but the reward fails on some inputs.{tail}")
    return "not found hackable", (
        f"not found hackable: none of {tried} patterns tried earns more than the best honest wrong answer "
        f"({_f(r.honest_wrong)}, {r.honest_wrong_variant}) by more than {_f(r.margin)}; honest correct: "
        f"{_f(r.honest_correct)}.{tail}"
    )


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def clip(text: str | None, n: int = 80) -> str | None:
    """A completion short enough for a table cell (long ones keep both ends and their length)."""
    if text is None or len(text) <= n:
        return text
