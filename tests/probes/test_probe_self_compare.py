"""Every metric of the stored-generation probes: a checkpoint against itself gives diff 0 (or no
diff) and no flag, on the arithmetic task and on a JSONL task with other formats."""

from __future__ import annotations

import numpy as np
import pytest

from offtarget.audit.compare import finalize
from offtarget.probes import abstention, calibration, consistency, diversity, formats, ood, shortcuts
from offtarget.tasks import Problem
from offtarget.tasks.jsonl import JsonlTask

PROBES = [calibration, abstention, diversity, formats, ood, shortcuts, consistency]


def _arithmetic(kit):
    problems = ([kit.answerable(a, 17, slice_=f"carries={a % 2}") for a in range(20, 32)]
                + [kit.answerable(a, 60, split="ood", slice_="quadrant") for a in range(60, 70)]
                + [kit.unanswerable(i) for i in range(5)] + [kit.unanswerable(i, split="ood") for i in range(5)])
    texts, greedy = [], []
    for i, p in enumerate(problems):
        if p.should_abstain:
            texts.append(["?", "?", f"d {i}<c>3", "x"])
            greedy.append("?")
            continue
        right, wrong = p.answer, str(int(p.answer) + 1)
        texts.append([f"d {right}<c>8", f"r {right[::-1]}<c>6", kit.TASK.render(p, "steps") + "<c>4",
                      f"d {wrong}<c>{i % 10}" if i % 3 else "?"])
        greedy.append(f"d {right if i % 4 else wrong}")
    return problems, texts, greedy


def _jsonl(kit):
    items = [Problem(f"q{i}", f"what is {i} + 1", str(i + 1), "test" if i < 12 else "ood") for i in range(20)]
    items += [Problem(f"u{i}", "what is x + 1", None, "test", "unanswerable", True) for i in range(5)]
    texts, greedy = [], []
    for i, p in enumerate(items):
        if p.should_abstain:
            texts.append(["i do not know", "answer: 3", "i do not know", "hm"])
            greedy.append("i do not know")
        else:
            texts.append([f"answer: {p.answer}", f"it is {p.answer}", f"answer: {i}", f"it is {i + 2}"])
            greedy.append(f"answer: {p.answer}")
    return JsonlTask("toy", items), items, texts, greedy


def _check(ctx):
    results = [m.run(ctx) for m in PROBES]
    finalize(results, list(ctx.evidences), ctx.reference, alpha=0.05)
    n = 0
    for r in results:
        assert r.error is None
        assert r.metrics, f"{r.probe} reported nothing"
        for c in r.comparisons:
            n += 1
            assert c.diff in (0.0, None), (r.probe, c.metric, c.group, c.diff)
            assert c.flag == "none", (r.probe, c.metric, c.group)
    return n


def test_arithmetic_self_comparison_flags_nothing(kit):
    problems, texts, greedy = _arithmetic(kit)
    a = kit.evidence("a", problems, texts, greedy=greedy)
    b = kit.evidence("b", problems, texts, greedy=greedy)
    assert _check(kit.context(a, b)) > 100


@pytest.fixture
def jsonl_ctx(kit):
    task, problems, texts, greedy = _jsonl(kit)
    evs = []
    for name in "ab":
        ev = kit.evidence(name, problems, texts, greedy=greedy)
        # re-verify with the JSONL task: the helper verifies with the arithmetic grammar
        ev = type(ev)(name, ev.path, name, problems, ev.samples,
                      [[task.verify(p, s.text) for s in row] for p, row in zip(problems, ev.samples)],
                      ev.greedy, [task.verify(p, s.text) for p, s in zip(problems, ev.greedy)])
        evs.append(ev)
    ctx = kit.context(*evs)
    ctx.task = task
    return ctx


def test_jsonl_task_self_comparison_flags_nothing(jsonl_ctx):
    assert _check(jsonl_ctx) > 50


def test_jsonl_task_likelihood_span_found_without_a_task_parser(kit, jsonl_ctx):
    res = calibration.run(jsonl_ctx)
    # every non-abstained, parsed answer is found in its text: coverage = answers / non-abstained
    ev = jsonl_ctx.evidences["a"]
    answered = sum(v.answer is not None for row in ev.verdicts for v in row)
    non_abstained = sum(not v.abstained for row in ev.verdicts for v in row)
    assert kit.value(res, "confidence_coverage_likelihood", "test", "a") is not None
    assert (ev.arrays["likelihood_confidence"] == ev.arrays["likelihood_confidence"]).sum() == answered
    assert answered < non_abstained


