"""The probe contract: metrics declared once, estimated per checkpoint and group, compared paired.

A probe declares :class:`MetricSpec` s — what per-problem arrays a metric reads from the
:class:`~offtarget.audit.evidence.Evidence` and the statistic over them — and
:func:`evaluate` turns them into numbers with 95% intervals (bootstrap over problems) for every
checkpoint and group, plus a paired comparison of each checkpoint against the reference on
the same problems. Holm correction and flags happen once per report, across every probe, in
:mod:`offtarget.audit.compare`.

The p-value of a comparison comes from a paired permutation test
(:func:`offtarget.stats.permutation_test`), whose false-alarm rate holds at alpha in groups of
any size (its first stage here; the report refines the comparisons whose Holm decision is open,
:mod:`offtarget.stats.refinement`): per-sample arrays ``(problems, samples)`` have the checkpoint labels of each sample
pair swapped within its problem, per-problem arrays have whole problems swapped. The interval is
the paired bootstrap's. Greedy correctness keeps McNemar's exact test. Token-level metrics
(``token_level=True``) are compared only between checkpoints that share a tokenizer
(:func:`tokenizer_identity`); otherwise the comparison is reported as unavailable, with why.

Groups: each split (``test`` is in distribution, ``ood`` is shifted) and each ``split/slice``.
A metric only sees the rows it applies to (``answerable``, ``unanswerable`` or ``all``).

    >>> spec = spec_of("accuracy", lambda ev: (ev.correct,))   # direction, role, computation: offtarget.metrics
    >>> rows, comparisons = evaluate("accuracy", [spec], evidences, "base", n_resamples=1000)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from scipy.stats import norm

from offtarget import metrics as catalogue
from offtarget.stats import bootstrap, mcnemar, paired_bootstrap, permutation_test
from offtarget.stats.bootstrap import batched_mean, bootstrap_replicates
from offtarget.stats.refinement import staged_permutation_test

Z95 = float(norm.ppf(0.975))


@dataclass(frozen=True)
class MetricSpec:
    """One number a probe reports."""

    name: str
    description: str
    higher_is_better: bool | None
    """``None`` for descriptive metrics that are never flagged (e.g. mean length)."""
    target: bool = False
    """True for the metric training optimises; only its in-distribution groups count as target."""
    rows: str = "answerable"
    """Which problems it applies to: ``answerable``, ``unanswerable`` or ``all``."""
    extract: Callable[[Any], tuple[np.ndarray, ...]] | None = None
    """Per-problem arrays (problems on axis 0) from one checkpoint's evidence."""
    statistic: Callable[..., float] | None = None
    """A number from those arrays; ``None`` means the mean of every entry (vectorised)."""
    vectorized: bool = False
    """``statistic`` takes arrays with a leading resample axis and returns one value per resample
    (see :func:`offtarget.stats.bootstrap`); much faster than one call per resample."""
    binary_greedy: bool = False
    """Per-problem 0/1 outcome (greedy correctness): McNemar's exact test instead of bootstrap."""
    min_problems: int = 5
    unit: str = "auto"
    """What the permutation test relabels: ``sample`` (arrays are ``(problems, samples)``, one
    column per sample), ``problem`` (arrays are per problem, or columns are not samples, e.g.
    counts per format), or ``auto``: ``sample`` when every array is 2-D with one column per
    sample of both checkpoints, else ``problem``."""
    token_level: bool = False
    """Computed on token ids or per-token quantities: compared only between checkpoints that
    share a tokenizer (a different vocabulary makes the numbers incommensurable)."""


