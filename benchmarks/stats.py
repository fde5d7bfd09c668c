"""The statistics against the sampling they judge, and against their own previous implementation.

One audit at the demo's size (200 problems per split, 32 samples, every probe, default
bootstrap) of the demo's checkpoints when ``make demo`` has built them (``runs/demo``), else
of the lab's base and SFT models, into a fresh store. Two figures:

- **probe + self-check / sampling**: ``costs`` of that audit, the seconds of every probe, the Holm
  refinement of their open tests and the self-check over the seconds the sampling stage took
  (goal ≤ 0.25);
- **the same on a real model**: the audit ``make demo-real`` runs (SmolLM2-135M-Instruct against
  the three committed LoRA GRPO adapters in ``models/real-lora``, same suite, sizes and probes) into a
  fresh store (goal ≤ 0.25); skipped, with the command to run, when the real model has not been fetched;
- **new / old statistics**: on the same stored generations, the calibration probe's statistics
  (every metric × group × checkpoint: bootstrap intervals and permutation p-values) computed by
  :func:`offtarget.probes.base.evaluate` as it is (with the Holm-aware refinement of the probe's
  own comparisons as their family) and with the previous implementation
  (:mod:`benchmarks.legacy_stats`: per-relabelling recomputation and re-ranking), time over
  time (goal ≥ 20×). The old path runs once per round (it takes minutes); the p-values of both
  are compared in ``measurements.p_agreement``: Monte Carlo p-values of two implementations
  differ by their Monte Carlo error, never by more than a few of its standard errors.

    python benchmarks/run.py --only stats
"""

from __future__ import annotations

import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.harness import BenchResult, Ratio, median, timed


@dataclass
class StatsBenchConfig:
    """Size of the audit whose stages are timed."""

    models: dict = field(default_factory=dict)
    """Checkpoints (name → path), reference first; empty: the demo's if built, else lab base and SFT."""
    problems: int = 200
    samples: int = 32
    bootstrap: int = 1000
    legacy: bool = True
    """Also time the previous implementation (minutes at the full size)."""
    real_audit: bool = True
    """Also time the real-model audit of ``make demo-real`` (about a minute once the model is cached)."""


DEMO = {"sft": "models/lab/sft", "grpo-binary": "runs/demo/variants/grpo-binary/final",
        "grpo-rlcr": "runs/demo/variants/grpo-rlcr/final"}
LAB = {"base": "models/lab/base", "sft": "models/lab/sft"}


REAL = {"instruct": "smollm2-135m-instruct", "grpo-binary": "models/real-lora/binary",
        "grpo-ternary": "models/real-lora/ternary", "grpo-rlcr": "models/real-lora/rlcr"}
"""``make demo-real``'s checkpoints; :func:`_real_audit` uses its sizes and probes too."""


def _stage_seconds(costs: dict) -> float:
    """Every probe, the Holm refinement and the self-check: what an audit spends after sampling."""
    return (sum(v for k, v in costs.items() if k.startswith("probe:")) + costs.get("holm_refinement", 0.0)
            + costs.get("self_check", 0.0))


def _real_audit(work: Path) -> dict | str:
    """``costs`` of ``make demo-real``'s audit in a fresh store, or why it cannot run here."""
    from rich.console import Console

    from offtarget.audit.config import AuditConfig
    from offtarget.audit.runner import run_audit
    from offtarget.errors import OfftargetError
    from offtarget.models.registry import resolve_model_path

    try:
        resolve_model_path(REAL["instruct"])
    except OfftargetError as exc:
        return str(exc)
    missing = [p for p in list(REAL.values())[1:] if not Path(p, "adapter_config.json").exists()]
    if missing:
        return f"adapters not found: {', '.join(missing)} (run from the repository root)"
    acfg = AuditConfig(models=dict(REAL), suite="chat-arithmetic", problems=20, samples=2, temperature=0.7,
                       top_p=1.0, max_new_tokens=24, greedy=False, bootstrap=200,
                       probes=["accuracy", "formats", "abstention", "ood", "weights"],
                       out=str(work / "real-audit"), store=str(work / "real-generations.sqlite"), device="cpu")
    return run_audit(acfg, console=Console(quiet=True))["costs"]


def _models(cfg: StatsBenchConfig) -> dict:
    if cfg.models:
        return cfg.models
    return DEMO if all(Path(p, "config.json").exists() for p in DEMO.values()) else LAB


def _evaluate_calibration(ctx, legacy: bool):
    """The calibration probe's evaluate() call, with the current or the previous statistics."""
    import importlib

    from benchmarks import legacy_stats
    from offtarget.audit.compare import mark_too_small, refine_open
    from offtarget.probes import base
    from offtarget.probes import calibration as cal

    boot = importlib.import_module("offtarget.stats.bootstrap")  # the package's `bootstrap` is the function
    specs = [s for k in ("verbalized", "likelihood") for s in cal.specs(k, ctx.settings.calibration_bins)]
    if not legacy:  # stage 1 for every comparison, then refinement of those the probe's Holm family leaves open
        metrics, comparisons = base.evaluate("calibration", specs, ctx.evidences, ctx.reference,
                                             ctx.settings.bootstrap, ctx.settings.seed)
        tested = [c for c in comparisons if c.higher_is_better is not None]
        mark_too_small(tested, ctx.settings.alpha)
        refine_open(tested, ctx.settings.alpha)
        return metrics, comparisons

    def legacy_staged(*args, **kw):  # the previous test: both stages at once, no Holm-aware refinement
        return legacy_stats.permutation_test(*args, **kw), None

    saved = base.permutation_test, base.staged_permutation_test, boot._weighted_replicates
    base.permutation_test, base.staged_permutation_test = legacy_stats.permutation_test, legacy_staged
    boot._weighted_replicates = lambda *a: None
    try:
        return base.evaluate("calibration", legacy_stats.legacy_specs(specs), ctx.evidences, ctx.reference,
                             ctx.settings.bootstrap, ctx.settings.seed)
    finally:
        base.permutation_test, base.staged_permutation_test, boot._weighted_replicates = saved


