"""Calibration probe: hand-worked ECE/Brier/AUROC/coverage, its per-bin-sum statistics against the
catalogue's definitions (offtarget.metrics.calibration, tested against references in
tests/metrics), and the answer-span likelihood confidence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from offtarget.metrics import calibration as definition
from offtarget.probes import calibration as cal

PAIRS_Q = [.85, .85, .85, .65, .25, .95, .65]
PAIRS_Y = [1, 0, 1, 1, 0, 1, 0]


def _problems(kit):
    return [kit.answerable(a, b) for a, b in [(12, 30), (21, 4), (33, 33), (40, 17), (5, 6)]]


def _texts(problems):
    """The 7 (confidence, correct) pairs above, 1 answer without confidence, 1 malformed, 1 abstention."""
    s = [p.answer for p in problems]
    w = [str(int(x) + 1) for x in s]
    return [
        [f"d {s[0]}<c>8", f"d {w[0]}<c>8"],
        [f"d {s[1]}<c>8", f"d {s[1]}<c>6"],
        [f"d {w[2]}<c>2", "?"],
        [f"d {s[3]}", f"d {s[3]}<c>9"],
        ["xx", f"d {w[4]}<c>6"],
    ]


def _pair(kit, **cfg):
    problems = _problems(kit)
    base = kit.evidence("base", problems, [[f"d {p.answer}"] * 2 for p in problems])
    tuned = kit.evidence("tuned", problems, _texts(problems))
    return kit.context(base, tuned, **cfg)


@pytest.fixture(scope="module")
def result(kit):
    return cal.run(_pair(kit))


def test_hand_worked_verbalized_metrics(kit, result):
    g, t = "test", "tuned"
    # 10 equal-width bins: bin 8 |2 - 2.55|, bin 6 |1 - 1.3|, bin 2 |0 - .25|, bin 9 |1 - .95|
    assert kit.value(result, "ece_verbalized", g, t) == pytest.approx(1.15 / 7)
    # .15² + .85² + .15² + .35² + .25² + .05² + .65²
    assert kit.value(result, "brier_verbalized", g, t) == pytest.approx(1.3775 / 7)
    # positives .85 .85 .65 .95 vs negatives .85 .25 .65: 2.5 + 2.5 + 1.5 + 3 of 12 pairs
    assert kit.value(result, "auroc_verbalized", g, t) == pytest.approx(9.5 / 12)
    assert kit.value(result, "mean_confidence_verbalized", g, t) == pytest.approx(5.05 / 7)
    assert kit.value(result, "overconfidence_verbalized", g, t) == pytest.approx(5.05 / 7 - 4 / 7)
    # 9 non-abstained samples, 7 with a parseable confidence
    assert kit.value(result, "confidence_coverage_verbalized", g, t) == pytest.approx(7 / 9)
    # bins: .85 ×3 (acc 2/3), .65 ×2 (acc 1/2), .25 (0), .95 (1); overall accuracy 4/7
    rel = (3 * (.85 - 2 / 3) ** 2 + 2 * (.65 - .5) ** 2 + .25 ** 2 + .05 ** 2) / 7
    res = (3 * (2 / 3 - 4 / 7) ** 2 + 2 * (.5 - 4 / 7) ** 2 + (4 / 7) ** 2 + (3 / 7) ** 2) / 7
    assert kit.value(result, "reliability_verbalized", g, t) == pytest.approx(rel)
    assert kit.value(result, "resolution_verbalized", g, t) == pytest.approx(res)


def test_missing_confidence_is_undefined_not_zero(kit, result):
    assert kit.value(result, "confidence_coverage_verbalized", "test", "base") == 0.0
    ece_base = kit.row(result, "ece_verbalized", "test", "base")
    assert ece_base.value is None and "undefined" in ece_base.reason
    assert any("base: no verbalized confidence" in n for n in result.notes)
    comp = next(c for c in result.comparisons if c.metric == "ece_verbalized" and c.group == "test")
    assert comp.diff is None


def test_directions_and_plots(result):
    hib = {m.metric: m.higher_is_better for m in result.metrics}
    assert hib["ece_verbalized"] is False and hib["brier_likelihood"] is False
    assert hib["auroc_verbalized"] is True and hib["resolution_likelihood"] is None
    assert hib["mean_confidence_verbalized"] is None and hib["overconfidence_likelihood"] is None
    bins = result.plots["reliability"]["test"]["tuned"]
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 7
    assert bins[8] == {"low": 0.8, "high": 0.9, "count": 3, "mean_confidence": pytest.approx(0.85),
                       "accuracy": pytest.approx(2 / 3)}
    assert "base" not in result.plots["reliability"]["test"]
    assert set(result.plots["reliability_likelihood"]["test"]) == {"base", "tuned"}


def test_likelihood_confidence_is_the_answer_span_probability(kit, result):
    problems = _problems(kit)
    q = cal.likelihood_confidence(kit.evidence("t", problems, _texts(problems)), kit.TASK,
                                  cal.load_tokenizer(kit.TOKENIZER_DIR))
    # token k has log-prob -0.01 (k + 1); "d NN<c>8" spells the answer with tokens 2 and 3
    two_digit = math.exp(-(0.03 + 0.04))
    assert q[0, 0] == pytest.approx(two_digit) and q[0, 1] == pytest.approx(two_digit)
    assert np.isnan(q[2, 1])  # abstained
    assert np.isnan(q[4, 0])  # malformed
    assert q[3, 0] == pytest.approx(two_digit)  # no stated confidence, still a likelihood
    assert kit.value(result, "confidence_coverage_likelihood", "test", "tuned") == pytest.approx(8 / 9)


@pytest.mark.parametrize("text, a, b, span", [
    ("s 15 08 = 85<c>7", 27, 58, (10, 12)),   # steps: the final answer, not the columns
    ("r 58", 27, 58, (2, 4)),                 # reversed digits as written
    ("  d 123", 100, 23, (4, 7)),             # leading whitespace kept in the offsets
])
def test_span_for_each_format(kit, text, a, b, span):
    p = kit.answerable(a, b)
    assert cal.answer_span(kit.TASK, p, text, kit.TASK.verify(p, text)) == span
    s = kit.sample(text)
    start, end = cal.token_span(kit.TOK, s.token_ids, text, span)
    assert kit.TOK.decode(s.token_ids[start:end]) == text[span[0]:span[1]]


def test_span_fallback_for_tasks_without_a_parser(kit):
    p = kit.answerable(27, 58)
    text = "the answer is 85"
    v = kit.TASK.verify(p, "d 85")
    assert cal.answer_span(object(), p, text, v) == (14, 16)


class _PieceTokenizer:
    """Multi-character tokens, to check the span search is not tied to one char per token."""

    pieces = ("s 1", "5 0", "8 =", " 8", "5", "<c>7", "</s>")

    def decode(self, ids, skip_special_tokens=True):
        return "".join(self.pieces[i] for i in ids if not (skip_special_tokens and self.pieces[i] == "</s>"))

    def batch_decode(self, rows, skip_special_tokens=False):
        return [self.decode(r, skip_special_tokens) for r in rows]


def test_token_span_with_multichar_tokens():
    text = "s 15 08 = 85<c>7"
    # " 8" covers chars 9-10 and "5" char 11: the answer "85" at (10, 12) needs tokens 3 and 4
    assert cal.token_span(_PieceTokenizer(), [0, 1, 2, 3, 4, 5, 6], text, (10, 12)) == (3, 5)
    assert cal.token_span(_PieceTokenizer(), [0, 1, 2], text, (10, 12)) is None  # span never generated


def test_probe_statistics_are_the_catalogue_definitions_on_every_resample():
    """What the probe bootstraps (per-bin sums with equal-width bins, the binned functions with
    equal-mass ones) equals the catalogue's definition computed on each resample alone."""
    rng = np.random.default_rng(0)
    for strategy in ("uniform", "quantile"):
        for n_bins in (10, 15):
            q = rng.choice(np.linspace(0.05, 0.95, 10), size=(3, 8, 4))
            y = (rng.random((3, 8, 4)) < q).astype(float)
            q[rng.random(q.shape) < 0.2] = np.nan
            by_name = {s.name.removesuffix("_verbalized"): s for s in cal.specs("verbalized", n_bins, strategy)}
            for name, fn, binned in (("ece", definition.ece, True), ("reliability", definition.murphy_reliability, True),
                                     ("resolution", definition.murphy_resolution, True),
                                     ("brier", definition.brier, False), ("auroc", definition.auroc, False)):
                batched = by_name[name].statistic(q, y)
                for r in range(3):
                    alone = fn(q[r][None], y[r][None], *((n_bins, strategy) if binned else ()))[0]
                    assert batched[r] == pytest.approx(alone), (name, strategy, n_bins)


