"""The monitor's guards: thresholds on a pass's numbers, and which of them a pass crossed.

A guard left empty in :class:`~offtarget.train.config.MonitorOptions` is off; a value that could
not be measured passes (a guard never stops a run on a missing number).

    >>> from offtarget.train.config import MonitorOptions
    >>> [g.name for g in check_guards(MonitorMetrics(*[None] * 11, n_samples=0), MonitorOptions(kl_max=0.1), None)]
    ['kl_max']
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from offtarget.train.config import MonitorOptions
from offtarget.train.monitor.metrics import MonitorMetrics

GUARDS: dict[str, tuple[str, str]] = {
    "entropy_min": ("mean_token_entropy", "min"),
    "ece_max": ("ece_verbalized", "max"),
    "dominant_format_max": ("dominant_format_share", "max"),
    "kl_max": ("kl_per_token", "max"),
    "ood_accuracy_drop_max": ("ood_accuracy_drop", "max"),
    "abstention_min": ("abstention_recall", "min"),
}
"""Guard option → (the value it watches, whether the threshold is a floor or a ceiling)."""


@dataclass(frozen=True)
class GuardResult:
    name: str
    value: float | None
    threshold: float
    ok: bool
    """False when the value crossed the threshold; a value that could not be measured passes."""


def check_guards(metrics: MonitorMetrics, opts: MonitorOptions, baseline: MonitorMetrics | None) -> list[GuardResult]:
    """Every configured guard's verdict on one pass (``ood_accuracy_drop`` = baseline − current)."""
    values = asdict(metrics)
    if baseline is not None and metrics.ood_accuracy is not None and baseline.ood_accuracy is not None:
        values["ood_accuracy_drop"] = baseline.ood_accuracy - metrics.ood_accuracy
    else:
        values["ood_accuracy_drop"] = None
    out = []
    for name, (key, kind) in GUARDS.items():
        threshold = getattr(opts, name)
        if threshold is None:
            continue
        value = values.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            ok = True
        else:
            ok = value >= threshold if kind == "min" else value <= threshold
        out.append(GuardResult(name, value, float(threshold), ok))
    return out


__all__ = ["GUARDS", "GuardResult", "check_guards"]
