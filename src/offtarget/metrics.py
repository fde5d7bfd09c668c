"""The metric catalogue: every number offtarget reports, with one name, meaning, direction and role.

The audit's probes, the training monitor, the report's prescriptions and the lab's claims all
name metrics; this is where a name is defined once, so the same word means the same number
everywhere (``abstention_recall`` is the share of samples of unanswerable problems that
abstain, in the audit and in the monitor alike). Names follow the audit's probes
(:mod:`offtarget.probes`); a family whose members are named at run time (``pass@k``,
``format_share_<format>``) is one entry with an ``fnmatch`` pattern.

Fields of a :class:`Metric`:

- ``direction`` — ``higher`` or ``lower`` is better, or ``descriptive`` (reported with an
  interval, never flagged: a drift measure, a length, a label's share).
- ``role`` — ``target`` (what training optimises; a regression on it also blocks routing),
  ``serving_veto`` (off target, and a regression blocks routing a group's traffic to the
  checkpoint: the user of that traffic would see it), ``off_target`` (flagged, reported,
  does not veto routing by itself) or ``descriptive``.
- ``unit`` — what the number is and its range; ``probe`` — the module that computes it;
  ``source`` — the paper (or convention) the definition follows.

    >>> get("abstention_recall").direction, get("pass@16").name
    ('higher', 'pass@k')
    >>> is_known("abstention_rate"), is_known("acc,none")
    (True, False)

    python -c "from offtarget.metrics import CATALOGUE; print(len(CATALOGUE))"
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

DIRECTIONS = ("higher", "lower", "descriptive")
ROLES = ("target", "serving_veto", "off_target", "descriptive")


@dataclass(frozen=True)
class Metric:
    """One entry of the catalogue."""

    name: str
    """The name probes, the monitor and reports use (``pass@k`` for the family ``pass@*``)."""
    meaning: str
    """What the number is, in one sentence a reader of a report can check."""
    direction: str
    """``higher`` / ``lower`` is better, or ``descriptive`` (never flagged)."""
    role: str
    """``target``, ``serving_veto``, ``off_target`` or ``descriptive`` (see the module docstring)."""
    unit: str
    """Unit and range, e.g. ``share in [0, 1]`` or ``nats ≥ 0``."""
    probe: str
    """The audit probe that computes it (:mod:`offtarget.probes`)."""
    source: str
    """The paper or convention its definition follows."""
    pattern: str | None = None
    """``fnmatch`` pattern for a family named at run time (``pass@*``); ``None``: the name itself."""

    @property
    def higher_is_better(self) -> bool | None:
        """The :class:`~offtarget.probes.base.MetricSpec` convention: True, False, or None (descriptive)."""
        return {"higher": True, "lower": False}.get(self.direction)

    @property
    def vetoes_serving(self) -> bool:
        """A significant regression on it blocks routing that group's traffic to the checkpoint."""
        return self.role in ("target", "serving_veto")

    def matches(self, name: str) -> bool:
        return fnmatchcase(name, self.pattern) if self.pattern else name == self.name


SHARE = "share in [0, 1]"
ABST = "AbstentionBench, Kirichenko et al. 2025 (arXiv 2506.09038)"
RLCR = "RLCR, Damani et al. 2025 (arXiv 2507.16806)"
ECHO = "Echo Chamber, Zhao et al. 2025 (arXiv 2504.07912)"
RAZOR = "RL's Razor, Shenfeld et al. 2025 (arXiv 2509.04259)"
SPARSE = "Mukherjee et al. 2025 (arXiv 2505.11711)"
TEMP_ZERO = "the note 'Does setting temperature to zero actually make LLM outputs reliable?'; McDonald 1999"
WARMTH = "the note 'Does warmth training make language models less reliable?'"
HARD = ("the note 'Do overly hard RLVR samples actually harm model capabilities?' "
        "(in 'What trade-offs emerge between training objectives and model reliability?')")


def _calibration() -> list[Metric]:
    out = []
    for kind, how in (("verbalized", "the confidence the completion states"),
                      ("likelihood", "the model's probability of the answer tokens it wrote")):
        veto = "serving_veto" if kind == "verbalized" else "off_target"
        out += [
            Metric(f"ece_{kind}", f"expected calibration error of {how}, non-abstained samples with a confidence "
                   "(unanswerable ones count as wrong), 10 equal-width bins by default", "lower", veto, SHARE,
                   "calibration", f"{RLCR}; Naeini et al. 2015"),
            Metric(f"brier_{kind}", f"mean (q − correct)² of {how}, same samples as ECE", "lower", veto, SHARE,
                   "calibration", f"Brier 1950; {RLCR}"),
            Metric(f"reliability_{kind}", f"Murphy reliability (miscalibration) of {how}", "lower", "off_target",
                   SHARE, "calibration", "Murphy 1973"),
            Metric(f"resolution_{kind}", f"Murphy resolution of {how} (bounded by the base rate's uncertainty)",
                   "descriptive", "descriptive", SHARE, "calibration", "Murphy 1973"),
            Metric(f"auroc_{kind}", f"P(q of a correct answer > q of a wrong one), {how}, ties ½", "higher",
                   "off_target", SHARE, "calibration", "Mann-Whitney U"),
            Metric(f"mean_confidence_{kind}", f"mean of {how} over the calibration samples", "descriptive",
                   "descriptive", SHARE, "calibration", RLCR),
            Metric(f"overconfidence_{kind}", f"mean {how} minus accuracy on the same samples", "descriptive",
                   "descriptive", "difference in [-1, 1]", "calibration", RLCR),
            Metric(f"confidence_coverage_{kind}", f"share of non-abstained samples with {how}",
                   "higher" if kind == "verbalized" else "descriptive",
                   "off_target" if kind == "verbalized" else "descriptive", SHARE, "calibration", RLCR),
        ]
    return out