def spec_of(name: str, extract: Callable[[Any], tuple[np.ndarray, ...]], *, description: str | None = None,
            target: bool | None = None, statistic: Callable[..., Any] | None = None, **options: Any) -> MetricSpec:
    """The :class:`MetricSpec` of the catalogue metric ``name``: its direction, its role (``target``)
    and its computation come from :mod:`offtarget.metrics`; ``extract`` says where its arrays come
    from. ``statistic`` replaces the computation by an equal, faster form of it (calibration's
    per-bin sums); ``options`` are the other :class:`MetricSpec` fields (``rows``, ``unit``, ...)."""
    m = catalogue.get(name)
    stat = statistic or m.compute
    return MetricSpec(name, description or m.meaning, m.higher_is_better,
                      target=m.role == "target" if target is None else target, extract=extract,
                      statistic=stat, vectorized=stat is not None, **options)


@dataclass
class MetricRow:
    """A metric of one checkpoint on one group, with its interval."""

    probe: str
    metric: str
    checkpoint: str
    group: str
    value: float | None
    low: float | None
    high: float | None
    n: int
    higher_is_better: bool | None
    target: bool
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ComparisonRow:
    """tuned − reference for one metric and group; ``flag`` is set after Holm correction."""

    probe: str
    metric: str
    group: str
    checkpoint: str
    reference: str
    reference_value: float | None
    value: float | None
    diff: float | None
    low: float | None
    high: float | None
    p_value: float | None
    n: int
    test: str
    higher_is_better: bool | None
    target: bool
    p_adjusted: float | None = None
    flag: str = "none"
    reason: str | None = None
    p_floor: float | None = None
    """Smallest p the test's design can give; at or above alpha the group is too small to test."""
    n_permutations: int | None = None
    """Relabellings behind a permutation p."""
    mde: float | None = None
    """Minimum detectable |diff| at 80% power at the report's Holm level (set by compare)."""
    pending: Any = field(default=None, repr=False, compare=False)
    """The permutation test's refinement while its Holm family is not yet known
    (:class:`offtarget.stats.refinement.Refinement`); resolved and cleared by
    :func:`offtarget.audit.compare.apply_holm`, never written out."""

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pending"}


@dataclass
class ProbeResult:
    """Everything one probe contributes to a report."""

    probe: str
    description: str
    source: str
    metrics: list[MetricRow] = field(default_factory=list)
    comparisons: list[ComparisonRow] = field(default_factory=list)
    plots: dict[str, Any] = field(default_factory=dict)
    """JSON-able data the report draws (curves, histograms); keyed by plot name."""
    extras: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> ProbeResult:
        """The inverse of :meth:`to_dict` (the audit's probe cache reads results back with it)."""
        return cls(
            d["probe"], d["description"], d["source"],
            [MetricRow(**m) for m in d["metrics"]], [ComparisonRow(**c) for c in d["comparisons"]],
            d.get("plots", {}), d.get("extras", {}), d.get("notes", []), d.get("seconds", 0.0), d.get("error"),
        )

    def to_dict(self) -> dict:
        return {
            "probe": self.probe, "description": self.description, "source": self.source,
            "metrics": [m.to_dict() for m in self.metrics],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "plots": self.plots, "extras": self.extras, "notes": self.notes,
            "seconds": round(self.seconds, 3), "error": self.error,
        }


def groups(problems) -> dict[str, np.ndarray]:
    """Row indices of every split and split/slice, in a stable order."""
    out: dict[str, list[int]] = {}
    for i, p in enumerate(problems):
        out.setdefault(p.split, []).append(i)
    for i, p in enumerate(problems):
        out.setdefault(f"{p.split}/{p.slice}", []).append(i)
    return {k: np.array(v) for k, v in out.items()}


def applicable(problems, rows: str) -> np.ndarray:
    mask = np.array([p.should_abstain for p in problems])
    if rows == "answerable":
        return ~mask
    if rows == "unanswerable":
        return mask
    return np.ones(len(problems), dtype=bool)


def is_target_group(spec: MetricSpec, group: str) -> bool:
    return spec.target and group.split("/")[0] == "test"


