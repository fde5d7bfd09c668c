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

from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import accumulate

import numpy as np

from offtarget.metrics.calibration import BINNED as _BINNED
from offtarget.metrics.calibration import (
    KINDS,
    auroc,
    brier,
    coverage,
    ece,
    mean_confidence,
    murphy_reliability,
    murphy_resolution,
    overconfidence,
)
from offtarget.metrics.calibration_resampling import BatchedAuroc, BinSums, Coverage
from offtarget.probes.base import MetricSpec, ProbeResult, drop_undefined, evaluate, groups, spec_of
from offtarget.probes.registry import register_probe
from offtarget.stats import reliability_diagram

__all__ = ["KINDS", "BinSums", "auroc", "brier", "coverage", "ece", "likelihood_confidence", "mean_confidence",
           "murphy_reliability", "murphy_resolution", "overconfidence", "run", "specs"]


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
    guess = _span_from_pieces(tokenizer, token_ids, a, b)
    if guess is not None:  # the search's answer, confirmed with four prefix decodes instead of ~2 log2(n)
        start, end = guess
        if (len(prefix(start)) <= a < len(prefix(start + 1))
                and (end == start + 1 or len(prefix(end - 1)) < b) and len(prefix(end)) >= b):
            return (start, end) if prefix(end)[a:b] == text[a:b] else None
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


def _span_from_pieces(tokenizer, token_ids: list[int], a: int, b: int) -> tuple[int, int] | None:
    """Where the prefix search of :func:`token_span` lands when each token decodes alone to the text
    it adds (each id decoded once per tokenizer); ``None`` when the tokens end before ``b``."""
    from offtarget.metrics.two_phase import token_pieces

    ends = list(accumulate(len(piece) for piece in token_pieces(tokenizer, token_ids, skip_special_tokens=True)))
    start = bisect_right(ends, a)  # first token whose end passes char a
    end = bisect_left(ends, b) + 1  # first prefix reaching char b
    return (start, end) if end <= len(token_ids) and start < end else None


def likelihood_confidence(ev, task, tokenizer) -> np.ndarray:
    """exp(sum of stored log-probs of the answer tokens) per sample, NaN where there is none.

    A tuned model repeats itself (the demo's GRPO checkpoints: 1,350 distinct completions in
    12,800 samples), so each distinct completion and answer span is located in tokens once."""
    out = np.full(ev.correct.shape, np.nan)
    located: dict[tuple, tuple[int, int] | None] = {}
    for i, (problem, row, verdicts) in enumerate(zip(ev.problems, ev.samples, ev.verdicts)):
        for j, (s, v) in enumerate(zip(row, verdicts)):
            if v.abstained or v.answer is None:
                continue
            span = answer_span(task, problem, s.text, v)
            if not span:
                continue
            key = (tuple(s.token_ids), s.text, span)
            if key not in located:
                located[key] = token_span(tokenizer, list(s.token_ids), s.text, span)
            toks = located[key]
            if toks is not None and toks[1] <= len(s.logprobs):
                out[i, j] = float(np.exp(np.sum(np.asarray(s.logprobs[toks[0]:toks[1]], dtype=float))))
    return out


# ---------------------------------------------------------------------------------------------
# The probe


def _confidence(ev, kind: str) -> np.ndarray:
    q = ev.confidence if kind == "verbalized" else ev.arrays["likelihood_confidence"]
    return np.where(ev.abstained > 0, np.nan, q)


def specs(kind: str, n_bins: int = 10, strategy: str = "uniform") -> list[MetricSpec]:
    """The calibration metrics of one confidence ``kind``; directions and computations are the
    catalogue's (:mod:`offtarget.metrics.calibration`), in per-bin-sum form where the bins are fixed."""
    binning = f"{n_bins} {'equal-width' if strategy == 'uniform' else 'equal-mass'} bins"

    def qy(ev):
        return _confidence(ev, kind), ev.correct

    def binned(fn):
        return lambda q, y: fn(q, y, n_bins, strategy)

    def spec(name, desc, stat, extract=qy):
        return spec_of(f"{name}_{kind}", extract, description=f"{desc} ({kind} confidence)", statistic=stat,
                       rows="all")

    def summed(name, fn):  # equal-mass bins depend on the pooled ranks: no per-sample sums
        if strategy != "uniform" and name in _BINNED:
            return binned(fn)
        return BinSums(name, n_bins, fn)

    return [
        spec("ece", f"expected calibration error, {binning}", summed("ece", ece)),
        spec("brier", "Brier score", summed("brier", brier)),
        spec("reliability", f"Murphy reliability, {binning}", summed("reliability", murphy_reliability)),
        spec("resolution", f"Murphy resolution, {binning}", summed("resolution", murphy_resolution)),
        spec("auroc", "AUROC of confidence for correctness", BatchedAuroc()),
        spec("mean_confidence", "mean confidence of answered samples", summed("mean_confidence", mean_confidence)),
        spec("overconfidence", "mean confidence minus accuracy", summed("overconfidence", overconfidence)),
        spec("confidence_coverage", "share of non-abstained samples with a confidence", Coverage(),
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
    n_bins = ctx.settings.calibration_bins
    strategy = ctx.settings.calibration_binning
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
            tok = load_tokenizer(getattr(ev, "model_path", ev.path), ctx.settings.trust_remote_code)
        except Exception as exc:  # noqa: BLE001 - any loader failure only drops this half of the probe
            notes.append(f"likelihood confidence skipped: {name}'s tokenizer did not load ({exc.__class__.__name__})")
            kinds.remove("likelihood")
            break
        if "likelihood_confidence" not in ev.arrays:  # per sample: the self-check's halves reuse it
            ev.arrays["likelihood_confidence"] = likelihood_confidence(ev, ctx.task, tok)
    all_specs = [s for k in kinds for s in specs(k, n_bins, strategy)]
    metrics, comparisons = evaluate("calibration", all_specs, ctx.evidences, ctx.reference,
                                    ctx.settings.bootstrap, ctx.settings.seed)
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