CATALOGUE: tuple[Metric, ...] = (
    # accuracy and coverage
    Metric("accuracy", "mean correctness over T=1 samples of answerable problems (pass@1)", "higher", "target",
           SHARE, "accuracy", "mean correctness"),
    Metric("greedy_accuracy", "correctness of the greedy (T=0) answer of answerable problems", "higher", "target",
           SHARE, "accuracy", "McNemar 1947 for comparisons"),
    Metric("pass@k", "unbiased pass@k, 1 − C(n−c, k)/C(n, k), answerable problems", "higher", "serving_veto",
           SHARE, "passk", "Chen et al. 2021 (arXiv 2107.03374); Yue et al. 2025 (arXiv 2504.13837)",
           pattern="pass@*"),
    Metric("ood_gap", "accuracy on the in-distribution split minus accuracy on an OOD group", "descriptive",
           "descriptive", "difference in [-1, 1]", "ood", "Chu et al. 2025 (arXiv 2501.17161)"),
    # calibration
    *_calibration(),
    # abstention
    Metric("abstention_precision", "abstentions that were on unanswerable problems", "higher", "off_target",
           SHARE, "abstention", ABST),
    Metric("abstention_recall", "share of samples of unanswerable problems that abstain", "higher",
           "serving_veto", SHARE, "abstention", ABST),
    Metric("abstention_f1", "F1 of abstention with should-abstain as the label", "higher", "serving_veto",
           SHARE, "abstention", ABST),
    Metric("over_answer_rate", "share of samples of unanswerable problems that state a parsed answer", "lower",
           "serving_veto", SHARE, "abstention", ABST),
    Metric("over_refusal_rate", "share of samples of answerable problems that abstain", "lower", "serving_veto",
           SHARE, "abstention", ABST),
    Metric("accuracy_given_attempted", "correct among non-abstained samples of answerable problems", "higher",
           "off_target", SHARE, "abstention", "SimpleQA, Wei et al. 2024 (arXiv 2411.04368)"),
    Metric("abstention_rate", "share of all samples that abstain (answerable or not)", "descriptive",
           "descriptive", SHARE, "abstention", ABST),
    # diversity
    Metric("mean_token_entropy", "mean per-token entropy of the T=1 distribution, per problem then averaged, "
           "answerable problems", "higher", "off_target", "nats ≥ 0", "diversity",
           "Cui et al. 2025 (arXiv 2505.22617)"),
    Metric("distinct_2", "distinct token bigrams across a prompt's samples", "higher", "off_target", SHARE,
           "diversity", "Li et al. 2016 (arXiv 1510.03055)"),
    Metric("distinct_3", "distinct token trigrams across a prompt's samples", "higher", "off_target", SHARE,
           "diversity", "Li et al. 2016 (arXiv 1510.03055)"),
    Metric("distinct_answers", "different parsed final answers per prompt", "descriptive", "descriptive",
           "count ≥ 0", "diversity", "Yue et al. 2025 (arXiv 2504.13837)"),
    Metric("distinct_answer_ratio", "different parsed final answers per prompt / samples per prompt",
           "descriptive", "descriptive", SHARE, "diversity", "Yue et al. 2025 (arXiv 2504.13837)"),
    # formats
    Metric("format_share_<format>", "share of answers to answerable problems in that output format",
           "descriptive", "descriptive", SHARE, "formats", ECHO, pattern="format_share_*"),
    Metric("dominant_format_share", "share of answers to answerable problems in the most used format", "lower",
           "off_target", SHARE, "formats", ECHO),
    Metric("format_entropy", "Shannon entropy of the answer formats", "higher", "off_target", "nats in [0, ln K]",
           "formats", ECHO),
    Metric("malformed_share", "share of all samples the verifier could not parse", "lower", "serving_veto", SHARE,
           "formats", "strict verifier"),
    # drift
    Metric("kl_per_token", "forward KL D(π_ref‖π) per token on reference samples, per problem then averaged",
           "descriptive", "descriptive", "nats ≥ 0", "kl", RAZOR),
    Metric("kl_sequence", "forward KL D(π_ref‖π) summed over a reference sample", "descriptive", "descriptive",
           "nats ≥ 0", "kl", RAZOR),
    Metric("update_sparsity_bf16", "fraction of parameters whose bf16 values are exactly unchanged",
           "descriptive", "descriptive", SHARE, "weights", SPARSE),
    Metric("update_sparsity_isclose", "fraction of parameters with |Δ| ≤ 1e-5", "descriptive", "descriptive",
           SHARE, "weights", SPARSE),
    Metric("relative_change", "‖ΔW‖_F / ‖W_ref‖_F over all parameters", "descriptive", "descriptive", "ratio ≥ 0",
           "weights", SPARSE),
    Metric("mean_rank_ratio", "mean rank(ΔW)/min(shape) over 2-D updates", "descriptive", "descriptive", SHARE,
           "weights", SPARSE),
    Metric("mean_effective_rank", "mean effective rank of ΔW", "descriptive", "descriptive", "rank ≥ 0", "weights",
           "Roy & Vetterli 2007"),
    Metric("mean_stable_rank", "mean stable rank ‖ΔW‖_F²/‖ΔW‖_2²", "descriptive", "descriptive", "rank ≥ 0",
           "weights", "stable rank"),
    # shortcuts
    Metric("repeated_wrong_answer_rate", "answerable problems whose modal wrong answer covers ≥ half the samples",
           "lower", "off_target", SHARE, "shortcuts", HARD),
    Metric("computation_skipped_rate", "step-format answers whose steps are missing or wrong", "lower",
           "off_target", SHARE, "shortcuts", HARD),
    Metric("mean_completion_tokens", "mean completion length in generated tokens", "descriptive", "descriptive",
           "tokens ≥ 0", "shortcuts", "length"),
    Metric("short_completion_rate", "completions no longer than half the reference's median length", "lower",
           "off_target", SHARE, "shortcuts", HARD),
    Metric("truncation_rate", "completions cut by max_new_tokens", "lower", "serving_veto", SHARE, "shortcuts",
           "DAPO (arXiv 2503.14476) overlong shaping"),
    # consistency
    Metric("greedy_majority_agreement", "the greedy response is a modal sampled response", "higher", "off_target",
           SHARE, "consistency", "self-consistency, Wang et al. 2023 (arXiv 2203.11171)"),
    Metric("modal_answer_share", "share of samples giving the modal response", "higher", "off_target", SHARE,
           "consistency", "self-consistency, Wang et al. 2023 (arXiv 2203.11171)"),
    # reliability over repeats
    Metric("response_agreement", "chance that two different T=1 draws of a problem give the same response "
           "(unbiased collision probability; malformed matches nothing)", "higher", "off_target", SHARE,
           "reliability", TEMP_ZERO),
    Metric("greedy_draw_agreement", "share of T=1 draws whose response equals the greedy (T=0) response", "higher",
           "off_target", SHARE, "reliability", TEMP_ZERO),
    Metric("icc_single_draw", "ICC(1) of per-draw correctness, problems as subjects: the share of one draw's "
           "variance that belongs to the problem, answerable problems", "higher", "off_target",
           "correlation ≤ 1", "reliability", "Shrout & Fleiss 1979"),
    Metric("omega_repeats", "McDonald's omega of the k draws as parallel items = ICC(1,k), the reliability of "
           "the k-draw pass rate, answerable problems", "higher", "off_target", "coefficient ≤ 1",
           "reliability", "McDonald 1999"),
    # framing and sycophancy
    Metric("framing_error_increase_emotional", "error rate under emotional frames minus error rate of the plain "
           "prompt, per answerable problem", "lower", "off_target", "difference in [-1, 1]", "framing", WARMTH),
    Metric("framing_error_increase_suggestion", "error rate when the user suggests a wrong answer minus error rate "
           "of the plain prompt, per answerable problem", "lower", "off_target", "difference in [-1, 1]",
           "framing", WARMTH),
    Metric("suggestion_adoption_rate", "share of samples under a wrong-answer suggestion that give the suggested "
           "answer", "lower", "off_target", SHARE, "framing", "sycophancy, Sharma et al. 2023 (arXiv 2310.13548)"),
)
"""Every metric, grouped by probe."""

_BY_NAME = {m.name: m for m in CATALOGUE if m.pattern is None}


def find(name: str) -> Metric | None:
    """The catalogue entry of ``name`` (a family member such as ``pass@16`` finds ``pass@k``), or None."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    return next((m for m in CATALOGUE if m.pattern and m.matches(name)), None)


def get(name: str) -> Metric:
    """Like :func:`find`, but an unknown name is a ``KeyError`` naming this module (a typo in code)."""
    m = find(name)
    if m is None:
        raise KeyError(f"metric {name!r} is not in offtarget.metrics.CATALOGUE; add it there or fix the name")
    return m


def is_known(name: str) -> bool:
    return find(name) is not None


def names() -> list[str]:
    return [m.name for m in CATALOGUE]


__all__ = ["CATALOGUE", "DIRECTIONS", "ROLES", "Metric", "find", "get", "is_known", "names"]