def test_evaluate_computes_each_checkpoints_replicates_once(kit):
    """bootstrap() and paired_bootstrap() share one set of replicates per checkpoint and group."""
    import numpy as np

    from offtarget.probes.base import MetricSpec, evaluate

    problems = [kit.answerable(a, 11) for a in range(20, 30)]
    texts = [["d 1<c>5"] * 2 for _ in problems]
    evs = {n: kit.evidence(n, problems, texts) for n in ("a", "b", "c")}
    calls = []

    def stat(x):
        calls.append(x.shape[0])
        return x.reshape(x.shape[0], -1).mean(axis=1)

    spec = MetricSpec("m", "mean length", True, statistic=stat, vectorized=True,
                      extract=lambda ev: (np.asarray(ev.lengths),))
    metrics, comparisons = evaluate("t", [spec], evs, "a", n_resamples=50, seed=1)
    groups = {m.group for m in metrics}
    assert len(metrics) == 3 * len(groups) and len(comparisons) == 2 * len(groups)
    resample_calls = [c for c in calls if c == 50]  # point values are batches of one
    assert len(resample_calls) == 3 * len(groups)  # once per checkpoint and group, not 3 + 2 x 2


def _copy_tokenizer(src: str, dst, change: bool) -> str:
    import json
    import shutil
    from pathlib import Path

    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(src) / name, dst / name)
    if change:
        tok = json.loads((dst / "tokenizer.json").read_text())
        vocab = tok["model"]["vocab"]
        first, second = sorted(vocab, key=vocab.get)[5:7]
        vocab[first], vocab[second] = vocab[second], vocab[first]  # same size, different ids
        (dst / "tokenizer.json").write_text(json.dumps(tok))
    else:  # only the chat template differs: the vocabulary is the same
        cfg = json.loads((dst / "tokenizer_config.json").read_text())
        cfg["chat_template"] = "{{ messages[0]['content'] }}"
        (dst / "tokenizer_config.json").write_text(json.dumps(cfg))
    return str(dst)


@pytest.mark.parametrize("change", [True, False])
def test_token_level_metrics_compared_only_with_the_same_tokenizer(kit, tmp_path, change):
    problems, texts, greedy = _arithmetic(kit)
    other = _copy_tokenizer(kit.TOKENIZER_DIR, tmp_path / "tok", change)
    a = kit.evidence("a", problems, texts, greedy=greedy)
    b = kit.evidence("b", problems, texts, greedy=greedy, path=other)
    res = diversity.run(kit.context(a, b))
    token = [c for c in res.comparisons if c.metric in ("mean_token_entropy", "distinct_2", "distinct_3")]
    assert token
    if change:
        assert all(c.test == "not_compared" and c.p_value is None and c.flag == "none" for c in token)
        assert all("different tokenizers" in c.reason for c in token)
        assert any("not compared" in n and "different tokenizers" in n for n in res.notes)
    else:
        assert all(c.test.startswith("permutation") and c.p_value == 1.0 for c in token)
    answers = [c for c in res.comparisons if c.metric == "distinct_answers"]
    assert answers and all(c.test != "not_compared" for c in answers)  # not token-level


def test_too_small_groups_are_not_tested_and_leave_the_holm_family(kit):
    """Per-problem metric on 5 problems: even all five moving one way gives p = 2/32 > 0.05."""
    from offtarget.audit.compare import apply_holm
    from offtarget.probes.base import MetricSpec, ProbeResult, evaluate

    problems = [kit.answerable(a, 11, slice_="tiny" if a < 25 else "big") for a in range(20, 40)]
    texts = [["d 1<c>5"] * 4 for _ in problems]
    evs = {n: kit.evidence(n, problems, texts) for n in ("a", "b")}
    shift = {"a": 0.0, "b": 1.0}
    spec = MetricSpec("m", "a per-problem value", True,
                      extract=lambda ev: (np.arange(len(ev.problems), dtype=float) % 3 + shift[ev.name],))
    _, comparisons = evaluate("t", [spec], evs, "a", n_resamples=200)
    result = ProbeResult("t", "", "", comparisons=comparisons)
    apply_holm([result], alpha=0.05)
    tiny = next(c for c in comparisons if c.group == "test/tiny")
    big = next(c for c in comparisons if c.group == "test/big")
    assert tiny.n == 5 and tiny.p_value is None and tiny.flag == "none"
    assert tiny.reason.startswith("too small to test") and "0.0625" in tiny.reason
    assert big.n == 15 and big.p_value is not None and big.flag == "gain" and big.mde is not None
    assert tiny.p_adjusted is None


def test_sample_level_and_problem_level_units(kit):
    from offtarget.probes.base import MetricSpec, permutation_unit

    spec = MetricSpec("m", "", True)
    per_sample = [np.zeros((4, 8))]
    assert permutation_unit(spec, per_sample, per_sample, (8, 8)) == "sample"
    assert permutation_unit(spec, [np.zeros(4)], [np.zeros(4)], (8, 8)) == "problem"
    assert permutation_unit(spec, [np.zeros((4, 3))], [np.zeros((4, 3))], (8, 8)) == "problem"  # e.g. per format
    assert permutation_unit(MetricSpec("m", "", True, unit="problem"), per_sample, per_sample, (8, 8)) == "problem"
