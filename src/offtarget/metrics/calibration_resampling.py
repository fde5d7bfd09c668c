"""The calibration statistics in forms a whole batch of relabellings or bootstrap resamples can use.

:mod:`offtarget.metrics.calibration` defines each statistic on one data set. Recomputing it for
every one of thousands of relabellings (the permutation test) or resamples (the bootstrap) is
what made the calibration probe the slowest stage of an audit. Here the same numbers come from
per-sample sums (:class:`BinSums`, :class:`Coverage`: one matrix product for all relabellings,
see :func:`offtarget.stats.permutation_test`) and, for AUROC, from one sort of the pooled samples
(:class:`BatchedAuroc`). Each class is called like the plain statistic and gives its values
(``tests/stats/test_batched_resampling.py`` checks them against exact enumeration).

    >>> from offtarget.metrics.calibration import ece
    >>> q, y = np.array([[0.9, 0.9, 0.6, 0.2]]), np.array([[1.0, 0.0, 1.0, 0.0]])
    >>> float(BatchedAuroc()(q, y)[0]), round(float(BinSums("ece", 10, ece)(q, y)[0]), 4)
    (0.625, 0.35)
"""

from __future__ import annotations

import numpy as np

from offtarget.metrics.calibration import BINNED as _BINNED
from offtarget.metrics.calibration import auroc, coverage
from offtarget.metrics.calibration import bin_ids as _bin_ids
from offtarget.metrics.calibration import pool as _pool
from offtarget.metrics.definition import ratio as _ratio

_LAYOUT = {  # the per-sample sums each statistic reads: n, Σq, Σy, Σ(q − y)², then per bin count, Σq, Σy
    "ece": ("n", "conf", "acc"), "reliability": ("n", "count", "conf", "acc"),
    "resolution": ("n", "ys", "count", "acc"), "brier": ("n", "sq"), "mean_confidence": ("n", "qs"),
    "overconfidence": ("n", "qs", "ys"),
}


class BinSums:
    """A calibration statistic that is a function of per-bin sums, with equal-width bins.

    Each sample's bin depends only on its own confidence, so every such statistic is a function
    of sums over samples: count, confidence and correctness per bin, plus N, Σq, Σy, Σ(q − y)².
    :func:`offtarget.stats.permutation_test` and :func:`offtarget.stats.bootstrap` use
    :meth:`unit_sums` and :meth:`from_sums` to compute all relabellings or resamples of a
    comparison as one matrix product instead of re-binning each; only the sums a statistic
    reads are formed.
    """

    def __init__(self, name: str, n_bins: int, fn):
        self.name, self.n_bins, self.fn = name, n_bins, fn
        widths = {"count": n_bins, "conf": n_bins, "acc": n_bins}
        self._at, k = {}, 0
        for part in _LAYOUT[name]:
            w = widths.get(part, 1)
            self._at[part] = slice(k, k + w)
            k += w

    def __call__(self, q, y) -> np.ndarray:
        return self.fn(q, y, self.n_bins, "uniform") if self.name in _BINNED else self.fn(q, y)

    def unit_sums(self, q, y) -> np.ndarray:
        """(samples, columns): each sample's contribution to the sums this statistic reads."""
        q0, y0, valid, _ = _pool(q.reshape(1, -1), y.reshape(1, -1))
        q0, y0, w = q0[0], y0[0], valid[0].astype(float)
        onehot = np.zeros((q0.size, self.n_bins))
        if {"count", "conf", "acc"} & set(_LAYOUT[self.name]):
            onehot[np.arange(q0.size), _bin_ids(q0, valid[0], self.n_bins, "uniform")] = w
        column = {"n": w[:, None], "qs": (q0 * w)[:, None], "ys": (y0 * w)[:, None],
                  "sq": ((q0 - y0) ** 2 * w)[:, None], "count": onehot}
        cols = [column[p] if p in column else onehot * (q0 if p == "conf" else y0)[:, None]
                for p in _LAYOUT[self.name]]
        return np.hstack(cols)

    def from_sums(self, s: np.ndarray) -> np.ndarray:
        at = self._at
        n = s[:, at["n"]][:, 0]
        if self.name == "ece":
            return _ratio(np.abs(s[:, at["acc"]] - s[:, at["conf"]]).sum(1), n)
        if self.name == "reliability":
            count = s[:, at["count"]]
            gap = _ratio((s[:, at["conf"]] - s[:, at["acc"]]) ** 2, count)
            return _ratio(np.where(count > 0, gap, 0.0).sum(1), n)
        if self.name == "resolution":
            count = s[:, at["count"]]
            spread = count * (_ratio(s[:, at["acc"]], count) - _ratio(s[:, at["ys"]][:, 0], n)[:, None]) ** 2
            return _ratio(np.where(count > 0, spread, 0.0).sum(1), n)
        if self.name == "brier":
            return _ratio(s[:, at["sq"]][:, 0], n)
        if self.name == "mean_confidence":
            return _ratio(s[:, at["qs"]][:, 0], n)
        return _ratio(s[:, at["qs"]][:, 0] - s[:, at["ys"]][:, 0], n)  # overconfidence