def normal_p(diff: float | None, low: float | None, high: float | None) -> float | None:
    """Two-sided p for diff = 0 from the bootstrap standard error (interval width / 2·1.96).

    Not used for flags: it is anti-conservative in small groups (about 14% false alarms at
    nominal 5% with 5 problems, see :mod:`offtarget.stats.permutation`); kept for reference.
    Zero spread: p = 1 when diff is 0, else 0.
    """
    if diff is None or low is None or high is None:
        return None
    se = (high - low) / (2 * Z95)
    if se <= 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * norm.sf(abs(diff) / se))


def _stat(spec: MetricSpec):
    if spec.statistic is None:
        return batched_mean, True
    return spec.statistic, spec.vectorized


def permutation_unit(spec: MetricSpec, ref_arrays, tuned_arrays, n_samples: tuple[int, int]) -> str:
    """``sample`` or ``problem`` for this spec and these arrays (see :attr:`MetricSpec.unit`)."""
    if spec.unit != "auto":
        return spec.unit
    s_ref, s_tuned = n_samples
    per_sample = s_ref == s_tuned and all(
        a.ndim == 2 and b.shape == a.shape and a.shape[1] == s_ref for a, b in zip(ref_arrays, tuned_arrays))
    return "sample" if per_sample and s_ref > 1 else "problem"


TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "vocab.txt",
                   "special_tokens_map.json", "added_tokens.json")
"""Files that define a tokenizer's vocabulary (``tokenizer_config.json`` is read without its
chat template, which changes prompts but not how ids map to text)."""


