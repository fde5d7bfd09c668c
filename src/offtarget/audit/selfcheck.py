"""The audit checks itself: its false-alarm rate on the user's own data, and what it could detect.

A report that says "no significant difference" is only as good as the test behind it, so every
audit measures two things on the samples it already has (no extra generation):

- **False alarms, split-half.** The samples of each problem of one checkpoint are split at
  random into two halves, and half A is audited against half B with the same probes, the
  same permutation tests and the same Holm correction as the real comparison. Both halves
  come from one model, so every flag is a false alarm. Reported per checkpoint: tests run,
  the share with unadjusted p < alpha (nominal: alpha) and the Holm flags (nominal: at least
  one in a fraction alpha of such audits). A flag needs a Holm rejection *and* a paired
  interval excluding zero; the null audits count every Holm rejection as a flag and compute no
  intervals (``bootstrap=0``): the count is never below the flags the full rule would give, and
  the bootstrap, a third of their cost, is not paid. The tests of one audit share data (nested groups,
  related metrics), so the unadjusted share scatters around alpha from audit to audit (2.9–11%
  over 16 split-half audits of the lab model, 4.8% of 3,345 tests pooled); the Holm flag count
  is the guarantee.
  Probes that load models again (kl, weights), probes whose metrics are all descriptive
  (never tested) and greedy decoding (one answer per problem, which cannot be split) are left
  out; each half holds ⌊samples / 2⌋ samples, so pass@k stops at that k. Per-sample arrays the
  probes cached on the evidence (likelihood confidence, answered, ...) are split with the
  samples, not computed again.
- **Minimum detectable effect.** For each tuned checkpoint and group, the |diff| in accuracy
  (the target metric) that would be flagged with 80% power at the report's strictest Holm
  level, from the paired bootstrap's standard error
  (:func:`offtarget.stats.minimum_detectable_effect`); every comparison row carries its own
  ``mde`` too. A "no difference" on a group whose MDE is 0.15 rules out only changes of that size.

Written to ``results.json`` as ``self_check`` and shown in every report.

    >>> check = self_check(cfg, task, evidences, select(["accuracy"]), results)
    >>> check["summary"]
    'self-check: split-half null audits of 2 checkpoints: 0 flags in 24 tests ...'
"""

from __future__ import annotations

import dataclasses

import numpy as np

from offtarget.audit.compare import TOO_SMALL, apply_holm
from offtarget.errors import OfftargetError
from offtarget.probes.base import ProbeResult
from offtarget.probes.context import AuditContext

COUNTING = "holm-rejections"
"""How the null audits count flags (part of the self-check's cache key: a result counted another
way is not read back)."""

MDE_METRIC = "accuracy"
"""Metric whose minimum detectable effect the summary quotes per group (the target metric)."""


def split_half(ev, seed: int = 0):
    """Two evidences of one checkpoint: a random half of each problem's samples each (no greedy)."""
    n = ev.n_samples
    h = n // 2
    rng = np.random.default_rng([seed, 0x5917])
    picks = [rng.permutation(n) for _ in ev.problems]
    keep = {k: a for k, a in ev.arrays.items() if a.ndim == 2 and a.shape == (len(ev.problems), n)}
    halves = []
    for part, name in ((slice(0, h), f"{ev.name}:A"), (slice(h, 2 * h), f"{ev.name}:B")):
        idx = [p[part] for p in picks]
        arrays = {k: np.take_along_axis(a, np.stack(idx), axis=1) for k, a in keep.items()}
        halves.append(dataclasses.replace(
            ev, name=name, samples=[[row[j] for j in i] for row, i in zip(ev.samples, idx)],
            verdicts=[[row[j] for j in i] for row, i in zip(ev.verdicts, idx)],
            greedy=None, greedy_verdicts=None, arrays=arrays))
    return halves


def only_descriptive(probe: str) -> bool:
    """Every metric the catalogue lists for ``probe`` is descriptive: it has no test to count."""
    from offtarget.metrics import catalogue

    directions = {m.direction for m in catalogue() if m.probe == probe}
    return directions == {"descriptive"}


