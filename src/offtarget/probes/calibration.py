"""Calibration: does stated (or implied) confidence match how often the answer is right?

Two confidences per answered sample:

- **verbalized** — the confidence the completion states (``<c>7`` → q = 0.75,
  ``<confidence>0.8</confidence>``), parsed by the task's verifier (``Evidence.confidence``).
- **likelihood** — the model's own probability of the answer it wrote,
  q = exp(Σ log p(t)) over the tokens that spell the final answer, read from the log-probs the
  sampling engine stored (T = 1, the model's own distribution), so no extra forward pass is
  needed. The answer's character span comes from ``task.answer_span(problem, text)`` when the
  task has one (the arithmetic task does), else the last occurrence of the parsed answer in the
  text; it is mapped to tokens by decoding prefixes with the checkpoint's tokenizer, so any
  tokenizer works (only the tokenizer is loaded, once per checkpoint).

Which samples count. Calibration is about answers, so abstentions are left out. A sample
enters the metrics when it did not abstain and has a confidence (a parseable one, or a located
answer span); ``confidence_coverage_*`` reports that share of the non-abstained samples, so a
model that stops stating confidence shows up there rather than as a silent gap. On
unanswerable problems any answer is wrong (correct = 0), so confident hallucinations count.
Every statistic over a group of problems is computed on the pooled samples of those problems,
and the bootstrap resamples problems.

Metrics (``*`` is ``verbalized`` or ``likelihood``), following RLCR (Damani et al. 2025,
arXiv 2507.16806) and :mod:`offtarget.stats.calibration`:

- ``ece_*`` — expected calibration error, 10 equal-width bins by default (RLCR); 15 bins or
  equal-mass bins (Nixon et al. 2019) via ``AuditConfig.calibration_bins`` / ``calibration_binning``
  (the binning is in the metric's description). Lower is better.
- ``brier_*`` — mean (q − correct)² (Brier 1950). Lower is better.
- ``reliability_*`` / ``resolution_*`` — the Murphy (1973) decomposition over the same bins.
  Reliability (miscalibration) is lower-is-better. Resolution is descriptive in a comparison:
  it is bounded by the base rate's uncertainty obar(1 − obar), so it falls whenever accuracy
  rises towards 1 even if discrimination is unchanged; AUROC carries the discrimination flag.
- ``auroc_*`` — P(q of a correct answer > q of a wrong one), ties ½. Higher is better.
- ``mean_confidence_*`` — descriptive. ``overconfidence_*`` — mean q − accuracy on the same
  samples: descriptive because both signs are miscalibration (ECE carries the flag; the sign
  says which way).
- ``confidence_coverage_verbalized`` (higher is better: stating confidence is part of the
  contract once a model does it) and ``confidence_coverage_likelihood`` (descriptive: it is
  1 − the malformed share among answers).

Plots: ``reliability`` and ``reliability_likelihood``, ``{split: {checkpoint: [bin, ...]}}`` with
``{low, high, count, mean_confidence, accuracy}`` per bin.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes calibration
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.stats import rankdata

from offtarget.probes.base import MetricSpec, ProbeResult, drop_undefined, evaluate, groups
from offtarget.probes.registry import register_probe
from offtarget.stats import reliability_diagram
from offtarget.stats.calibration import quantile_bin_ids

KINDS = ("verbalized", "likelihood")


# ---------------------------------------------------------------------------------------------
# Vectorized statistics: arrays (resamples, problems, samples), NaN confidence = not counted


def _pool(q: np.ndarray, y: np.ndarray):
    q = q.reshape(q.shape[0], -1)
    y = y.reshape(y.shape[0], -1)
    valid = np.isfinite(q)
    return np.where(valid, q, 0.0), np.where(valid, y, 0.0), valid, valid.sum(1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _bin_ids(q0: np.ndarray, valid: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    """Bin of every sample, as in :mod:`offtarget.stats.calibration` (uniform or quantile)."""
    if strategy == "uniform":
        return np.clip(np.floor(q0 * n_bins + 1e-9), 0, n_bins - 1).astype(np.int64)
    return quantile_bin_ids(q0, valid, n_bins)  # tied confidences share a bin


def _bins(q, y, n_bins: int, strategy: str):
    """Per resample and bin: count, confidence sum, correct sum; plus N and overall accuracy."""
    q0, y0, valid, n = _pool(q, y)
    ids = _bin_ids(q0, valid, n_bins, strategy) + n_bins * np.arange(q0.shape[0])[:, None]
    size = q0.shape[0] * n_bins
    w = valid.astype(float)
    count = np.bincount(ids.ravel(), w.ravel(), size).reshape(-1, n_bins)
    conf = np.bincount(ids.ravel(), (q0 * w).ravel(), size).reshape(-1, n_bins)
    acc = np.bincount(ids.ravel(), (y0 * w).ravel(), size).reshape(-1, n_bins)
    return count, conf, acc, n, _ratio(y0.sum(1), n)


def ece(q, y, n_bins: int = 10, strategy: str = "uniform") -> np.ndarray:
    _, conf, acc, n, _ = _bins(q, y, n_bins, strategy)
    return _ratio(np.abs(acc - conf).sum(1), n)


def murphy_reliability(q, y, n_bins: int = 10, strategy: str = "uniform") -> np.ndarray:
    count, conf, acc, n, _ = _bins(q, y, n_bins, strategy)
    gap = _ratio((conf - acc) ** 2, count)
    return _ratio(np.where(count > 0, gap, 0.0).sum(1), n)


def murphy_resolution(q, y, n_bins: int = 10, strategy: str = "uniform") -> np.ndarray:
    count, _, acc, n, obar = _bins(q, y, n_bins, strategy)
    spread = count * (_ratio(acc, count) - obar[:, None]) ** 2
    return _ratio(np.where(count > 0, spread, 0.0).sum(1), n)


def brier(q, y) -> np.ndarray:
    q0, y0, valid, n = _pool(q, y)
    return _ratio((valid * (q0 - y0) ** 2).sum(1), n)


def mean_confidence(q, y) -> np.ndarray:
    q0, _, _, n = _pool(q, y)
    return _ratio(q0.sum(1), n)


def overconfidence(q, y) -> np.ndarray:
    q0, y0, _, n = _pool(q, y)
    return _ratio(q0.sum(1) - y0.sum(1), n)


def auroc(q, y) -> np.ndarray:
    """Mann-Whitney AUROC per resample; missing confidences are ranked below every real one,
    so subtracting their count gives the ranks among the counted samples."""
    q0, y0, valid, n = _pool(q, y)
    pos = valid & (y0 == 1)
    n_pos = pos.sum(1)
    n_neg = n - n_pos
    ranks = rankdata(np.where(valid, q0, -1.0), axis=1)
    u = np.where(pos, ranks, 0.0).sum(1) - n_pos * (~valid).sum(1) - n_pos * (n_pos + 1) / 2
    return _ratio(u, n_pos * n_neg)


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


_BINNED = ("ece", "reliability", "resolution")


def coverage(q, eligible) -> np.ndarray:
    q = q.reshape(q.shape[0], -1)
    e = eligible.reshape(eligible.shape[0], -1)
    return _ratio((np.isfinite(q) & (e > 0)).sum(1), e.sum(1))


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
        from offtarget.stats.permutation import SumsRelabelling, coin_flips

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
        n_entries = q_r.size
        keep = np.flatnonzero(np.isfinite(q))
        unit_of = (keep % n_entries) // per_unit
        from_tuned = keep >= n_entries
        order, pos, gs, ge = _ranked(q[keep], y[keep])
        unit_of, from_tuned = unit_of[order], from_tuned[order]
        n_units = n_entries // per_unit

        def draw(rng, b):
            out = np.empty(b)
            step = max(1, (1 << 19) // max(1, keep.size))
            for s in range(0, b, step):
                m = coin_flips(rng, min(step, b - s), n_units)
                a = np.bitwise_xor(m[:, unit_of], from_tuned).view(np.uint8)  # in the relabelled tuned checkpoint
                tuned_auc, ref_auc = _rank_auroc(a, pos, gs, ge, both=True)
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
        order, pos, gs, ge = _ranked(flat_q[keep], y.reshape(-1)[keep])
        w = weights.astype(np.int32)[:, problem_of[order]]
        return _rank_auroc(w, pos, gs, ge)


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
    """Sort order, correct flags in that order, and each correct sample's tie group [start, end)."""
    order = np.argsort(q, kind="stable")
    sq = q[order]
    pos = y[order] == 1
    new = np.concatenate([[True], sq[1:] != sq[:-1]])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], sq.size)
    group = np.cumsum(new) - 1
    return order, pos, starts[group][pos], ends[group][pos]