def test_auroc_undefined_with_one_class():
    q = np.array([[[0.9, 0.8, np.nan]]])
    assert np.isnan(cal.auroc(q, np.ones_like(q))[0])


def test_equal_mass_binning_is_threaded_from_the_config(kit):
    res = cal.run(_pair(kit, calibration_bins=15, calibration_binning="quantile"))
    assert kit.value(res, "ece_verbalized", "test", "tuned") == pytest.approx(
        definition.ece(np.array([PAIRS_Q]), np.array([PAIRS_Y], dtype=float), 15, "quantile")[0])
    assert "15 equal-mass bins" in cal.specs("verbalized", 15, "quantile")[0].description
    assert len(res.plots["reliability"]["test"]["tuned"]) == 15
    assert res.extras["binning"] == "quantile"


def test_answers_on_unanswerable_items_count_as_wrong(kit):
    problems = _problems(kit) + [kit.unanswerable(i) for i in range(5)]
    texts = [[f"d {p.answer}<c>9"] for p in problems[:5]] + [["d 12<c>9"], ["?"], ["?"], ["?"], ["?"]]
    res = cal.run(kit.context(kit.evidence("t", problems, texts), kit.evidence("u", problems, texts)))
    # six answers at q = .95, five right: |5 - 5.7| / 6
    assert kit.value(res, "ece_verbalized", "test", "t") == pytest.approx(0.7 / 6)
    # one class only on the unanswerable slice: AUROC undefined for every checkpoint, so omitted
    assert kit.value(res, "ece_verbalized", "test/unanswerable", "t") == pytest.approx(0.95)
    assert kit.row(res, "auroc_verbalized", "test/unanswerable", "t") is None