def null_audit(cfg, task, ev, probes, seed: int = 0) -> dict:
    """Audit half A of ``ev``'s samples against half B; count what gets flagged."""
    a, b = split_half(ev, seed)
    sub_cfg = dataclasses.replace(cfg, models={a.name: cfg.models.get(ev.name, ev.path),
                                               b.name: cfg.models.get(ev.name, ev.path)}, reference=a.name,
                                  bootstrap=0)  # point values only: a Holm rejection counts as a flag
    ctx = AuditContext.from_config(sub_cfg, task, {a.name: a, b.name: b})
    results: list[ProbeResult] = []
    skipped = []
    for info in probes:
        if info.needs_models or only_descriptive(info.name):
            skipped.append(info.name)
            continue
        try:
            results.append(info.run(ctx))
        except OfftargetError:
            skipped.append(info.name)
    apply_holm(results, cfg.alpha)
    rows = [c for r in results for c in r.comparisons if c.higher_is_better is not None]
    tested = [c for c in rows if c.p_value is not None]
    flagged = [c for c in rows if c.p_adjusted is not None and c.p_adjusted < cfg.alpha]
    return {
        "checkpoint": ev.name, "samples_per_half": a.n_samples, "tests": len(tested),
        "p_below_alpha": sum(c.p_value < cfg.alpha for c in tested),
        "too_small": sum(bool(c.reason and c.reason.startswith(TOO_SMALL)) for c in rows),
        "flags": len(flagged),
        "flagged": [{"probe": c.probe, "metric": c.metric, "group": c.group, "diff": c.diff,
                     "p_adjusted": c.p_adjusted} for c in flagged[:10]],
        "skipped_probes": skipped,
    }


def detectable(results: list[ProbeResult], reference: str, metric: str = MDE_METRIC) -> list[dict]:
    """Per tuned checkpoint and group: the minimum detectable effect on ``metric``."""
    return [{"checkpoint": c.checkpoint, "group": c.group, "n": c.n, "mde": c.mde, "diff": c.diff,
             "flag": c.flag, "reason": c.reason}
            for r in results for c in r.comparisons if c.metric == metric and c.checkpoint != reference]


def self_check(cfg, task, evidences: dict, probes, results: list[ProbeResult], seed: int | None = None) -> dict:
    """The ``self_check`` object of ``results.json`` (call after :func:`offtarget.audit.compare.finalize`)."""
    seed = cfg.seed if seed is None else seed
    rows = [c for r in results for c in r.comparisons if c.higher_is_better is not None]
    out: dict = {
        "alpha": cfg.alpha,
        "tests": sum(c.p_value is not None for c in rows),
        "too_small": sum(bool(c.reason and c.reason.startswith(TOO_SMALL)) for c in rows),
        "not_compared": sum(c.test == "not_compared" for c in rows),
        "test": "paired permutation test within problems (McNemar for greedy), Holm across the report",
        "mde_metric": MDE_METRIC,
        "mde": detectable(results, cfg.reference_name),
    }
    audits, why_not = [], None
    if min((ev.n_samples for ev in evidences.values()), default=0) < 2:
        why_not = "fewer than 2 samples per problem: the samples cannot be split in halves"
    else:
        for ev in evidences.values():
            audits.append(null_audit(cfg, task, ev, probes, seed))
    tests = sum(a["tests"] for a in audits)
    below = sum(a["p_below_alpha"] for a in audits)
    out["false_alarm"] = {
        "method": ("split-half null audits: each checkpoint's samples of every problem split at random in two "
                   "halves, half A audited against half B with the same tests and Holm correction"),
        "audits": audits,
        "tests": tests,
        "p_below_alpha": below,
        "per_test_rate": below / tests if tests else None,
        "flags": sum(a["flags"] for a in audits),
        "audits_with_flags": sum(a["flags"] > 0 for a in audits),
        "reason": why_not,
    }
    out["summary"] = summary(out)
    return out


def summary(check: dict) -> str:
    """One line for the terminal and the top of the report's self-check section."""
    fa, alpha = check["false_alarm"], check["alpha"]
    if fa["reason"]:
        head = f"self-check: false-alarm rate not measured ({fa['reason']})"
    else:
        rate = "n/a" if fa["per_test_rate"] is None else f"{fa['per_test_rate']:.1%}"
        head = (f"self-check: split-half null audits of {len(fa['audits'])} checkpoint(s): {fa['flags']} flag(s) "
                f"in {fa['tests']} tests (nominal: flags in at most {alpha:.0%} of such audits); "
                f"{rate} with unadjusted p < {alpha:g} (nominal {alpha:.0%}; the tests share data, so this share "
                "varies from audit to audit)")
    mdes = [m for m in check["mde"] if m["mde"] is not None and "/" not in m["group"]]
    if mdes:
        head += "; smallest " + check["mde_metric"] + " change detectable at 80% power: " + ", ".join(
            f"{m['group']} {m['mde']:.3f}" + (f" ({m['checkpoint']})" if len({x['checkpoint'] for x in mdes}) > 1
                                               else "") for m in mdes)
    if check["too_small"]:
        head += f"; {check['too_small']} comparison(s) too small to test"
    if check["not_compared"]:
        head += f"; {check['not_compared']} token-level comparison(s) not made (tokenizer differs or is unknown)"
    return head
