"""Reliability over repeats: is a problem's outcome a property of the problem or of the draw?

"Temperature zero is one draw": a fixed seed or T = 0 gives the same output every time, yet that
output is one draw from the model's distribution, and consistency is not reliability (the note
"Does setting temperature to zero actually make LLM outputs reliable?", which tests reliability
with McDonald's omega over 100 repetitions). This probe reads the T = 1 samples an audit already
has as repeated measurements of each problem and reports, per group:

- ``response_agreement`` — per problem, the chance that two different draws give the same
  response (parsed answer or abstention; malformed output matches nothing):
  Σ_r c_r (c_r − 1) / (n (n − 1)) over the response counts c_r of the n samples (the unbiased
  collision probability). All problems (repeatedly abstaining on an unanswerable one agrees).
- ``greedy_draw_agreement`` — per problem, the share of sampled draws whose response equals the
  greedy (T = 0) response: how often the distribution agrees with the deployed answer. Needs
  greedy decoding. All problems.
- ``icc_single_draw`` — the one-way random-effects intraclass correlation ICC(1)
  (Shrout & Fleiss 1979) of correctness, problems as subjects and draws as repeated ratings:
  (MSB − MSW) / (MSB + (k − 1) MSW), with MSB = k Σ_i (m_i − m)² / (N − 1) and
  MSW = Σ_ij (x_ij − m_i)² / (N (k − 1)). The share of the variance of one draw's correctness
  that belongs to the problem: 1 when every problem is always right or always wrong, about 0
  when a draw is a coin flip whatever the problem. Answerable problems.
- ``omega_repeats`` — McDonald's omega (1999) of the k draws as items of one factor. Draws of
  one problem are exchangeable (sample 3 is not a different instrument from sample 5), so the
  one-factor model is parallel (equal loadings λ, equal error variances ψ) and
  ω = kλ² / (kλ² + ψ) = kρ / (1 + (k − 1)ρ), ρ = λ² / (λ² + ψ): the Spearman–Brown step-up of
  the single-draw reliability, estimated as ICC(1, k) = (MSB − MSW) / MSB. The reliability of
  the k-draw pass rate as a measure of the problem; it grows with k, so compare checkpoints
  at the same sample budget (an audit always does). Answerable problems.

Every figure has a 95% interval from the bootstrap over problems; comparisons use the audit's
paired permutation test (draw labels swapped within a problem). ICC and omega are undefined
(no value) when every draw of every problem has the same correctness.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes reliability
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from offtarget.metrics.definition import SHARE, define, metric, nanmean_rows
from offtarget.probes.base import ProbeResult, evaluate, spec_of
from offtarget.probes.consistency import response
from offtarget.probes.registry import register_probe
from offtarget.stats.coins import binomial_halves, coin_flips, word_masks

SOURCE = ("McDonald 1999 (omega); Shrout & Fleiss 1979 (ICC); the note 'Does setting temperature to zero "
          "actually make LLM outputs reliable?'")
TEMP_ZERO = "the note 'Does setting temperature to zero actually make LLM outputs reliable?'"


# --------------------------------------------------------------------------- pure statistics


def pairwise_agreement(responses: list) -> float:
    """Unbiased probability that two different draws agree; ``None`` (malformed) matches nothing.

    >>> pairwise_agreement(["4", "4", "5", None])   # one agreeing pair of 6
    0.16666666666666666
    """
    n = len(responses)
    if n < 2:
        return float("nan")
    counts = Counter(r for r in responses if r is not None)
    return sum(c * (c - 1) for c in counts.values()) / (n * (n - 1))


def agreement_with(reference, responses: list) -> float:
    """Share of ``responses`` equal to ``reference``; a ``None`` reference agrees with nothing."""
    if not responses:
        return float("nan")
    return sum(reference is not None and r == reference for r in responses) / len(responses)


def _mean_squares(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-way ANOVA mean squares of ``x`` with shape ``(..., problems, draws)``: (MSB, MSW)."""
    x = np.asarray(x, dtype=float)
    n, k = x.shape[-2], x.shape[-1]
    row = x.mean(-1)
    grand = row.mean(-1, keepdims=True)
    msb = k * ((row - grand) ** 2).sum(-1) / max(n - 1, 1)
    msw = ((x - row[..., None]) ** 2).sum((-2, -1)) / max(n * (k - 1), 1)
    if n < 2 or k < 2:
        nan = np.full(np.shape(msb), np.nan)
        return nan, nan
    return msb, msw


