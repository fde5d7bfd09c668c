"""The audit's self-check on hand-built evidence: split halves, the null audit's counts, the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from offtarget.audit.config import AuditConfig
from offtarget.audit.evidence import Evidence
from offtarget.audit.selfcheck import self_check, split_half
from offtarget.probes import select
from offtarget.store import StoredSample
from offtarget.tasks import ArithmeticTask, Problem

TASK = ArithmeticTask()
SFT = str(Path(__file__).resolve().parents[2] / "models" / "lab" / "sft")


def _evidence(name: str, n_problems: int = 30, n_samples: int = 8, seed: int = 0) -> Evidence:
    rng = np.random.default_rng(seed)
    problems = [Problem(f"test/all/{a}+7", f"{a}+7=", str(a + 7), "test", "all", metadata={"a": a, "b": 7})
                for a in range(10, 10 + n_problems)]
    samples, verdicts = [], []
    for p in problems:
        rate = rng.uniform(0.1, 0.9)
        row = [StoredSample(f"d {p.answer if rng.random() < rate else int(p.answer) + 1}", [5, 6, 2],
                            [-0.1] * 3, [0.5] * 3, "stop", problem_id=p.id, sample_index=j) for j in range(n_samples)]
        samples.append(row)
        verdicts.append([TASK.verify(p, s.text) for s in row])
    return Evidence(name, SFT, name, problems, samples, verdicts)


def test_split_half_partitions_each_problems_samples():
    ev = _evidence("a", n_samples=9)
    a, b = split_half(ev, seed=1)
    assert (a.name, b.name) == ("a:A", "a:B") and a.n_samples == b.n_samples == 4
    for row, ra, rb in zip(ev.samples, a.samples, b.samples):
        ids_a, ids_b = {s.sample_index for s in ra}, {s.sample_index for s in rb}
        assert not ids_a & ids_b and ids_a | ids_b <= {s.sample_index for s in row}
    assert a.greedy_verdicts is None
    assert a.correct.sum() + b.correct.sum() <= ev.correct.sum()


def test_self_check_counts_and_summary():
    evs = {"a": _evidence("a"), "b": _evidence("b", seed=1)}
    cfg = AuditConfig(models={"a": SFT, "b": SFT}, bootstrap=200)
    check = self_check(cfg, TASK, evs, select(["accuracy"]), [])
    fa = check["false_alarm"]
    assert [a["checkpoint"] for a in fa["audits"]] == ["a", "b"]
    assert fa["tests"] == sum(a["tests"] for a in fa["audits"]) > 0
    assert fa["per_test_rate"] == fa["p_below_alpha"] / fa["tests"]
    assert fa["flags"] == 0  # halves of one model's samples: nothing to flag
    assert check["summary"].startswith("self-check: split-half null audits of 2 checkpoint(s)")


def test_self_check_needs_two_samples():
    evs = {"a": _evidence("a", n_samples=1), "b": _evidence("b", n_samples=1)}
    cfg = AuditConfig(models={"a": SFT, "b": SFT})
    check = self_check(cfg, TASK, evs, select(["accuracy"]), [])
    assert check["false_alarm"]["audits"] == [] and "fewer than 2 samples" in check["summary"]


def test_null_audit_skips_intervals_not_tests():
    """The null audit's tests and p-values are those of the same audit with bootstrap intervals;
    it counts Holm rejections (the flags' first condition) without computing the intervals."""
    import dataclasses

    from offtarget.audit.compare import apply_holm
    from offtarget.audit.selfcheck import null_audit
    from offtarget.probes.context import AuditContext

    ev = _evidence("a", n_samples=8, seed=2)
    cfg = AuditConfig(models={"a": SFT}, bootstrap=200)
    probes = select(["accuracy", "consistency"])
    got = null_audit(cfg, TASK, ev, probes, seed=4)
    a, b = split_half(ev, seed=4)
    full_cfg = dataclasses.replace(cfg, models={a.name: SFT, b.name: SFT}, reference=a.name)
    ctx = AuditContext.from_config(full_cfg, TASK, {a.name: a, b.name: b})
    results = [info.run(ctx) for info in probes]
    apply_holm(results, cfg.alpha)
    tested = [c for r in results for c in r.comparisons if c.higher_is_better is not None and c.p_value is not None]
    assert all(c.low is not None for c in tested)  # the full audit has its intervals
    assert got["tests"] == len(tested) > 0
    assert got["p_below_alpha"] == sum(c.p_value < cfg.alpha for c in tested)
    assert got["flags"] == sum(c.p_adjusted < cfg.alpha for c in tested)