@functools.lru_cache(maxsize=64)
def _tokenizer_files_identity(path: str) -> str | None:
    import hashlib
    import json
    from pathlib import Path

    root = Path(path)
    if not root.is_dir():
        return None
    h = hashlib.sha256()
    found = False
    for name in TOKENIZER_FILES:
        f = root / name
        if f.is_file():
            found = True
            h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    cfg = root / "tokenizer_config.json"
    if cfg.is_file():
        try:
            d = json.loads(cfg.read_text())
        except (OSError, ValueError):
            d = {}
        d = {k: v for k, v in d.items() if k != "chat_template"} if isinstance(d, dict) else {}
        h.update(json.dumps(d, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16] if found else None


def tokenizer_identity(ev) -> str | None:
    """What identifies a checkpoint's tokenizer: ``Evidence.tokenizer_fingerprint`` when the
    evidence carries one, else a hash of its vocabulary files; ``None`` when neither is there."""
    fp = getattr(ev, "tokenizer_fingerprint", None)
    if fp:
        return str(fp)
    path = getattr(ev, "model_path", ev.path)
    return None if path is None else _tokenizer_files_identity(str(path))


def different_tokenizer(ev, ref_ev) -> str | None:
    """Why token-level metrics of ``ev`` cannot be compared with ``ref_ev``'s, or ``None`` if they can."""
    if getattr(ev, "model_path", ev.path) == getattr(ref_ev, "model_path", ref_ev.path) is not None:
        return None
    a, b = tokenizer_identity(ref_ev), tokenizer_identity(ev)
    if a is None or b is None:
        return f"the tokenizer of {ev.name if b is None else ref_ev.name} could not be identified (no tokenizer files)"
    if a != b:
        return f"{ev.name} and {ref_ev.name} have different tokenizers"
    return None


def _test_seed(seed: int, *parts: str) -> int:
    import zlib

    return (zlib.crc32("\0".join(parts).encode()) + 7919 * seed) % (2**32)


def evaluate(
    probe: str,
    specs: list[MetricSpec],
    evidences: dict[str, Any],
    reference: str,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[list[MetricRow], list[ComparisonRow]]:
    """Estimate every spec for every checkpoint and group; compare each checkpoint to the reference."""
    ref_ev = evidences[reference]
    problems = ref_ev.problems
    metric_rows: list[MetricRow] = []
    comparisons: list[ComparisonRow] = []
    for spec in specs:
        keep = applicable(problems, spec.rows)
        arrays = {name: spec.extract(ev) for name, ev in evidences.items()}
        statistic, vectorized = _stat(spec)
        for group, idx in groups(problems).items():
            idx = idx[keep[idx]]
            if len(idx) < spec.min_problems:
                continue
            target = is_target_group(spec, group)
            # Each checkpoint's replicates, computed at most once: bootstrap() and every
            # paired_bootstrap() against it draw the same resamples (same seed, same problems).
            shared = {name: functools.cache(functools.partial(
                bootstrap_replicates, statistic, *[a[idx] for a in arrs], n_resamples=n_resamples, seed=seed,
                vectorized=vectorized)) for name, arrs in arrays.items()}
            for name, arrs in arrays.items():
                sub = [a[idx] for a in arrs]
                est = bootstrap(statistic, *sub, n_resamples=n_resamples, seed=seed, vectorized=vectorized,
                                shared_replicates=shared[name])
                metric_rows.append(MetricRow(probe, spec.name, name, group, est.value, est.low, est.high,
                                             est.n, spec.higher_is_better, target, est.reason))
                if name == reference:
                    continue
                ref_sub = [a[idx] for a in arrays[reference]]
                why_not = different_tokenizer(evidences[name], ref_ev) if spec.token_level else None
                if why_not:
                    comparisons.append(ComparisonRow(
                        probe, spec.name, group, name, reference, None, est.value, None, None, None, None,
                        len(idx), "not_compared", spec.higher_is_better, target,
                        reason=f"not compared: token-level metric and {why_not}"))
                    continue
                floor = n_perm = why_p = pending = None
                if spec.binary_greedy:
                    d = mcnemar(ref_sub[0], sub[0], metric=spec.name, n_resamples=n_resamples, seed=seed)
                    p, test = d.p_value, d.test
                    floor = 2.0 * 0.5 ** len(idx)  # every problem discordant, all one way
                else:
                    d = paired_bootstrap(tuple(ref_sub), tuple(sub), statistic, metric=spec.name,
                                         n_resamples=n_resamples, seed=seed, vectorized=vectorized,
                                         shared_replicates=(shared[reference], shared[name]))
                    unit = permutation_unit(spec, ref_sub, sub, (ref_ev.n_samples, evidences[name].n_samples))
                    args = (tuple(ref_sub), tuple(sub), None if spec.statistic is None else statistic)
                    test_seed = _test_seed(seed, probe, spec.name, group, name)
                    if spec.higher_is_better is None:  # descriptive: never flagged, so never refined
                        perm = permutation_test(*args, unit=unit, vectorized=vectorized, seed=test_seed, refine=False)
                    else:  # refined once the report's Holm family is known (apply_holm)
                        perm, pending = staged_permutation_test(*args, unit=unit, vectorized=vectorized, seed=test_seed)
                    p, test, floor, n_perm = perm.p_value, perm.test, perm.p_floor, perm.n_permutations
                    why_p = None if p is not None else perm.reason
                reason = d.reason or why_p
                comparisons.append(ComparisonRow(
                    probe, spec.name, group, name, reference, d.reference, d.tuned, d.diff, d.low, d.high,
                    p, d.n, test, spec.higher_is_better, target, reason=reason, p_floor=floor,
                    n_permutations=n_perm, pending=pending,
                ))
    return metric_rows, comparisons


def finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def drop_undefined(
    metrics: list[MetricRow], comparisons: list[ComparisonRow]
) -> tuple[list[MetricRow], list[ComparisonRow]]:
    """Drop (metric, group) pairs that no checkpoint has a value for (e.g. calibration on a slice
    where every sample abstained): rows of ``None`` say nothing a note cannot say once."""
    defined = {(m.metric, m.group) for m in metrics if m.value is not None}
    return ([m for m in metrics if (m.metric, m.group) in defined],
            [c for c in comparisons if (c.metric, c.group) in defined])