@metric("icc_single_draw", "ICC(1) of per-draw correctness, problems as subjects: the share of one draw's variance "
        "that belongs to the problem, answerable problems", "higher", "off_target", "correlation ≤ 1", "reliability",
        "Shrout & Fleiss 1979")
def icc_single(x: np.ndarray) -> np.ndarray:
    """ICC(1) of ``(..., problems, draws)``; NaN where every value is equal (vectorized statistic)."""
    msb, msw = _mean_squares(x)
    k = np.shape(x)[-1]
    den = msb + (k - 1) * msw
    with np.errstate(invalid="ignore", divide="ignore"):
        return _tidy(np.where(den > 0, (msb - msw) / np.where(den > 0, den, 1.0), np.nan))


@metric("omega_repeats", "McDonald's omega of the k draws as parallel items = ICC(1,k), the reliability of the "
        "k-draw pass rate, answerable problems", "higher", "off_target", "coefficient ≤ 1", "reliability",
        "McDonald 1999")
def omega_parallel(x: np.ndarray) -> np.ndarray:
    """McDonald's omega of parallel draws, ICC(1, k) = (MSB − MSW) / MSB; NaN where MSB = 0."""
    msb, msw = _mean_squares(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _tidy(np.where(msb > 0, (msb - msw) / np.where(msb > 0, msb, 1.0), np.nan))


def _tidy(x: np.ndarray) -> np.ndarray:
    """Rounding residue of MSB − MSW (1e-17 where the two are equal) reads as 0."""
    return np.where(np.abs(x) < 1e-12, 0.0, x)


def _mean_squares_relabelling(fn):
    """``relabelling(ref, tuned, unit)`` for a statistic of one-way mean squares (ICC, omega).

    MSB and MSW depend on the draws only through each problem's sum and the total sum of squares.
    Swapping sample j of problem i between the checkpoints moves t_ij − r_ij into the reference's
    row sum i (and out of the tuned one's) and t_ij² − r_ij² between the sums of squares, so a batch
    of relabellings needs only those moves, not both (problems, samples) arrays rebuilt per
    relabelling (:func:`offtarget.stats.permutation_test` calls it; ``None`` where it does not
    apply). When the values are few (0/1 correctness, a score on a grid) the moves are drawn as
    one binomial count per problem and distinct difference (:func:`_swap_groups`), else as one
    coin per sample."""

    def relabelling(ref, tuned, unit):
        if unit != "sample" or len(ref) != 1 or ref[0].ndim != 2 or not (
                np.isfinite(ref[0]).all() and np.isfinite(tuned[0]).all()):
            return None
        r, t = ref[0], tuned[0]
        if min(r.shape) >= 2:
            rc, tc = _centred(r, t)
            if (groups := _swap_groups(rc, tc)) is not None:
                return _by_counts(rc, tc, groups, fn)
        return _by_coins(r, t, fn)

    return relabelling


def _by_coins(r: np.ndarray, t: np.ndarray, fn):
    """T* from one coin flip per sample: two contractions of the flips with the differences."""

    def from_sums(rows: np.ndarray, squares: np.ndarray, k: int) -> np.ndarray:
        n = rows.shape[1]
        if n < 2 or k < 2:
            return np.full(rows.shape[0], np.nan)
        mean = rows / k
        msb = k * ((mean - mean.mean(1, keepdims=True)) ** 2).sum(1) / (n - 1)
        msw = np.maximum(squares - k * (mean**2).sum(1), 0.0) / (n * (k - 1))
        return fn(msb, msw, k)

    n, k = r.shape
    d_rows, d_squares = t - r, t * t - r * r
    rows_r, rows_t, sq_r, sq_t = r.sum(1), t.sum(1), (r * r).sum(), (t * t).sum()
    step = max(1, (1 << 22) // max(1, n * k))

    def draw(rng, b):
        out = np.empty(b)
        for s in range(0, b, step):
            m = min(step, b - s)
            flips = coin_flips(rng, m, n * k).reshape(m, n, k).astype(float)
            moved = np.einsum("bnk,nk->bn", flips, d_rows)
            sq = np.einsum("bnk,nk->b", flips, d_squares)
            out[s:s + m] = from_sums(rows_t - moved, sq_t - sq, k) - from_sums(rows_r + moved, sq_r + sq, k)
        return out

    return draw


_GROUPED_BELOW = 4
"""Counts per group are drawn when there are at most 1/4 as many groups as samples that move
(the rule of :class:`offtarget.stats.permutation.SumsRelabelling`)."""


@dataclass(frozen=True)
class SwapGroups:
    """The samples that can move, as interchangeable groups within a problem.

    Sample j of problem i moves (d, s) = (t_ij − r_ij, t_ij² − r_ij²) when swapped. A sample with
    d = 0 moves nothing (and s = 0 with it) and is dropped. A sample with d < 0 is written as
    −(|d|, −s): swapping it adds −u = ε'·u − u with ε' = 1 − ε again a fair coin, so it joins the
    group of u = (|d|, −s) and leaves a fixed ``offset``. Samples of one problem with the same u
    are interchangeable, so how many of a group of c swap is Binomial(c, ½): for 0/1 correctness
    one count per problem (its discordant draws), whatever the number of draws."""

    problem: np.ndarray
    """Per group (sorted): its problem."""
    count: np.ndarray
    """Per group: its samples (at most :data:`offtarget.stats.coins.WORD_BITS`)."""
    d: np.ndarray
    """Per group: the row-sum move of one swapped sample, > 0."""
    s: np.ndarray
    """Per group: the sum-of-squares move of one swapped sample."""
    offset_rows: np.ndarray
    """Per problem: Σ d over its samples with d < 0."""
    offset_squares: float
    """Σ s over the samples with d < 0."""


def _swap_groups(r: np.ndarray, t: np.ndarray, force: bool = False) -> SwapGroups | None:
    """The groups of interchangeable samples, or ``None`` when there are more than 1/4 as many
    groups as moving samples (continuous values: a coin per sample is cheaper); ``force`` groups anyway."""
    n, k = r.shape
    d, s = t - r, t * t - r * r
    moving = d != 0
    if not moving.any():
        return None
    problem = np.broadcast_to(np.arange(n)[:, None], (n, k))[moving]
    sign = np.sign(d[moving])
    rows, counts = np.unique(np.stack([problem, sign * d[moving], sign * s[moving]], 1), axis=0,
                             return_counts=True)
    if not force and rows.shape[0] * _GROUPED_BELOW > problem.size:
        return None
    masks, owner = word_masks(counts)  # groups over 64 split into words
    rows = rows[owner]
    negative = d < 0
    return SwapGroups(rows[:, 0].astype(int), np.bitwise_count(masks).astype(int), rows[:, 1], rows[:, 2],
                      np.where(negative, d, 0.0).sum(1), float(np.where(negative, s, 0.0).sum()))


def _centred(r: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both checkpoints shifted by the centre of their joint range: ICC and omega do not change,
    the sums of squares stay small, and 0/1 data stay exact in binary (±½)."""
    centre = 0.5 * (min(r.min(), t.min()) + max(r.max(), t.max()))
    return r - centre, t - centre


def _by_counts(r: np.ndarray, t: np.ndarray, g: SwapGroups, fn):
    """T* from one binomial count per group (``r``, ``t`` centred), through five sums per relabelling.

    With m_i the move of problem i's row sum, the relabelled reference has row sums R_i + m_i and
    the tuned one T_i − m_i, so MSB and MSW need only Σ m_i, Σ R_i m_i, Σ T_i m_i, Σ m_i² and the
    move of the sum of squares."""
    n, k = r.shape
    rows_r, rows_t = r.sum(1), t.sum(1)
    sum_r, sum_t, ss_r, ss_t = rows_r.sum(), rows_t.sum(), (rows_r**2).sum(), (rows_t**2).sum()
    sq_r, sq_t = (r * r).sum(), (t * t).sum()
    problems, starts = np.unique(g.problem, return_index=True)
    one_each = problems.size == g.problem.size
    weights = np.stack([np.ones(problems.size), rows_r[problems], rows_t[problems]], 1)
    offset = g.offset_rows[problems]
    masks, _ = word_masks(g.count)  # at most 64 a group: one word each
    scaled = bool(np.any(g.d != 1))  # 0/1 data: every move is 1 (discordant draws ±1)
    squares_move = bool(np.any(g.s != 0))  # centred 0/1 data: t² = r² = ¼, never
    squares_per_unit = g.s / g.d  # x below is already counts × d (d > 0)
    step = max(1, (1 << 18) // g.count.size)

    def totals(rows, rows_sq, squares):
        msb = np.maximum(rows_sq - rows**2 / n, 0.0) / (k * (n - 1))
        msw = np.maximum(squares - rows_sq / k, 0.0) / (n * (k - 1))
        return fn(msb, msw, k)

    def draw(rng, b):
        out = np.empty(b)
        for s0 in range(0, b, step):
            m = min(step, b - s0)
            x = binomial_halves(rng, m, masks)
            if scaled:
                x = x * g.d
            moved = np.add(x if one_each else np.add.reduceat(x, starts, axis=1, dtype=float), offset)
            lin = moved @ weights
            msq = np.einsum("bn,bn->b", moved, moved)
            sq = x @ squares_per_unit + g.offset_squares if squares_move else g.offset_squares
            out[s0:s0 + m] = (totals(sum_t - lin[:, 0], ss_t - 2 * lin[:, 2] + msq, sq_t - sq)
                              - totals(sum_r + lin[:, 0], ss_r + 2 * lin[:, 1] + msq, sq_r + sq))
        return out

    return draw


def _icc_from(msb, msw, k):
    den = msb + (k - 1) * msw
    with np.errstate(invalid="ignore", divide="ignore"):
        return _tidy(np.where(den > 0, (msb - msw) / np.where(den > 0, den, 1.0), np.nan))


def _omega_from(msb, msw, k):
    with np.errstate(invalid="ignore", divide="ignore"):
        return _tidy(np.where(msb > 0, (msb - msw) / np.where(msb > 0, msb, 1.0), np.nan))


icc_single.relabelling = _mean_squares_relabelling(_icc_from)
omega_parallel.relabelling = _mean_squares_relabelling(_omega_from)


# --------------------------------------------------------------------------- per-checkpoint arrays


def _agreement(ev) -> np.ndarray:
    if "response_agreement" not in ev.arrays:
        ev.arrays["response_agreement"] = np.array(
            [pairwise_agreement([response(v) for v in row]) for row in ev.verdicts])
    return ev.arrays["response_agreement"]


def _greedy_agreement(ev) -> np.ndarray:
    return np.array([agreement_with(response(g), [response(v) for v in row])
                     for g, row in zip(ev.greedy_verdicts, ev.verdicts)])


define("response_agreement", "chance that two different T=1 draws of a problem give the same response (unbiased "
       "collision probability; malformed matches nothing)", "higher", "off_target", SHARE, "reliability", TEMP_ZERO,
       compute=nanmean_rows)
define("greedy_draw_agreement", "share of T=1 draws whose response equals the greedy (T=0) response", "higher",
       "off_target", SHARE, "reliability", TEMP_ZERO)

SPECS = [
    spec_of("response_agreement", lambda ev: (_agreement(ev),), rows="all"),
    spec_of("greedy_draw_agreement", lambda ev: (_greedy_agreement(ev),), rows="all"),
    spec_of("icc_single_draw", lambda ev: (ev.correct,)),
    spec_of("omega_repeats", lambda ev: (ev.correct,)),
]

DEFINITIONS = [
    ("definition: response_agreement = Σ_r c_r(c_r−1)/(n(n−1)) per problem over response counts (parsed answer "
     "or abstention; malformed matches nothing), averaged over problems"),
    "definition: greedy_draw_agreement = share of T=1 draws whose response equals the greedy (T=0) one",
    ("definition: icc_single_draw = ICC(1) = (MSB−MSW)/(MSB+(k−1)MSW) of per-draw correctness, problems as "
     "subjects (Shrout & Fleiss 1979); omega_repeats = McDonald's omega for k parallel draws = ICC(1,k) = "
     "(MSB−MSW)/MSB; answerable problems; both grow more reliable toward 1"),
]


@register_probe("reliability")
def run(ctx) -> ProbeResult:
    specs, notes = SPECS, list(DEFINITIONS)
    if any(ev.greedy_verdicts is None for ev in ctx.evidences.values()):
        specs = [s for s in SPECS if s.name != "greedy_draw_agreement"]
        notes.append("no greedy decode (--greedy off): greedy_draw_agreement skipped")
    k = min(ev.n_samples for ev in ctx.evidences.values())
    if k < 2:
        notes.append("one sample per problem: agreement, ICC and omega need at least 2 draws")
    notes.append(f"omega_repeats is the reliability of the mean of {k} draws; it rises with the draws per problem")
    metrics, comparisons = evaluate("reliability", specs, ctx.evidences, ctx.reference, ctx.settings.bootstrap,
                                    ctx.settings.seed)
    return ProbeResult("reliability", "agreement of repeated draws and their reliability (ICC, omega)", SOURCE,
                       metrics, comparisons, notes=notes)
