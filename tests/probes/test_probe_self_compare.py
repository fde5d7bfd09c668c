"""Every metric of the stored-generation probes: a checkpoint against itself gives diff 0 (or no
diff) and no flag, on the arithmetic task and on a JSONL task with other formats."""

from __future__ import annotations

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