def _rank_auroc(a: np.ndarray, pos: np.ndarray, gs: np.ndarray, ge: np.ndarray, both: bool = False):
    """AUROC per row of integer weights ``a`` (rows × samples in confidence order): twice the
    Mann-Whitney count is Σ over correct samples of weight × (wrong below + wrong up to its ties' end).

    ``both``: ``a`` is 0/1 membership, and the AUROC of the complement (1 − a) comes too, from
    the same cumulative sums: the complement's counts are the totals minus these.
    """
    wrong = np.where(pos, 0, a)
    cum = np.zeros((a.shape[0], a.shape[1] + 1), dtype=np.int32)
    np.cumsum(wrong, axis=1, dtype=np.int32, out=cum[:, 1:])
    right = a[:, pos]
    score = cum[:, gs] + cum[:, ge]
    twice_u = (right * score).sum(1, dtype=np.int64)
    n_pos = right.sum(1, dtype=np.int64)
    n_neg = cum[:, -1].astype(np.int64)
    auc = _ratio(twice_u / 2, (n_pos * n_neg).astype(float))
    if not both:
        return auc
    total_neg = int((~pos).sum())
    cum_all = np.concatenate([[0], np.cumsum(~pos)])
    score_all = (cum_all[gs] + cum_all[ge]).astype(np.int64)
    # Σ (1 − r)(S_all − S) = ΣS_all − r·S_all − ΣS + Σ r S
    twice_u_c = score_all.sum() - right @ score_all - score.sum(1, dtype=np.int64) + twice_u
    n_pos_c, n_neg_c = pos.sum() - n_pos, total_neg - n_neg
    return auc, _ratio(twice_u_c / 2, (n_pos_c * n_neg_c).astype(float))