class Coverage:
    """:func:`coverage` as a function of two per-sample sums (eligible, eligible with a confidence)."""

    def __call__(self, q, eligible) -> np.ndarray:
        return coverage(q, eligible)

    @staticmethod
    def unit_sums(q, eligible) -> np.ndarray:
        q, e = q.reshape(-1), eligible.reshape(-1).astype(float)
        return np.column_stack([e, (np.isfinite(q) & (e > 0)).astype(float)])

    @staticmethod
    def from_sums(s: np.ndarray) -> np.ndarray:
        return _ratio(s[:, 1], s[:, 0])


_FEW_VALUES = 64
"""With at most this many distinct confidences (a stated grid), AUROC is computed from
per-value histograms of correct and wrong answers, an additive statistic."""


class BatchedAuroc:
    """:func:`auroc` with relabellings and bootstrap resamples computed without re-ranking.

    The pooled samples of both checkpoints are sorted by confidence once. A relabelling (or a
    resample) only changes which samples belong to a checkpoint (or how often), so the
    Mann-Whitney count of each is a cumulative sum of wrong answers' weights along that fixed
    order, read at every correct answer's tie group (below it, and within its ties for the ½):
    integer arithmetic, the same value as ranking each data set afresh. With few distinct
    confidences the per-value histograms are additive sums instead
    (:class:`offtarget.stats.permutation.SumsRelabelling`).
    """

    def __call__(self, q, y) -> np.ndarray:
        return auroc(q, y)

    def relabelling(self, ref, tuned, unit: str):
        from offtarget.stats.coins import coin_flips
        from offtarget.stats.permutation import SumsRelabelling

        (q_r, y_r), (q_t, y_t) = ref, tuned
        n_problems = q_r.shape[0]
        per_unit = q_r[0].size if unit == "problem" else 1
        q = np.concatenate([q_r.reshape(-1), q_t.reshape(-1)])
        y = np.concatenate([y_r.reshape(-1), y_t.reshape(-1)])
        values = np.unique(q[np.isfinite(q)])
        if values.size <= _FEW_VALUES:
            c_ref, c_tun = (_histograms(a.reshape(-1), b.reshape(-1), values) for a, b in ((q_r, y_r), (q_t, y_t)))
            if unit == "problem":
                c_ref, c_tun = (c.reshape(n_problems, -1, c.shape[1]).sum(1) for c in (c_ref, c_tun))
            return SumsRelabelling(_auroc_from_histograms, c_ref, c_tun)
        if unit == "sample" and (repeated := RepeatedPairs.of(q_r, y_r, q_t, y_t)) is not None:
            return repeated
        n_entries = q_r.size
        keep = np.flatnonzero(np.isfinite(q))
        unit_of = (keep % n_entries) // per_unit
        from_tuned = keep >= n_entries
        order, pos, lo, hi = _ranked(q[keep], y[keep])
        unit_of, from_tuned = unit_of[order], from_tuned[order]
        n_units = n_entries // per_unit
        # Only wrong answers are summed and only at correct answers' tie groups: the cumulative sum
        # runs over the wrong answers alone, read where each correct answer's tie group starts and ends.
        ties = bool(np.any(lo != hi))
        neg_unit, neg_tuned = unit_of[~pos], from_tuned[~pos]
        pos_unit, pos_tuned = unit_of[pos], from_tuned[pos]
        n_neg_all, n_pos_all = int((~pos).sum()), int(pos.sum())
        score_all = (lo + hi).astype(float)
        counts = np.int16 if n_neg_all < 2**15 else np.int32

        def draw(rng, b):
            out = np.empty(b)
            step = max(1, (1 << 19) // max(1, keep.size))
            for s in range(0, b, step):
                m = coin_flips(rng, min(step, b - s), n_units)
                in_tuned = np.take(m, neg_unit, axis=1) ^ neg_tuned  # wrong answers in the relabelled tuned
                cum = np.zeros((m.shape[0], n_neg_all + 1), dtype=counts)
                _cumsum(in_tuned, cum[:, 1:])
                right = (np.take(m, pos_unit, axis=1) ^ pos_tuned).view(np.uint8)
                score = np.take(cum, lo, axis=1)  # wrong answers below each correct one (twice, with ties: + end)
                if ties:
                    score = score.astype(np.int32) + np.take(cum, hi, axis=1)
                twice = 1 if ties else 2
                twice_u = twice * np.einsum("ij,ij->i", right, score, dtype=np.int64)
                n_pos, n_neg = right.sum(1, dtype=np.int64), cum[:, -1].astype(np.int64)
                # the relabelled reference holds the rest: its counts are the totals minus these
                twice_u_c = score_all.sum() - right @ score_all - twice * score.sum(1, dtype=np.int64) + twice_u
                tuned_auc = _ratio(twice_u / 2, (n_pos * n_neg).astype(float))
                ref_auc = _ratio(twice_u_c / 2, ((n_pos_all - n_pos) * (n_neg_all - n_neg)).astype(float))
                out[s : s + m.shape[0]] = tuned_auc - ref_auc
            return out

        return draw

    def weighted(self, arrays, weights: np.ndarray) -> np.ndarray:
        """AUROC on each bootstrap resample, given as problem multiplicities (resamples, problems)."""
        q, y = arrays
        n_problems = q.shape[0]
        flat_q = q.reshape(-1)
        keep = np.flatnonzero(np.isfinite(flat_q))
        problem_of = keep // (flat_q.size // n_problems)
        order, pos, lo, hi = _ranked(flat_q[keep], y.reshape(-1)[keep])
        problem_of = problem_of[order]
        w = weights.astype(np.int64)
        cum = np.zeros((w.shape[0], int((~pos).sum()) + 1), dtype=np.int64)
        _cumsum(np.take(w, problem_of[~pos], axis=1), cum[:, 1:])  # weight of wrong answers below
        right = np.take(w, problem_of[pos], axis=1)
        twice_u = (right * (cum[:, lo] + cum[:, hi])).sum(1)
        return _ratio(twice_u / 2, (right.sum(1) * cum[:, -1]).astype(float))


_REPEATS_BELOW = 4
"""AUROC relabellings count interchangeable sample pairs once when there are at most a quarter as
many distinct pairs as pairs (:class:`RepeatedPairs`). Measured on one core, 6,400 pairs: 16 pairs
a group 6.4 µs per relabelling against 36.5 by coins, 8 a group 12.1 vs 38.1, 4 a group 23.3 vs
39.0, 2.9 a group 35.4 vs 37.2 (where the weights stop paying for themselves)."""


class RepeatedPairs:
    """AUROC relabellings when many sample pairs repeat (a tuned model repeats its completions).

    A sample-level relabelling swaps each pair (reference sample j, tuned sample j of a problem)
    with probability ½. Pairs equal in both samples' confidence and correctness are
    interchangeable: AUROC reads only how many of them are swapped, Binomial(n_g, ½) for a group
    of n_g (:func:`offtarget.stats.coins.binomial_halves`). Each distinct sample then enters a
    relabelled checkpoint with a weight (k_g for the group's reference sample in the tuned
    checkpoint, n_g − k_g for its tuned one, the rest in the reference), and the Mann-Whitney
    counts are cumulative sums of wrong answers' weights along one sort of the distinct samples,
    as :meth:`BatchedAuroc.weighted` does for bootstrap multiplicities. The same distribution of
    T* as one coin per pair, over the distinct samples instead of all of them.
    """

    def __init__(self, rows: np.ndarray, counts: np.ndarray):
        from offtarget.stats.coins import word_masks

        g = rows.shape[0]
        q = np.concatenate([rows[:, 0], rows[:, 2]])  # the group's reference sample, then its tuned one
        y = np.concatenate([rows[:, 1], rows[:, 3]])
        keep = np.flatnonzero(q >= 0)  # −1: no confidence
        order, pos, self.lo, self.hi = _ranked(q[keep], y[keep])
        group, tuned_sample = (keep % g)[order], (keep >= g)[order]
        n = counts[group].astype(np.int64)  # copies of each distinct sample over both checkpoints
        self.dtype = np.int16 if n.sum() < 2**15 else np.int32
        # copies in the tuned checkpoint: k_g for a group's reference sample, n_g − k_g for its tuned one
        self.group_pos, self.group_neg = group[pos], group[~pos]
        self.sign_pos, self.sign_neg = (np.where(t, -1, 1).astype(self.dtype) for t in (tuned_sample[pos], tuned_sample[~pos]))
        self.base_pos, self.base_neg = (np.where(t, c, 0).astype(self.dtype)
                                        for t, c in ((tuned_sample[pos], n[pos]), (tuned_sample[~pos], n[~pos])))
        below = np.concatenate([[0], np.cumsum(n[~pos])])  # copies of wrong answers below, both checkpoints
        self.both = below[self.lo] + below[self.hi]  # twice each correct sample's count, pooled
        self.n_pos, self.n_pos_all, self.n_neg_all = n[pos], int(n[pos].sum()), int(n[~pos].sum())
        self.masks, owner = word_masks(counts)
        self.starts = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))
        self.several_words = self.starts.size != owner.size
        self.size = keep.size

    @classmethod
    def of(cls, q_r, y_r, q_t, y_t) -> RepeatedPairs | None:
        """The grouped route for these arms, or ``None`` when the pairs repeat too little."""
        def side(q, y):
            return np.where(np.isfinite(q), q, -1.0).reshape(-1), (y.reshape(-1) == 1).astype(float)

        (a, b), (c, d) = side(q_r, y_r), side(q_t, y_t)
        from offtarget.stats.permutation import few_distinct

        rows, counts = few_distinct(np.column_stack([a, b, c, d]), _REPEATS_BELOW)
        return None if counts is None else cls(rows, counts)

    def __call__(self, rng: np.random.Generator, b: int) -> np.ndarray:
        from offtarget.stats.coins import binomial_halves

        out = np.empty(b)
        step = max(1, (1 << 19) // max(1, self.size))  # bounded arrays: stay in cache
        for s in range(0, b, step):
            words = binomial_halves(rng, min(step, b - s), self.masks).astype(np.int32)
            swapped = np.add.reduceat(words, self.starts, axis=1) if self.several_words else words
            out[s : s + swapped.shape[0]] = self.t_star(swapped)
        return out

    def t_star(self, swapped: np.ndarray) -> np.ndarray:
        """T* = AUROC(tuned) − AUROC(reference) with ``swapped[r, g]`` pairs of group g swapped."""
        k = swapped.astype(self.dtype, copy=False)
        w_neg = np.take(k, self.group_neg, axis=1) * self.sign_neg + self.base_neg
        cum = np.zeros((k.shape[0], w_neg.shape[1] + 1), dtype=self.dtype)
        _cumsum(w_neg, cum[:, 1:])
        w_pos = np.take(k, self.group_pos, axis=1) * self.sign_pos + self.base_pos
        score = np.take(cum, self.lo, axis=1).astype(np.int32) + np.take(cum, self.hi, axis=1)  # twice each count
        twice_u = np.einsum("ij,ij->i", w_pos, score, dtype=np.int64)
        n_pos, n_neg = w_pos.sum(1, dtype=np.int64), cum[:, -1].astype(np.int64)
        # the reference holds the other copies: Σ (n − w)(both − score), expanded into sums already at hand
        twice_u_c = (int(self.n_pos @ self.both) - w_pos @ self.both.astype(float) - score @ self.n_pos.astype(float)
                     + twice_u)
        tuned_auc = _ratio(twice_u / 2, (n_pos * n_neg).astype(float))
        ref_auc = _ratio(twice_u_c / 2, ((self.n_pos_all - n_pos) * (self.n_neg_all - n_neg)).astype(float))
        return tuned_auc - ref_auc


def _cumsum(a: np.ndarray, out: np.ndarray) -> None:
    """Row-wise cumulative sums of ``a`` into ``out`` (an integer array). torch's kernel, not
    numpy's: 2.5 times faster on one core, and it leaves the GIL to threads refining other
    comparisons (numpy's integer cumsum ran no faster on two threads than on one)."""
    import torch

    torch.cumsum(torch.from_numpy(a), dim=1, dtype=getattr(torch, out.dtype.name), out=torch.from_numpy(out))


def _histograms(q: np.ndarray, y: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(samples, 2·values): one-hot of each counted sample's confidence, correct then wrong."""
    out = np.zeros((q.size, 2 * values.size))
    ok = np.flatnonzero(np.isfinite(q))
    col = np.searchsorted(values, q[ok]) + values.size * (y[ok] != 1)
    out[ok, col] = 1.0
    return out


def _auroc_from_histograms(s: np.ndarray) -> np.ndarray:
    k = s.shape[1] // 2
    pos, neg = s[:, :k], s[:, k:]
    twice_u = (pos * (2 * np.cumsum(neg, axis=1) - neg)).sum(1)
    return _ratio(twice_u / 2, pos.sum(1) * neg.sum(1))


def _ranked(q: np.ndarray, y: np.ndarray):
    """Sort order, correct flags in that order, and for each correct sample the number of wrong ones
    below its tie group and below the group's end (the Mann-Whitney count reads both)."""
    order = np.argsort(q, kind="stable")
    sq = q[order]
    pos = y[order] == 1
    new = np.concatenate([[True], sq[1:] != sq[:-1]])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], sq.size)
    group = np.cumsum(new) - 1
    wrong_below = np.concatenate([[0], np.cumsum(~pos)])
    return order, pos, wrong_below[starts[group][pos]], wrong_below[ends[group][pos]]
