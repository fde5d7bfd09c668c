"""SFT-defect audit: what did SFT plant that RL would amplify?

RL after a flawed SFT does not correct the flaw; it reinforces what the model already does
("RL After Flawed SFT Locks In Model Defects", after QbitAI's "Warning: rushing RL after SFT may train
broken multimodal LLMs": audit the SFT "injuries" before RL).
A slice the SFT model now gets wrong has a low pass rate, so its GRPO groups are mostly tied
and RL cannot repair it while sharpening the wrong mode; a binary reward never charges a
confident guess more than an abstention, so hallucination and overconfidence grow; a reward
that reads only the final answer pays for skipped steps.

From the SFT checkpoint's samples (and its reference's, on the same problems) this module
estimates, per split and slice, with 95% bootstrap intervals over problems
(:func:`offtarget.probes.base.evaluate`; paired comparisons, Holm-corrected across the report
by :func:`offtarget.audit.compare.apply_holm`):

==========================  ======================================================  =================
metric                      definition                                              defect when
==========================  ======================================================  =================
``accuracy``                mean correctness of the samples (answerable items)      flagged drop vs reference
``accuracy_in_<format>``    correct / answers given in that format (per split)       flagged drop vs reference
``over_answer_rate``        samples of unanswerable items that state an answer       low end > ``hallucination``
                            (AbstentionBench's over-answer rate)
``overconfidence``          stated q − correctness per sample, over all samples      low end > ``overconfidence``
                            (samples with no answer or no confidence count 0;
                            unanswerable items count as wrong): confidence that
                            outruns accuracy, weighted by how often it is stated
``steps_skipped_rate``      right answers in a step format whose steps are          low end > ``shortcut``, or a
                            missing or wrong (computation skipped: RoC's "lucky     flagged rise
                            positives")
==========================  ======================================================  =================

With the SFT data (:mod:`offtarget.preflight.sft_data`), a slice whose rows are wrong more often
than ``data_error`` (interval low end) is a defect when the model reproduces it there: its
accuracy fell significantly, or at least ``reproduced_share`` of its errors are the data's most
common error (e.g. the same ``-10`` offset), or, on unanswerable slices, it over-answers.

Each defect carries its ``origin``: planted by SFT (worse than the reference, or a behaviour
the reference does not have, such as stated confidence), learned from the SFT data,
pre-existing (the reference is as bad), or unknown (no reference). Ranking: what SFT planted
before what was already there; then defects on in-distribution splits (RL samples those
prompts, so it reinforces what happens there directly; ``ood*`` splits only drift along);
then by the low end of the 95% interval of the harm, in probability units (accuracy lost,
over-answer rate, excess confidence, …): the largest harm we are confident of first.

    >>> [s.name for s in specs(("direct",))][:3]   # definitions: offtarget.metrics.defects
    ['accuracy', 'accuracy_in_direct', 'over_answer_rate']
    >>> DefectThresholds().hallucination
    0.1

In a run: ``find_defects(measure(evidences, "base", task.formats), "sft", "base", ...)``.

    offtarget preflight --model runs/lab/sft-defect --reference models/lab/base --sft-data data.jsonl --out runs/pf
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from offtarget.preflight.sft_data import DataAudit, error_signature
from offtarget.probes.base import ComparisonRow, MetricRow, MetricSpec, ProbeResult, evaluate, spec_of

PROBE = "sft_defects"


@dataclass(frozen=True)
class DefectThresholds:
    """Absolute levels above which a behaviour counts as a defect (interval low end, probability units)."""

    hallucination: float = 0.1
    """Over-answer rate on unanswerable items."""
    overconfidence: float = 0.1
    """Stated confidence minus correctness, per sample."""
    shortcut: float = 0.05
    """Share of step-format answers with missing or wrong steps."""
    data_error: float = 0.02
    """Share of wrong SFT rows in a slice above which the slice's data counts as flawed."""
    reproduced_share: float = 0.5
    """Share of the model's errors on a slice that must match the data's common error."""


# ---------------------------------------------------------------------------------------------
# Metrics


def _answered(ev) -> np.ndarray:
    return np.array([[v.answer is not None and not v.abstained for v in row] for row in ev.verdicts], dtype=float)


def _confident(ev) -> np.ndarray:
    """Answered samples with a parseable stated confidence."""
    return (np.isfinite(ev.confidence) & (ev.abstained == 0)).astype(float)