# ---------------------------------------------------------------------------------------------
# Likelihood confidence from stored log-probs


@lru_cache(maxsize=8)
def load_tokenizer(path: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)


def answer_span(task, problem, text: str, verdict) -> tuple[int, int] | None:
    """Character span of the final answer in ``text``: the task's own parser if it has one."""
    finder = getattr(task, "answer_span", None)
    if finder is not None:
        return finder(problem, text)
    if verdict.answer is None or verdict.abstained:
        return None
    i = text.rfind(verdict.answer)
    return None if i < 0 else (i, i + len(verdict.answer))


def token_span(tokenizer, token_ids: list[int], text: str, span: tuple[int, int]) -> tuple[int, int] | None:
    """Tokens [start, end) whose decoded text covers ``text[a:b]``, by binary search on the
    decoded length of prefixes; ``None`` if decoding prefixes does not reproduce the span."""
    a, b = span
    cache: dict[int, str] = {}

    def prefix(k: int) -> str:
        if k not in cache:
            cache[k] = tokenizer.decode(token_ids[:k], skip_special_tokens=True)
        return cache[k]

    n = len(token_ids)
    if n == 0 or b <= a or len(prefix(n)) < b:
        return None
    lo, hi = 1, n
    while lo < hi:  # smallest k whose prefix reaches past char a: token k-1 holds it
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if len(prefix(mid)) > a else (mid + 1, hi)
    start = lo - 1
    lo, hi = start + 1, n
    while lo < hi:  # smallest k whose prefix covers char b-1
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if len(prefix(mid)) >= b else (mid + 1, hi)
    end = lo
    return (start, end) if prefix(end)[a:b] == text[a:b] else None


def likelihood_confidence(ev, task, tokenizer) -> np.ndarray:
    """exp(sum of stored log-probs of the answer tokens) per sample, NaN where there is none."""
    out = np.full(ev.correct.shape, np.nan)
    for i, (problem, row, verdicts) in enumerate(zip(ev.problems, ev.samples, ev.verdicts)):
        for j, (s, v) in enumerate(zip(row, verdicts)):
            if v.abstained or v.answer is None:
                continue
            span = answer_span(task, problem, s.text, v)
            toks = token_span(tokenizer, list(s.token_ids), s.text, span) if span else None
            if toks is not None and toks[1] <= len(s.logprobs):
                out[i, j] = float(np.exp(np.sum(np.asarray(s.logprobs[toks[0]:toks[1]], dtype=float))))
    return out


# ---------------------------------------------------------------------------------------------
# The probe


def _confidence(ev, kind: str) -> np.ndarray:
    q = ev.confidence if kind == "verbalized" else ev.arrays["likelihood_confidence"]
    return np.where(ev.abstained > 0, np.nan, q)


