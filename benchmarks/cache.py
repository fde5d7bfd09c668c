"""The run store as a cache: a re-run of a finished audit, as a fraction of the first run.

Each round audits the lab's base and SFT models (every probe, default bootstrap) into a fresh
run directory, then runs the identical audit again into the same directory. The second run
finds every generation in the store and samples nothing, and reads every probe result back
from the store (keyed by probe, settings, version and checkpoint fingerprints:
:func:`offtarget.audit.runner.probe_cache_key`); what it still pays for is fingerprinting the
checkpoints, reading the samples, verifying them into evidence, and writing results.json.
Two figures per round:

- **re-run / first run**, whole :func:`offtarget.audit.runner.run_audit` (goal: under 5%);
- **sampling stage re-run / first run**: the part the store caches (``costs.sampling_seconds``).

Both runs happen in this process (imports warm), so the figure is the audit's own cost, not
Python start-up. After the rounds one re-run is profiled with cProfile; the offtarget functions
with the largest cumulative time are kept in ``measurements.rerun_profile``.

    python benchmarks/run.py --only cache
"""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.harness import BenchResult, Ratio, Run, median, timed


@dataclass
class CacheBenchConfig:
    """Size of the audit that is run and re-run."""

    reference: str = "models/lab/base"
    model: str = "models/lab/sft"
    problems: int = 100
    """Problems per split (test and ood), as ``offtarget audit --problems``."""
    samples: int = 16
    """Samples per problem, as ``offtarget audit --samples``."""
    bootstrap: int = 1000
    """Bootstrap resamples (the audit default)."""
    profile_top: int = 12
    """Offtarget functions kept from the re-run's profile."""


def _audit_config(cfg: CacheBenchConfig, out: Path):
    from offtarget.audit.config import AuditConfig

    return AuditConfig(models={"base": cfg.reference, "sft": cfg.model}, problems=cfg.problems,
                       samples=cfg.samples, bootstrap=cfg.bootstrap, out=str(out), device="cpu")


def _profile(fn) -> list[dict]:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]
    rows = []
    for (path, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "/offtarget/" in path and "/audit/runner.py" not in path:
            short = path.split("/offtarget/", 1)[1]
            rows.append({"function": f"offtarget/{short}:{line}({func})", "calls": ncalls,
                         "cumulative_seconds": round(cumtime, 3), "share": round(cumtime / total, 3)})
    rows.sort(key=lambda r: -r["cumulative_seconds"])
    return rows


def run(cfg: CacheBenchConfig, repeats: int, work: Path, threads: int) -> BenchResult:
    from rich.console import Console

    from offtarget.audit.runner import run_audit

    res = BenchResult("cache", config=asdict(cfg))
    quiet = Console(quiet=True)
    first: list[Run] = []
    rerun: list[Run] = []
    costs: list[tuple[dict, dict]] = []
    for i in range(repeats):
        out = work / f"audit-{i}"
        shutil.rmtree(out, ignore_errors=True)
        acfg = _audit_config(cfg, out)
        data: dict = {}

        def audit(key: str, acfg=acfg, data=data) -> None:
            data[key] = run_audit(acfg, console=quiet)

        first.append(timed(lambda: audit("first")))
        rerun.append(timed(lambda: audit("rerun")))
        generated = [c["generated"] for c in data["rerun"]["checkpoints"]]
        if any(generated):
            raise RuntimeError(f"the re-run generated {generated} samples: the store did not serve them")
        costs.append((data["first"]["costs"], data["rerun"]["costs"]))
    res.ratios = [
        Ratio("rerun/first", "cache: re-run of a finished audit / first run, wall",
              [r.seconds / f.seconds for f, r in zip(first, rerun)], goal=0.05, lower_is_better=True, unit="%"),
        Ratio("rerun/first sampling", "cache: sampling stage of the re-run / first run",
              [b["sampling_seconds"] / a["sampling_seconds"] for a, b in costs], unit="%"),
    ]
    acfg = _audit_config(cfg, work / "audit-0")
    profile = _profile(lambda: run_audit(acfg, console=quiet))[: cfg.profile_top]
    res.measurements = {
        "first_seconds": [round(x.seconds, 3) for x in first],
        "rerun_seconds": [round(x.seconds, 3) for x in rerun],
        "first_costs": costs[0][0], "rerun_costs": costs[0][1],
        "rerun_profile": profile,
    }
    probe_keys = [k for k in costs[0][0] if k.startswith("probe:")]
    slowest = sorted(probe_keys, key=lambda k: -costs[0][0][k])[:3]
    res.notes.append(
        f"first run {median([x.seconds for x in first]):.2f}s (sampling {costs[0][0]['sampling_seconds']:.1f}s; "
        "slowest probes " + ", ".join(f"{k[6:]} {costs[0][0][k]:.2f}s" for k in slowest) + f"), re-run "
        f"{median([x.seconds for x in rerun]):.2f}s, of which "
        + ", ".join(f"{r['function'].split(':')[0].removeprefix('offtarget/')}:{r['function'].split('(')[-1][:-1]} "
                    f"{r['cumulative_seconds']:.2f}s" for r in profile[:2])
    )
    shutil.rmtree(work, ignore_errors=True)
    return res
