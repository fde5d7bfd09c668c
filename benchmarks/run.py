"""Run offtarget's benchmarks and write ``benchmarks/results.json``: ratios against baselines, same run.

Absolute times on a shared machine are noise, so every figure is a ratio of two measurements
taken in this run, on the same lab model and prompts, interleaved, as the median of
``--repeats`` rounds (see :mod:`benchmarks.harness`). One module per benchmark:

==========  ==================================================================================
sampling    engine tokens/s vs a naive per-prompt ``generate`` loop, TRL-style batched
            ``generate`` and (optional) lm-evaluation-harness's HF backend
scoring     teacher-forced log-probs and exact KL, tokens/s, vs generation tokens/s
cache       re-run of a finished audit as a fraction of the first run
monitor     ``offtarget train grpo`` with the side-effect monitor at its default interval vs off
scaling     audit time and peak memory over problems × samples spanning 16x; linear fit
real_model  HF engine tokens/s on SmolLM2-135M-Instruct beside the toy model's (skipped when the
            real model is not fetched: ``offtarget models get smollm2-135m-instruct``)
stats       probe + self-check stage vs sampling stage of a demo-size audit and of ``make demo-real``'s
            audit; the batched statistics vs their previous implementation on the same stored generations
==========  ==================================================================================

The process holds the CPU lock (``--lock``, default ``/tmp/offtarget-cpu.lock``) for the whole
run, so do not wrap it in ``flock`` yourself; before each benchmark it also waits (up to
``--quiet-wait`` seconds) for processes that skip the lock to leave the CPUs, and records what it
saw in ``measurements.machine``. torch runs on ``--threads`` threads (2), here and in every
subprocess. ``make bench`` runs everything in about 6 minutes on 2 cores (with lm-eval) and, being
a full run, also refreshes the table in README.md's Benchmarks section (``--no-readme`` to
leave it); partial, ``--quick`` and ``--smoke`` runs never touch the README.

    make bench                                          # = .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --quick --only sampling,scoring
    OFFTARGET_LMEVAL_PYTHON=/tmp/lmeval-venv/bin/python make bench    # include lm-eval
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` puts benchmarks/, not the repo root, on the path
    sys.path.insert(0, str(ROOT))

from benchmarks import cache, monitor, real_model, sampling, scaling, scoring, stats
from benchmarks.harness import (
    DEFAULT_LOCK,
    SCHEMA_VERSION,
    BenchResult,
    cpu_lock,
    markdown_table,
    other_cpu_load,
    set_threads,
    wait_for_quiet,
)

BENCHMARKS = ("sampling", "scoring", "cache", "monitor", "scaling", "stats", "real_model")
README_START, README_END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def configs(preset: str) -> dict:
    """Sizes per benchmark: ``full`` (make bench), ``quick`` (a few minutes), ``smoke`` (tests; figures meaningless)."""
    full = {
        "sampling": sampling.SamplingBenchConfig(),
        "scoring": scoring.ScoringBenchConfig(),
        "cache": cache.CacheBenchConfig(),
        "monitor": monitor.MonitorBenchConfig(),
        "scaling": scaling.ScalingBenchConfig(),
        "real_model": real_model.RealModelBenchConfig(),
        "stats": stats.StatsBenchConfig(),
    }
    if preset == "full":
        return full
    if preset == "quick":
        return {
            "sampling": replace(full["sampling"], problems=32, samples=8, naive_problems=4),
            "scoring": replace(full["scoring"], problems=32, samples=8, real_problems=4),
            "cache": replace(full["cache"], problems=40, samples=8),
            "monitor": full["monitor"],
            "scaling": replace(full["scaling"], points=[(8, 2), (16, 2), (16, 4), (32, 8)]),
            "real_model": replace(full["real_model"], problems=8),
            "stats": replace(full["stats"], problems=50, samples=8),
        }
    if preset == "smoke":
        tiny_grpo = ["--prompts-per-step", "2", "--num-generations", "2", "--monitor-problems", "4",
                     "--monitor-samples", "1", "--logging-steps", "1"]
        return {
            "sampling": replace(full["sampling"], problems=4, samples=2, naive_problems=1, batch_sequences=8,
                                max_new_tokens=8),
            "scoring": replace(full["scoring"], problems=4, samples=2, max_new_tokens=8, real_problems=0),
            "cache": replace(full["cache"], problems=4, samples=2, bootstrap=20),
            "monitor": replace(full["monitor"], steps=2, train_problems=8, extra_args=tiny_grpo),
            "scaling": replace(full["scaling"], points=[(2, 1), (4, 1), (4, 2), (8, 4)], bootstrap=20),
            "real_model": replace(full["real_model"], problems=2, samples=2, max_new_tokens=4),
            "stats": replace(full["stats"], models=dict(stats.LAB), problems=6, samples=2, bootstrap=20,
                             real_audit=False),
        }
    raise ValueError(f"unknown preset {preset!r}")


def environment(threads: int, lock: str | None) -> dict:
    import torch
    import transformers

    try:
        import trl

        trl_version = trl.__version__
    except ImportError:  # pragma: no cover - trl is a dependency
        trl_version = None
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "transformers": transformers.__version__, "trl": trl_version,
            "torch_threads": torch.get_num_threads(), "threads": threads, "cpu_lock": lock or None}


def run_benchmarks(names: list[str], preset: str, repeats: int, threads: int, work: Path,
                   lm_eval_python: str | None = None, quiet_wait: float = 600.0) -> list[BenchResult]:
    """Run the named benchmarks in order; a failing one is recorded as ``error`` and the rest still run.

    Before each, wait up to ``quiet_wait`` seconds for other processes (jobs that skip the CPU
    lock) to leave the CPUs; what was seen is kept in the benchmark's ``measurements.machine``."""
    cfgs = configs(preset)
    if lm_eval_python:
        cfgs["sampling"] = replace(cfgs["sampling"], lm_eval_python=lm_eval_python)
    modules = {"sampling": sampling, "scoring": scoring, "cache": cache, "monitor": monitor, "scaling": scaling,
               "stats": stats, "real_model": real_model}
    results = []
    for name in names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        quiet = wait_for_quiet(max_wait=quiet_wait) if quiet_wait > 0 else {}
        t0 = time.perf_counter()
        try:
            res = modules[name].run(cfgs[name], repeats, work / name, threads)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            res = BenchResult(name, status="error", reason=f"{exc.__class__.__name__}: {exc}")
            res.notes.append(traceback.format_exc(limit=6))
        res.seconds = time.perf_counter() - t0
        if quiet:
            after, who = other_cpu_load()
            res.measurements["machine"] = {**quiet, "other_cores_at_end": round(after, 2)}
            if max(quiet["other_cores_when_started"], after) >= 0.3:
                res.notes.append(f"other processes were using CPU during this benchmark (up to "
                                 f"{max(quiet['other_cores_when_started'], after):.1f} cores: "
                                 f"{quiet['busiest_other'] or who}); its ratios are less reliable")
        print(f"[bench] {name}: {res.status} in {res.seconds:.0f}s", file=sys.stderr, flush=True)
        results.append(res)
    return results


