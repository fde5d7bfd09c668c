"""Timing harness shared by the benchmarks: threads, the CPU lock, interleaved repeats, medians.

Absolute times on a shared 2-core machine are noise; the figures are *ratios* of measurements
taken in the same run. So every benchmark times its variants interleaved (A B C, A B C, ...):
a burst of load from another job then hits one round of every variant instead of all the
repeats of one. Each round gives one ratio; the reported figure is the median over rounds,
with the min and max beside it.

    >>> from benchmarks.harness import interleaved, Ratio
    >>> rounds = interleaved({"fast": lambda: 10, "slow": lambda: 10}, repeats=3)
    >>> Ratio.of("fast/slow", "throughput ratio", rounds, "fast", "slow", goal=1.0).median
"""

from __future__ import annotations

import fcntl
import math
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1
DEFAULT_LOCK = "/tmp/offtarget-cpu.lock"


# ---------------------------------------------------------------------------------------------
# Process set-up


def thread_env(threads: int) -> dict[str, str]:
    """Environment for a benchmark subprocess: the same thread count as this process."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def set_threads(threads: int) -> None:
    """Pin torch's intra-op threads in this process (subprocesses get :func:`thread_env`)."""
    import torch

    torch.set_num_threads(threads)


@contextmanager
def cpu_lock(path: str | None) -> Iterator[None]:
    """Hold the machine's CPU lock (``flock``) so no other heavy job runs during the timings.

    Do not also wrap the command in ``flock`` on the same file: a second open of it would wait
    for the first forever.
    """
    if not path:
        yield
        return
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[bench] waiting for the CPU lock {path} (another heavy job holds it)", file=sys.stderr,
                  flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def other_cpu_load(interval: float = 1.0) -> tuple[float, str]:
    """CPU used by processes other than this one and its children over ``interval`` seconds, in
    cores, and the busiest of them ("" when psutil is missing). Jobs that skip the CPU lock
    still run; this lets the harness wait for them and record that they were there."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with accelerate
        return 0.0, ""
    me = psutil.Process()
    mine = {me.pid} | {c.pid for c in me.children(recursive=True)}
    procs = [p for p in psutil.process_iter(["pid", "name", "cmdline"]) if p.pid not in mine]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(interval)
    used = []
    for p in procs:
        try:
            used.append((p.cpu_percent(None) / 100, " ".join(p.info["cmdline"] or [p.info["name"] or ""])[:80]))
        except psutil.Error:
            pass
    busiest = max(used, default=(0.0, ""))
    return sum(u for u, _ in used), busiest[1] if busiest[0] >= 0.2 else ""


def wait_for_quiet(max_wait: float = 600.0, threshold: float = 0.3) -> dict:
    """Wait (up to ``max_wait`` s) until other processes use under ``threshold`` cores; what was seen."""
    t0 = time.perf_counter()
    load, who = other_cpu_load()
    first = (load, who)
    while load >= threshold and time.perf_counter() - t0 < max_wait:
        print(f"[bench] waiting: other processes use {load:.1f} cores ({who})", file=sys.stderr, flush=True)
        time.sleep(20)
        load, who = other_cpu_load()
    return {"other_cores_at_start": round(first[0], 2), "busiest_other": first[1] or None,
            "waited_seconds": round(time.perf_counter() - t0, 1), "other_cores_when_started": round(load, 2)}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------
# Timing


@dataclass
class Run:
    """One timed call: wall seconds and the work it did (tokens, sequences; 1 if not counted)."""

    seconds: float
    work: float = 1.0

    @property
    def rate(self) -> float:
        return self.work / self.seconds if self.seconds > 0 else math.nan


def timed(fn: Callable[[], Any]) -> Run:
    """Time ``fn()``; if it returns a number, that is the work done."""
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    return Run(seconds, float(out) if isinstance(out, (int, float)) else 1.0)


def interleaved(variants: dict[str, Callable[[], Any]], repeats: int, warmup: bool = True) -> list[dict[str, Run]]:
    """``repeats`` rounds, each timing every variant once in turn; a first untimed round warms up."""
    if warmup:
        for fn in variants.values():
            fn()
    return [{name: timed(fn) for name, fn in variants.items()} for _ in range(repeats)]


def median(xs: list[float]) -> float:
    ys = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.median(ys) if ys else math.nan


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Ratio:
    """One figure of the table: a ratio per round, its median, and the goal it is held to."""

    name: str
    description: str
    values: list[float]
    goal: float | None = None
    """The median must be at least this (or at most, when ``lower_is_better``); None: reported only."""
    lower_is_better: bool = False
    unit: str = "x"
    """How the table prints it: ``x`` (a factor), ``%`` (a fraction, in percent) or ``""`` (a plain number)."""

    @classmethod
    def of(cls, name: str, description: str, rounds: list[dict[str, Run]], num: str, den: str,
           goal: float | None = None, by: str = "rate") -> Ratio:
        """Per round, ``num``'s rate over ``den``'s rate (``by="seconds"``: time over time)."""
        vals = [getattr(r[num], by) / getattr(r[den], by) for r in rounds]
        return cls(name, description, vals, goal)

    @property
    def median(self) -> float:
        return median(self.values)

    @property
    def met(self) -> bool | None:
        if self.goal is None or not math.isfinite(self.median):
            return None
        return self.median <= self.goal if self.lower_is_better else self.median >= self.goal

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(median=_clean(self.median), min=_clean(min(self.values, default=math.nan)),
                 max=_clean(max(self.values, default=math.nan)), met=self.met, repeats=len(self.values))
        d["values"] = [_clean(v) for v in self.values]
        return d

    def cells(self) -> tuple[str, str, str]:
        """(median, range, goal) as the table prints them."""
        def fmt(v: float) -> str:
            if not math.isfinite(v):
                return "n/a"
            if self.unit == "%":
                return f"{100 * v:.1f}%"
            return f"{v:.2f}x" if self.unit == "x" else f"{v:.3f}"

        rng = f"{fmt(min(self.values))}–{fmt(max(self.values))}" if self.values else ""
        if self.goal is None:
            goal = "(info)"
        else:
            goal = f"{'≤' if self.lower_is_better else '≥'} {fmt(self.goal)} " + ("met" if self.met else "NOT met")
        return fmt(self.median), rng, goal


@dataclass
class BenchResult:
    """What one benchmark module returns: its ratios, raw measurements and notes."""

    name: str
    status: str = "ok"
    """``ok``, ``skipped`` (with ``reason``) or ``error``."""
    reason: str | None = None
    config: dict = field(default_factory=dict)
    ratios: list[Ratio] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    """Raw numbers per variant: seconds and work per round, and anything else worth keeping."""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    """Wall time of the whole benchmark, set-up included."""

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "reason": self.reason, "config": self.config,
                "ratios": [r.to_dict() for r in self.ratios], "measurements": _clean(self.measurements),
                "notes": self.notes, "seconds": round(self.seconds, 2)}


def rounds_dict(rounds: list[dict[str, Run]], unit: str) -> dict[str, dict]:
    """Raw per-round numbers of each variant for results.json."""
    names = list(rounds[0]) if rounds else []
    out = {}
    for n in names:
        runs = [r[n] for r in rounds]
        out[n] = {"seconds": [round(x.seconds, 4) for x in runs], unit: [x.work for x in runs],
                  f"{unit}_per_second_median": _clean(median([x.rate for x in runs]))}
    return out


def _clean(x: Any) -> Any:
    """Strict JSON: NaN and infinities become null, recursively."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def fit_line(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """Least-squares ``y = a + b x``: (a, b, R²)."""
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((v - mx) ** 2 for v in x)
    sxy = sum((u - mx) * (v - my) for u, v in zip(x, y))
    b = sxy / sxx if sxx else math.nan
    a = my - b * mx
    ss_tot = sum((v - my) ** 2 for v in y)
    ss_res = sum((v - (a + b * u)) ** 2 for u, v in zip(x, y))
    r2 = 1 - ss_res / ss_tot if ss_tot else math.nan
    return a, b, r2


def markdown_table(results: list[BenchResult]) -> str:
    """The figures of every benchmark as a Markdown table (skipped ones say why)."""
    lines = ["| benchmark | figure | median | range | goal |", "|---|---|---|---|---|"]
    for res in results:
        if res.status != "ok":
            lines.append(f"| {res.name} | {res.status}: {res.reason} | | | |")
            continue
        for r in res.ratios:
            med, rng, goal = r.cells()
            lines.append(f"| {res.name} | {r.description} | {med} | {rng} | {goal} |")
    return "\n".join(lines)