def _agreement(new_rows, old_rows) -> dict:
    """How far apart the two implementations' p-values are, in Monte Carlo standard errors."""
    old = {(c.metric, c.group, c.checkpoint): c for c in old_rows}
    worst, n, same_interval = 0.0, 0, 0
    for c in new_rows:
        o = old.get((c.metric, c.group, c.checkpoint))
        if o is None or c.p_value is None or o.p_value is None:
            continue
        n += 1
        same_interval += (c.low, c.high) == (o.low, o.high) or (
            c.low is not None and o.low is not None and math.isclose(c.low, o.low, abs_tol=1e-9)
            and math.isclose(c.high, o.high, abs_tol=1e-9))
        # two Monte Carlo estimates of one exact p: the standard error of their difference at the pooled
        # p (a p stopped after 20 hits in 21 relabellings, 0.95, and one after 30, 0.67, are 2.4 apart)
        n_new, n_old = max(1, c.n_permutations or 1), max(1, o.n_permutations or 1)
        p = (c.p_value * n_new + o.p_value * n_old) / (n_new + n_old)
        se = math.sqrt(max(p * (1 - p), 1 / (n_new + n_old)) * (1 / n_new + 1 / n_old))
        worst = max(worst, abs(c.p_value - o.p_value) / se)
    return {"comparisons": n, "same_interval": same_interval, "max_p_difference_in_mc_se": round(worst, 2)}


def run(cfg: StatsBenchConfig, repeats: int, work: Path, threads: int) -> BenchResult:
    from rich.console import Console

    from offtarget.audit.config import AuditConfig
    from offtarget.audit.evidence import collect
    from offtarget.audit.runner import audit_problems, run_audit
    from offtarget.probes import calibration as cal
    from offtarget.probes.context import AuditContext
    from offtarget.store import GenerationStore
    from offtarget.tasks import get_task

    models = _models(cfg)
    res = BenchResult("stats", config={**asdict(cfg), "models": models})
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    acfg = AuditConfig(models=models, problems=cfg.problems, samples=cfg.samples, bootstrap=cfg.bootstrap,
                       out=str(work / "audit"), store=str(work / "generations.sqlite"), device="cpu")
    costs = run_audit(acfg, console=Console(quiet=True))["costs"]
    stage = _stage_seconds(costs)
    res.ratios.append(Ratio("probes/sampling", "stats: probe + self-check stage / sampling stage (demo-size audit)",
                            [stage / costs["sampling_seconds"]], goal=0.25, lower_is_better=True))
    real = _real_audit(work) if cfg.real_audit else "not asked for (real_audit=False)"
    if isinstance(real, dict):
        res.ratios.append(Ratio("real probes/sampling", "stats: probe + self-check stage / sampling stage "
                                "(make demo-real's audit: SmolLM2-135M-Instruct vs 3 LoRA adapters)",
                                [_stage_seconds(real) / real["sampling_seconds"]], goal=0.25, lower_is_better=True))
        res.measurements["real_costs"] = real
    else:
        res.measurements["real_audit_skipped"] = real

    task = get_task(acfg.suite)
    store = GenerationStore(acfg.store)
    try:
        evidences = collect(acfg, task, audit_problems(acfg, task), store)
    finally:
        store.close()
    ctx = AuditContext.from_config(acfg, task, evidences)
    for ev in evidences.values():  # likelihood confidence is read from stored log-probs once, for both
        ev.arrays["likelihood_confidence"] = cal.likelihood_confidence(
            ev, task, cal.load_tokenizer(getattr(ev, "model_path", None) or ev.path))
    new_runs, old_runs, rows = [], [], {}
    for i in range(repeats if cfg.legacy else 0):
        new_runs.append(timed(lambda: rows.__setitem__("new", _evaluate_calibration(ctx, False))))
        if i == 0:
            old_runs.append(timed(lambda: rows.__setitem__("old", _evaluate_calibration(ctx, True))))
    if old_runs:
        old = median([r.seconds for r in old_runs])
        res.ratios.append(Ratio("old/new", "stats: previous / batched statistics, calibration probe, same generations",
                                [old / r.seconds for r in new_runs], goal=20.0))
        res.measurements["p_agreement"] = _agreement(rows["new"][1], rows["old"][1])
    res.measurements.update(costs=costs, checkpoints=list(models), probe_stage_seconds=round(stage, 2),
                            calibration_new_seconds=[round(r.seconds, 2) for r in new_runs],
                            calibration_old_seconds=[round(r.seconds, 2) for r in old_runs])
    res.notes.append(
        f"{len(models)} checkpoints × {2 * cfg.problems} problems × {cfg.samples} samples: sampling "
        f"{costs['sampling_seconds']:.1f}s, probes + self-check {stage:.1f}s"
        + (f"; calibration statistics {median([r.seconds for r in new_runs]):.1f}s now vs "
           f"{old_runs[0].seconds:.1f}s before" if old_runs else ""))
    shutil.rmtree(work, ignore_errors=True)
    return res
