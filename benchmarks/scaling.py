"""Scaling: audit time and peak memory as problems × samples grow 16x; is the cost linear?

Each point is a whole audit (lab base vs SFT, every probe, default bootstrap) run in its own
subprocess, so its peak resident memory (``getrusage`` ``ru_maxrss``; tracemalloc does not see
torch's allocations) belongs to that point alone. The subprocess reports the audit's wall time
(imports excluded), its resident memory after the imports and its peak RSS. Points are run interleaved
(1x, 2x, 4x, 16x, 1x, ...) and each point's median is taken.

Figures: R² of the least-squares line time = a + b · (problems × samples) through the four
medians (linear growth gives R² near 1), the time per problem-sample at 16x over that at 1x
(1 would be perfectly proportional; below 1 means fixed costs are being amortised; above 1
would mean super-linear growth), and the peak RSS at 16x over 1x (sampling runs in bounded
batches and the store lives on disk, so memory should stay nearly flat).

    python benchmarks/run.py --only scaling
    python -m benchmarks.scaling --problems 16 --samples 4     # one point, prints JSON
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.harness import BenchResult, Ratio, fit_line, median, peak_rss_mib, set_threads, thread_env

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ScalingBenchConfig:
    """The points of the curve."""

    reference: str = "models/lab/base"
    model: str = "models/lab/sft"
    points: list[tuple[int, int]] = field(default_factory=lambda: [(16, 4), (32, 4), (32, 8), (64, 16)])
    """(problems per split, samples per problem); problems × samples spans 1x to 16x."""
    bootstrap: int = 1000


def current_rss_mib() -> float:
    """Resident memory now (psutil when present, else /proc), for the post-import baseline."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover - psutil comes with accelerate
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def point(problems: int, samples: int, reference: str, model: str, bootstrap: int, out: Path) -> dict:
    """Run one audit in this process; its wall time and peak memory."""
    from rich.console import Console

    from offtarget.audit.config import AuditConfig
    from offtarget.audit.runner import run_audit

    before = current_rss_mib()
    cfg = AuditConfig(models={"base": reference, "sft": model}, problems=problems, samples=samples,
                      bootstrap=bootstrap, out=str(out), device="cpu")
    t0 = time.perf_counter()
    data = run_audit(cfg, console=Console(quiet=True))
    seconds = time.perf_counter() - t0
    return {"problems": problems, "samples": samples, "seconds": seconds, "rss_before_mib": before,
            "peak_rss_mib": peak_rss_mib(), "sampling_seconds": data["costs"]["sampling_seconds"]}


def _point_subprocess(cfg: ScalingBenchConfig, p: int, n: int, work: Path, threads: int) -> dict:
    out = work / f"audit-{p}x{n}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--problems", str(p), "--samples", str(n),
           "--reference", cfg.reference, "--model", cfg.model, "--bootstrap", str(cfg.bootstrap),
           "--threads", str(threads), "--out", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=thread_env(threads), cwd=ROOT, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"scaling point {p}x{n} exited {proc.returncode}: {proc.stderr.strip()[-600:]}")
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(cfg: ScalingBenchConfig, repeats: int, work: Path, threads: int) -> BenchResult:
    res = BenchResult("scaling", config=asdict(cfg))
    work.mkdir(parents=True, exist_ok=True)
    runs: dict[tuple[int, int], list[dict]] = {tuple(pt): [] for pt in cfg.points}
    for _ in range(repeats):
        for p, n in cfg.points:
            runs[(p, n)].append(_point_subprocess(cfg, p, n, work, threads))
    size = [p * n for p, n in cfg.points]
    secs = [median([r["seconds"] for r in runs[pt]]) for pt in runs]
    peak = [median([r["peak_rss_mib"] for r in runs[pt]]) for pt in runs]
    base = [median([r["rss_before_mib"] for r in runs[pt]]) for pt in runs]
    a, b, r2 = fit_line([float(x) for x in size], secs)
    # per-round R² and end ratios, so the table has a median and a range like every other figure
    round_r2, round_end = [], []
    for i in range(repeats):
        s_i = [runs[pt][i]["seconds"] for pt in runs]
        round_r2.append(fit_line([float(x) for x in size], s_i)[2])
        round_end.append((s_i[-1] / size[-1]) / (s_i[0] / size[0]))
    span = size[-1] / size[0]
    res.ratios = [
        Ratio("time linear fit R2", f"scaling: R² of time vs problems×samples ({span:.0f}x span, 4 points)",
              round_r2, goal=0.95, unit=""),
        Ratio("time per sample end/start", f"scaling: time per problem-sample at {span:.0f}x / at 1x", round_end,
              goal=1.0, lower_is_better=True),
        Ratio("memory end/start", f"scaling: peak RSS of the audit process at {span:.0f}x / at 1x",
              [r_end["peak_rss_mib"] / r0["peak_rss_mib"]
               for r0, r_end in zip(runs[tuple(cfg.points[0])], runs[tuple(cfg.points[-1])])]),
    ]
    res.measurements = {
        "points": [{"problems_per_split": p, "samples": n, "size": s, "seconds_median": round(t, 3),
                    "peak_rss_mib_median": round(m, 1), "rss_after_imports_mib_median": round(o, 1),
                    "seconds": [round(r["seconds"], 3) for r in runs[(p, n)]]}
                   for (p, n), s, t, m, o in zip(cfg.points, size, secs, peak, base)],
        "fit": {"intercept_seconds": a, "seconds_per_problem_sample": b, "r2_of_medians": r2},
    }
    res.notes.append(
        "time (s) by problems/split x samples: " + ", ".join(f"{p}x{n}: {t:.1f}" for (p, n), t in zip(cfg.points, secs))
        + f"; fit {a:.2f}s + {1000 * b:.2f}ms per problem-sample, R² {r2:.3f}; peak RSS "
        + ", ".join(f"{m:.0f}" for m in peak) + " MiB (after imports, before the audit: "
        + ", ".join(f"{o:.0f}" for o in base) + " MiB)"
    )
    shutil.rmtree(work, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="one scaling point: an audit in this process; prints JSON")
    ap.add_argument("--problems", type=int, required=True)
    ap.add_argument("--samples", type=int, required=True)
    ap.add_argument("--reference", default="models/lab/base")
    ap.add_argument("--model", default="models/lab/sft")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    import offtarget.audit.runner  # noqa: F401 - imports are not part of the point's time or memory

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="offtarget-scaling-"))
    print(json.dumps(point(args.problems, args.samples, args.reference, args.model, args.bootstrap, out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
