"""Side-effect monitor overhead: GRPO wall time with the monitor at its default interval vs off.

Each round runs ``offtarget train grpo`` twice on the lab SFT model with the same small settings,
once with the monitor at its default ``--monitor-every`` (a baseline pass before step 1, a pass
every N steps, one on the final model) and once with ``--monitor-every 0``; the arms alternate
so a burst of load hits both. Figures per round:

- **training loop** overhead: ``train_seconds`` from ``summary.json`` (trainer set-up to the end
  of ``train()``, the monitor's passes included), on / off − 1. Goal: under 5%.
- **whole command** overhead: wall time of the process (imports, data, model loading, saving).
- **periodic** overhead: what ``train`` itself reports in ``summary.json`` (``monitor.overhead_fraction``:
  the passes after the baseline over the training time without any monitor work).

The run is one default interval long (``--monitor-every``'s default, read from
:class:`offtarget.train.config.GRPORunConfig`), so the monitored arm pays the baseline pass and
one periodic pass; over a long run the baseline is amortised and the periodic figure remains.

The difficulty window is off (``--no-difficulty-window``): it runs once before training in both
arms alike, costs as much as the short run itself, and would only dilute the figure. If the
train command is missing or lacks ``--monitor-every``, the benchmark is skipped with the reason.

    python benchmarks/run.py --only monitor
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.harness import BenchResult, Ratio, Run, median, thread_env, timed


@dataclass
class MonitorBenchConfig:
    """Settings of the two GRPO runs."""

    model: str = "models/lab/sft"
    steps: int | None = None
    """Optimizer steps; None: one default monitor interval, so the monitored run has the baseline pass
    (before step 1, with the KL reference samples) and one periodic pass, which is also the last."""
    train_problems: int = 200
    extra_args: list[str] = field(default_factory=list)
    """More ``offtarget train grpo`` flags for both arms (e.g. ``--prompts-per-step 4``)."""


def _cli() -> list[str]:
    return [sys.executable, "-m", "offtarget.cli"]


def unavailable(threads: int) -> str | None:
    """Why the GRPO monitor benchmark cannot run here, or None."""
    try:
        proc = subprocess.run([*_cli(), "train", "grpo", "--help"], check=False, capture_output=True, text=True,
                              env={**thread_env(threads), "COLUMNS": "200"}, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`offtarget train grpo --help` did not run ({exc})"
    if proc.returncode != 0:
        return f"`offtarget train grpo --help` exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    if "--monitor-every" not in proc.stdout:
        return "`offtarget train grpo` has no --monitor-every flag"
    return None


def _train(cfg: MonitorBenchConfig, steps: int, out: Path, monitor: bool, threads: int) -> tuple[Run, dict]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*_cli(), "train", "grpo", "--model", cfg.model, "--out", str(out), "--steps", str(steps),
           "--train-problems", str(cfg.train_problems), "--no-difficulty-window", "--save-steps", "0",
           "--no-log-samples", "--no-progress", "--device", "cpu", "--seed", "0", *cfg.extra_args]
    if not monitor:
        cmd += ["--monitor-every", "0"]
    proc_box: dict = {}

    def go() -> None:
        proc_box["p"] = subprocess.run(cmd, check=False, capture_output=True, text=True, env=thread_env(threads), timeout=900)

    run = timed(go)
    proc = proc_box["p"]
    if proc.returncode != 0:
        raise RuntimeError(f"train grpo exited {proc.returncode}: {proc.stderr.strip()[-600:]}")
    summary = json.loads((out / "summary.json").read_text())
    return run, summary


def run(cfg: MonitorBenchConfig, repeats: int, work: Path, threads: int) -> BenchResult:
    from offtarget.train.config import GRPORunConfig

    res = BenchResult("monitor", config=asdict(cfg))
    why = unavailable(threads)
    if why:
        res.status, res.reason = "skipped", why
        return res
    default_every = GRPORunConfig().monitor_every
    steps = cfg.steps or default_every
    res.config.update(monitor_every_default=default_every, steps=steps)
    on_runs: list[tuple[Run, dict]] = []
    off_runs: list[tuple[Run, dict]] = []
    for i in range(repeats):
        first_on = i % 2 == 0  # alternate which arm goes first
        for monitor in (first_on, not first_on):
            arm = work / f"grpo-{'on' if monitor else 'off'}"
            (on_runs if monitor else off_runs).append(_train(cfg, steps, arm, monitor, threads))
    loop = [a[1]["train_seconds"] / b[1]["train_seconds"] - 1 for a, b in zip(on_runs, off_runs)]
    wall = [a[0].seconds / b[0].seconds - 1 for a, b in zip(on_runs, off_runs)]
    res.ratios = [
        Ratio("monitor loop overhead", f"monitor: GRPO training-loop time, monitor every {default_every} vs off, extra",
              loop, goal=0.05, lower_is_better=True, unit="%"),
        Ratio("monitor command overhead", "monitor: whole `train grpo` command wall time, extra", wall, unit="%"),
        Ratio("monitor periodic overhead", "monitor: periodic passes / bare training time, as `train` reports it",
              [s.get("monitor", {}).get("overhead_fraction", math.nan) for _, s in on_runs], unit="%"),
    ]
    mon = [s.get("monitor", {}) for _, s in on_runs]
    res.measurements = {
        "on": {"train_seconds": [s["train_seconds"] for _, s in on_runs], "wall_seconds": [round(r.seconds, 2) for r, _ in on_runs],
               "monitor_passes": [s.get("monitor_passes") for _, s in on_runs],
               "monitor_seconds": [m.get("seconds") for m in mon],
               "monitor_baseline_seconds": [m.get("baseline_seconds") for m in mon],
               "reported_overhead_fraction": [m.get("overhead_fraction") for m in mon]},
        "off": {"train_seconds": [s["train_seconds"] for _, s in off_runs], "wall_seconds": [round(r.seconds, 2) for r, _ in off_runs]},
    }
    per_pass = median([(m.get("seconds", 0) + m.get("baseline_seconds", 0)) / max(1, s.get("monitor_passes") or 1)
                       for m, (_, s) in zip(mon, on_runs)])
    res.notes.append(
        f"{steps} steps: training loop {median([s['train_seconds'] for _, s in off_runs]):.1f}s without the monitor, "
        f"{median([s['train_seconds'] for _, s in on_runs]):.1f}s with it ({on_runs[0][1].get('monitor_passes')} passes, "
        f"about {per_pass:.2f}s each including the reference/baseline work)"
    )
    shutil.rmtree(work, ignore_errors=True)
    return res