def specs(kind: str, n_bins: int = 10, strategy: str = "uniform") -> list[MetricSpec]:
    binning = f"{n_bins} {'equal-width' if strategy == 'uniform' else 'equal-mass'} bins"

    def qy(ev):
        return _confidence(ev, kind), ev.correct

    def binned(fn):
        return lambda q, y: fn(q, y, n_bins, strategy)

    def spec(name, desc, hib, stat, extract=qy):
        return MetricSpec(f"{name}_{kind}", f"{desc} ({kind} confidence)", hib, rows="all",
                          extract=extract, statistic=stat, vectorized=True)

    def summed(name, fn):  # equal-mass bins depend on the pooled ranks: no per-sample sums
        if strategy != "uniform" and name in _BINNED:
            return binned(fn)
        return BinSums(name, n_bins, fn)

    return [
        spec("ece", f"expected calibration error, {binning}", False, summed("ece", ece)),
        spec("brier", "Brier score", False, summed("brier", brier)),
        spec("reliability", f"Murphy reliability, {binning}", False, summed("reliability", murphy_reliability)),
        spec("resolution", f"Murphy resolution, {binning}", None, summed("resolution", murphy_resolution)),
        spec("auroc", "AUROC of confidence for correctness", True, BatchedAuroc()),
        spec("mean_confidence", "mean confidence of answered samples", None,
             summed("mean_confidence", mean_confidence)),
        spec("overconfidence", "mean confidence minus accuracy", None, summed("overconfidence", overconfidence)),
        spec("confidence_coverage", "share of non-abstained samples with a confidence",
             True if kind == "verbalized" else None, Coverage(),
             extract=lambda ev: (_confidence(ev, kind), 1.0 - ev.abstained)),
    ]


def _reliability_plot(ctx, kind: str, n_bins: int, strategy: str) -> dict:
    problems = ctx.evidences[ctx.reference].problems
    out: dict[str, dict] = {}
    for group, idx in groups(problems).items():
        if "/" in group:
            continue
        for name, ev in ctx.evidences.items():
            q, y = _confidence(ev, kind)[idx].ravel(), ev.correct[idx].ravel()
            keep = np.isfinite(q)
            if keep.any():
                bins = reliability_diagram(q[keep], y[keep], n_bins, strategy)
                out.setdefault(group, {})[name] = [b.to_dict() for b in bins]
    return out


@register_probe("calibration")
def run(ctx) -> ProbeResult:
    n_bins = getattr(ctx.cfg, "calibration_bins", 10)
    strategy = getattr(ctx.cfg, "calibration_binning", "uniform")
    notes = [("calibration metrics use the non-abstained samples that carry a confidence; "
              "confidence_coverage_* is their share of the non-abstained samples; a metric is omitted "
              "on groups where no checkpoint has it defined")]
    kinds = ["verbalized", "likelihood"]
    for name, ev in ctx.evidences.items():
        if "likelihood_confidence" in ev.arrays:
            continue
        if getattr(ev, "model_path", ev.path) is None:
            notes.append(f"likelihood confidence {ev.unavailable()}")
            kinds.remove("likelihood")
            break
        try:
            tok = load_tokenizer(getattr(ev, "model_path", ev.path), ctx.cfg.trust_remote_code)
        except Exception as exc:  # noqa: BLE001 - any loader failure only drops this half of the probe
            notes.append(f"likelihood confidence skipped: {name}'s tokenizer did not load ({exc.__class__.__name__})")
            kinds.remove("likelihood")
            break
        ev.arrays["likelihood_confidence"] = likelihood_confidence(ev, ctx.task, tok)
    all_specs = [s for k in kinds for s in specs(k, n_bins, strategy)]
    metrics, comparisons = evaluate("calibration", all_specs, ctx.evidences, ctx.reference,
                                    ctx.cfg.bootstrap, ctx.cfg.seed)
    metrics, comparisons = drop_undefined(metrics, comparisons)
    for name, ev in ctx.evidences.items():
        for kind in kinds:
            if not np.isfinite(_confidence(ev, kind)).any():
                notes.append(f"{name}: no {kind} confidence in any answered sample; its {kind} metrics are undefined")
    plots = {"reliability": _reliability_plot(ctx, "verbalized", n_bins, strategy)}
    if "likelihood" in kinds:
        plots["reliability_likelihood"] = _reliability_plot(ctx, "likelihood", n_bins, strategy)
    return ProbeResult(
        "calibration", "verbalized and likelihood confidence against correctness",
        "RLCR, Damani et al. 2025 (arXiv 2507.16806); Brier 1950; Murphy 1973; Naeini et al. 2015",
        metrics, comparisons, plots=plots,
        extras={"n_bins": n_bins, "binning": strategy,
                "likelihood": "exp(sum of stored T=1 log-probs of the answer tokens)"},
        notes=notes,
    )