def _steps(ev) -> tuple[np.ndarray, np.ndarray]:
    """(right answer with wrong steps, right answer in a step format) per sample."""
    right = np.array([[v.correct and v.steps_ok is not None for v in row] for row in ev.verdicts], dtype=float)
    lucky = np.array([[v.correct and v.steps_ok is False for v in row] for row in ev.verdicts], dtype=float)
    return lucky, right


def _in_format(ev, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    used = (ev.formats == fmt).astype(float)
    return ev.correct * used, used


def _stated(ev) -> tuple[np.ndarray, np.ndarray]:
    """(stated confidence where a sample answers with one, NaN elsewhere; correctness)."""
    return np.where(_confident(ev) > 0, ev.confidence, np.nan), ev.correct


def specs(formats: tuple[str, ...]) -> list[MetricSpec]:
    """The defect metrics (see the module docstring; definitions in :mod:`offtarget.metrics.defects`)."""
    out = [spec_of("accuracy", lambda ev: (ev.correct,))]
    out += [spec_of(f"accuracy_in_{f}", lambda ev, f=f: _in_format(ev, f),
                    description=f"correct / answers written in format {f!r}") for f in formats]
    conf = np.nan_to_num
    out += [
        spec_of("over_answer_rate", lambda ev: (_answered(ev),), rows="unanswerable"),
        spec_of("overconfidence", lambda ev: ((conf(ev.confidence) - ev.correct) * _confident(ev),
                                              np.ones_like(ev.correct)), rows="all"),
        spec_of("confident_answer_share", lambda ev: (_confident(ev),), rows="all"),
        spec_of("mean_confidence", _stated, rows="all"),
        spec_of("accuracy_when_confident", lambda ev: (ev.correct * _confident(ev), _confident(ev)), rows="all"),
        spec_of("steps_skipped_rate", _steps),
    ]
    return out


def measure(evidences: dict, reference: str, formats: tuple[str, ...], n_resamples: int = 1000,
            seed: int = 0) -> ProbeResult:
    """Every defect metric for every checkpoint and group, paired against ``reference`` (a ProbeResult)."""
    metrics, comparisons = evaluate(PROBE, specs(formats), evidences, reference, n_resamples, seed)
    return ProbeResult(PROBE, "what SFT planted that RL would amplify: accuracy per slice and format, "
                       "over-answering, overconfidence, skipped steps",
                       "'RL After Flawed SFT Locks In Model Defects' (after QbitAI); AbstentionBench over-answer rate; "
                       "RLCR calibration",
                       metrics, comparisons)


# ---------------------------------------------------------------------------------------------
# Defects


@dataclass
class Defect:
    """One thing RL would amplify, with the numbers behind it."""

    kind: str
    where: str
    metric: str
    harm: float
    """Size of the harm in probability units (accuracy lost, rate, confidence gap)."""
    harm_low: float
    """Low end of the harm's 95% interval: what the ranking uses."""
    evidence: str
    why: str
    origin: str = "unknown"
    """``SFT (...)``, ``SFT data``, ``pre-existing (...)`` or ``unknown (no reference)``."""
    in_distribution: bool = True
    """False on ``ood*`` splits, which RL does not sample."""
    value: float | None = None
    low: float | None = None
    high: float | None = None
    reference_value: float | None = None
    diff: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None
    p_adjusted: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


WHY = {
    "accuracy fell": "a low pass rate here ties most GRPO groups, so RL cannot repair it while it sharpens "
                     "the wrong mode",
    "format accuracy fell": "RL converges on the format that pays best now; a format SFT weakened is "
                            "dropped or frozen in its errors",
    "hallucination": "a binary reward charges a guess no more than an abstention: RL turns guessing into "
                     "policy (train with the ternary reward)",
    "overconfidence": "correctness rewards never charge for confidence; RL sharpens and the gap grows "
                      "(add the rlcr/brier term)",
    "skipped steps": "a final-answer reward pays for lucky answers with wrong steps; RL reinforces "
                     "skipping (format_penalty, GRPO-RoC)",
    "reproduces SFT data errors": "the model learned these errors from its SFT data; RL starting here "
                                  "sharpens them",
    "audit regression": "a flagged regression against the reference; RL tends to push further along "
                        "the direction SFT already moved",
}


def _f(x, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{x:.0%}" if pct else f"{x:.3f}"


def _ci(row, pct: bool = False) -> str:
    return f"{_f(row.value, pct)} [{_f(row.low, pct)}, {_f(row.high, pct)}]" if row is not None else "n/a"


def _cmp_text(c: ComparisonRow | None) -> str:
    if c is None or c.diff is None:
        return ""
    p = f", p_adj {c.p_adjusted:.1e}" if c.p_adjusted is not None else ""
    return f"; vs reference {c.diff:+.3f} [{_f(c.low)}, {_f(c.high)}]{p}"


def _from_cmp(kind: str, where: str, metric: str, m: MetricRow, c: ComparisonRow, evidence: str) -> Defect:
    harm, bound = (-c.diff, c.high) if c.higher_is_better else (c.diff, c.low)
    harm_low = harm if bound is None else (-bound if c.higher_is_better else bound)
    return Defect(kind, where, metric, harm, harm_low, evidence, WHY[kind], "SFT (worse than reference)",
                  in_distribution(where), m.value, m.low, m.high, c.reference_value, c.diff, c.low, c.high,
                  c.p_adjusted)


def in_distribution(group: str) -> bool:
    """Groups of splits RL samples from (every split not named ``ood*``)."""
    return not group.split("/")[0].startswith("ood")


def origin(reference: str | None, ref_row: MetricRow | None, comp: ComparisonRow | None) -> str:
    """Who planted an absolute-level defect, judged against the reference on the same problems."""
    if reference is None:
        return "unknown (no reference)"
    if ref_row is None or ref_row.value is None:
        return "SFT (new behaviour: undefined for the reference)"
    if comp is not None and comp.flag == "regression":
        return "SFT (worse than reference)"
    return f"pre-existing (reference: {_f(ref_row.value)})"


def rank_key(d: Defect) -> tuple:
    """SFT-planted before pre-existing, in-distribution before OOD, then the harm we are sure of."""
    return (d.origin.startswith("pre-existing"), not d.in_distribution, -d.harm_low, -d.harm)


def find_defects(
    result: ProbeResult,
    model: str,
    reference: str | None,
    evidence=None,
    data: DataAudit | None = None,
    others: list[ProbeResult] = (),
    thresholds: DefectThresholds = DefectThresholds(),
) -> list[Defect]:
    """Defects of ``model``, ranked by :func:`rank_key`.

    ``result`` is :func:`measure`'s output after Holm correction (flags set); ``evidence`` the
    model's :class:`~offtarget.audit.evidence.Evidence` (for the data-error signatures);
    ``others`` more probe results whose flagged regressions are listed as ``audit regression``.
    """
    mine = {(r.metric, r.group): r for r in result.metrics if r.checkpoint == model}
    theirs = {(r.metric, r.group): r for r in result.metrics if r.checkpoint == reference}
    comps = {(c.metric, c.group): c for c in result.comparisons if c.checkpoint == model}
    groups = list(dict.fromkeys(r.group for r in result.metrics))
    slices = [g for g in groups if "/" in g]
    out: list[Defect] = []

    def absolute(kind: str, metric: str, g: str, threshold: float, text: str, rise_counts: bool = False) -> None:
        m, c, ref = mine.get((metric, g)), comps.get((metric, g)), theirs.get((metric, g))
        if m is None or m.low is None:
            return
        if not (m.low > threshold or (rise_counts and c is not None and c.flag == "regression")):
            return
        out.append(Defect(kind, g, metric, m.value, m.low, text.format(v=_ci(m, True), q=_ci(m)) + _cmp_text(c),
                          WHY[kind], origin(reference, ref, c), in_distribution(g), m.value, m.low, m.high,
                          ref.value if ref else None, c.diff if c else None, c.low if c else None,
                          c.high if c else None, c.p_adjusted if c else None))

    for g in slices:
        c, m = comps.get(("accuracy", g)), mine.get(("accuracy", g))
        if c is not None and c.flag == "regression" and m is not None:
            out.append(_from_cmp("accuracy fell", g, "accuracy", m, c,
                                 f"accuracy {_ci(theirs.get(('accuracy', g)))} → {_ci(m)}{_cmp_text(c)}"))
    for g in [g for g in groups if "/" not in g]:
        for (metric, group), c in comps.items():
            if group == g and metric.startswith("accuracy_in_") and c.flag == "regression":
                m = mine[(metric, g)]
                out.append(_from_cmp("format accuracy fell", g, metric, m, c,
                                     f"{metric} {_ci(theirs.get((metric, g)))} → {_ci(m)}{_cmp_text(c)}"))
    for g in slices:
        ref = theirs.get(("over_answer_rate", g))
        absolute("hallucination", "over_answer_rate", g, thresholds.hallucination,
                 "states an answer on {v} of unanswerable samples"
                 + (f" (reference: {_f(ref.value, True)})" if ref is not None else ""))
        q, acc = mine.get(("mean_confidence", g)), mine.get(("accuracy_when_confident", g))
        share = mine.get(("confident_answer_share", g))
        absolute("overconfidence", "overconfidence", g, thresholds.overconfidence,
                 f"stated confidence {_f(q.value if q else None)} vs accuracy {_f(acc.value if acc else None)} "
                 f"on the {_f(share.value if share else None, True)} of samples that answer with a confidence: "
                 "excess confidence {q} per sample")
        absolute("skipped steps", "steps_skipped_rate", g, thresholds.shortcut,
                 "{v} of right step-format answers have missing or wrong steps", rise_counts=True)
    if data is not None:
        out += _data_defects(data, mine, theirs, comps, slices, evidence, thresholds)
    for other in others:
        for c in other.comparisons:
            if c.checkpoint == model and c.flag == "regression" and c.diff is not None:
                bound = c.high if c.higher_is_better else c.low
                name = f"{other.probe}.{c.metric}"
                out.append(Defect(
                    "audit regression", c.group, name, abs(c.diff), abs(bound) if bound is not None else 0.0,
                    f"{name} {_f(c.reference_value)} → {_f(c.value)}{_cmp_text(c)}", WHY["audit regression"],
                    "SFT (worse than reference)", in_distribution(c.group), c.value, None, None,
                    c.reference_value, c.diff, c.low, c.high, c.p_adjusted))
    out.sort(key=rank_key)
    return out


def model_error_share(evidence, group: str, signature: str) -> tuple[float | None, int]:
    """Share of the model's wrong samples in ``group`` whose error is ``signature``, and their count."""
    if evidence is None:
        return None, 0
    sigs = []
    for p, row in zip(evidence.problems, evidence.verdicts):
        if f"{p.split}/{p.slice}" != group:
            continue
        for v in row:
            wrong = (not v.abstained) if p.should_abstain else (not v.correct)
            if wrong:
                sigs.append(error_signature(p, v))
    if not sigs:
        return None, 0
    return Counter(sigs)[signature] / len(sigs), len(sigs)


def _data_defects(data: DataAudit, mine, theirs, comps, slices, evidence, th: DefectThresholds) -> list[Defect]:
    out = []
    for g in data.by_slice:
        if g.rate.low is None or g.rate.low <= th.data_error or g.modal_error is None:
            continue
        for group in [s for s in slices if s.split("/", 1)[1] == g.key]:
            share, n_err = model_error_share(evidence, group, g.modal_error)
            data_text = (f"{g.wrong} of {g.rows} SFT rows on {g.key} are wrong ({_f(g.rate.value, True)} "
                         f"[{_f(g.rate.low, True)}, {_f(g.rate.high, True)}]), {_f(g.modal_share, True)} of them "
                         f"'{g.modal_error}'")
            rep = "" if share is None else f"; {_f(share, True)} of the model's {n_err} wrong samples here are " \
                                           f"'{g.modal_error}'"
            if g.key == "unanswerable" or g.modal_error == "answered an unanswerable prompt":
                m = mine.get(("over_answer_rate", group))
                if m is None or m.low is None or m.low <= th.hallucination:
                    continue
                out.append(Defect("reproduces SFT data errors", group, "over_answer_rate", m.value, m.low,
                                  f"{data_text}; the model answers {_ci(m, True)} of unanswerable samples{rep}",
                                  WHY["reproduces SFT data errors"], "SFT data", in_distribution(group),
                                  m.value, m.low, m.high))
                continue
            m, c = mine.get(("accuracy", group)), comps.get(("accuracy", group))
            if m is None:
                continue
            fell = c is not None and c.flag == "regression"
            copied = share is not None and n_err >= 5 and share >= th.reproduced_share
            if not (fell or copied):
                continue
            err_text = f"the model errs on {_f(1 - m.value, True)} [{_f(1 - m.high, True)}, {_f(1 - m.low, True)}] " \
                       f"of samples here"
            ref = theirs.get(("accuracy", group))
            if ref is not None:
                err_text += f" (reference {_f(1 - ref.value, True)})"
            if fell:
                d = _from_cmp("reproduces SFT data errors", group, "accuracy", m, c, "")
            else:
                d = Defect("reproduces SFT data errors", group, "accuracy", 1 - m.value, 1 - m.high, "",
                           WHY["reproduces SFT data errors"], "SFT data", in_distribution(group),
                           m.value, m.low, m.high)
            d.evidence, d.origin = f"{data_text}; {err_text}{rep}", "SFT data"
            out.append(d)
    return out