def results_dict(results: list[BenchResult], args: argparse.Namespace, preset: str, seconds: float) -> dict:
    table = []
    for res in results:
        for r in res.ratios:
            d = r.to_dict()
            table.append({"benchmark": res.name, "figure": r.name, "description": r.description, "unit": r.unit,
                          **{k: d[k] for k in ("median", "min", "max", "goal", "lower_is_better", "met", "repeats")}})
    return {
        "kind": "offtarget_benchmarks",
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": args.command,
        "preset": preset,
        "repeats": args.repeats,
        "environment": environment(args.threads, args.lock),
        "seconds": round(seconds, 1),
        "table": table,
        "benchmarks": {res.name: res.to_dict() for res in results},
    }


def write_json(path: Path, data: dict) -> None:
    """Atomic write: a temp file renamed over the target, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)


def readme_section(table: str, command: str, data: dict) -> str:
    env = data["environment"]
    return (f"{README_START}\n_{data['created'][:10]}, `{command}`: median of {data['repeats']} interleaved rounds, "
            f"{env['cpu_count']} CPU cores, torch {env['torch']} on {env['threads']} threads, lab models (real_model: SmolLM2-135M-Instruct). Per-round "
            f"values, notes and the re-run profile: `benchmarks/results.json`._\n\n"
            f"{table}\n{README_END}")


def update_readme(path: Path, section: str) -> None:
    """Replace the text between the benchmark markers (nothing else in the README changes)."""
    text = path.read_text()
    a, b = text.find(README_START), text.find(README_END)
    if a < 0 or b < 0:
        print(f"[bench] {path}: no {README_START} ... {README_END} markers; README left as it is", file=sys.stderr)
        return
    path.write_text(text[:a] + section + text[b + len(README_END):])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes for the test suite; the figures mean nothing")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds per benchmark; figures are medians")
    ap.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    ap.add_argument("--threads", type=int, default=2, help="torch threads here and in every subprocess")
    ap.add_argument("--lock", default=DEFAULT_LOCK, help="CPU lock file held for the whole run ('' for none)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"), help="results file")
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / "_work"), help="scratch directory (emptied)")
    ap.add_argument("--lm-eval-python", default=os.environ.get("OFFTARGET_LMEVAL_PYTHON"),
                    help="interpreter with lm_eval for the lm-eval sampling variant (env OFFTARGET_LMEVAL_PYTHON)")
    ap.add_argument("--quiet-wait", type=float, default=600.0,
                    help="seconds to wait, before each benchmark, for other processes to leave the CPUs (0: don't)")
    ap.add_argument("--no-readme", action="store_true",
                    help="do not refresh README.md's Benchmarks table (only a full run of every benchmark does)")
    args = ap.parse_args(argv)
    args.command = " ".join(["benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"--only: unknown benchmark(s) {unknown}; choose from {','.join(BENCHMARKS)}")
    if args.repeats < 1:
        ap.error("--repeats must be at least 1 (3 or more for figures worth reporting)")
    if args.quick and args.smoke:
        ap.error("--quick and --smoke are exclusive")
    args.names = names
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # "Loading weights" bars (before transformers loads)
    preset = "smoke" if args.smoke else "quick" if args.quick else "full"
    set_threads(args.threads)
    if args.repeats < 3:
        print(f"[bench] note: --repeats {args.repeats}; medians need 3 or more to mean much", file=sys.stderr)
    t0 = time.perf_counter()
    with cpu_lock(args.lock), contextlib.chdir(ROOT):  # model paths in the configs are relative to the repo
        results = run_benchmarks(args.names, preset, args.repeats, args.threads, Path(args.work), args.lm_eval_python,
                                 quiet_wait=0.0 if preset == "smoke" else args.quiet_wait)
    data = results_dict(results, args, preset, time.perf_counter() - t0)
    write_json(Path(args.out), data)
    table = markdown_table(results)
    print(table)
    for res in results:
        for note in res.notes:
            print(f"- {res.name}: {note.strip()}")
    print(f"wrote {args.out} ({data['seconds']:.0f}s)")
    if preset == "full" and set(args.names) == set(BENCHMARKS) and not args.no_readme:
        command = "make bench" if args.command == "benchmarks/run.py" else args.command
        if args.lm_eval_python:
            command = f"OFFTARGET_LMEVAL_PYTHON={args.lm_eval_python} {command}"
        update_readme(ROOT / "README.md", readme_section(table, command, data))
        print("updated README.md (Benchmarks)")
    return data


if __name__ == "__main__":
    data = main()
    sys.exit(1 if any(b["status"] == "error" for b in data["benchmarks"].values()) else 0)
