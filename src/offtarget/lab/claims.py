"""The claims table: each claim from the literature with its measured effect, 95% interval and verdict.

A verdict follows a rule stated next to the claim, decided from the interval, never from the
point estimate alone:

- ``reproduced``: the interval lies on the side the claim predicts;
- ``not reproduced``: the interval lies on the opposite side;
- ``inconclusive``: the interval includes the no-effect value (or the measurement failed).

    >>> c = ClaimResult("entropy", "RL lowers token entropy", "arXiv 2505.22617", "binary vs sft",
    ...                 "Δ mean token entropy", -0.12, -0.15, -0.09, predicted="negative")
    >>> c.verdict
    'reproduced'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from offtarget.report.results import atomic_write_text, sanitize

VERDICTS = ("reproduced", "not reproduced", "inconclusive")


@dataclass
class ClaimResult:
    """One row of the claims table."""

    recipe: str
    claim: str
    source: str
    comparison: str
    """What was compared, e.g. ``grpo-binary vs sft on test``."""
    effect_name: str
    effect: float | None
    low: float | None
    high: float | None
    predicted: str = "positive"
    """Which sign of the effect the claim predicts: ``positive`` or ``negative``."""
    threshold: float = 0.0
    """The no-effect value the interval is compared with."""
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = decide(self.low, self.high, self.predicted, self.threshold)

    def to_dict(self) -> dict:
        return asdict(self)


def decide(low: float | None, high: float | None, predicted: str, threshold: float = 0.0) -> str:
    """Verdict from the interval and the predicted side of ``threshold``."""
    if low is None or high is None:
        return "inconclusive"
    if predicted == "positive":
        if low > threshold:
            return "reproduced"
        if high < threshold:
            return "not reproduced"
        return "inconclusive"
    if high < threshold:
        return "reproduced"
    if low > threshold:
        return "not reproduced"
    return "inconclusive"


def combine(parts: list[str]) -> str:
    """A claim with several necessary parts is reproduced only if every part is."""
    if all(p == "reproduced" for p in parts):
        return "reproduced"
    if any(p == "not reproduced" for p in parts):
        return "not reproduced"
    return "inconclusive"


def write_claims(claims: list[ClaimResult], out_dir: str | Path, command: str, seconds: float | None = None) -> list[str]:
    """``claims.json`` (strict) and ``claims.md`` beside each other."""
    out = Path(out_dir)
    data = {"schema_version": 1, "command": command, "seconds": seconds, "claims": [c.to_dict() for c in claims]}
    atomic_write_text(out / "claims.json", json.dumps(sanitize(data), indent=1, allow_nan=False))
    atomic_write_text(out / "claims.md", claims_markdown(claims, command, seconds))
    return [str(out / "claims.json"), str(out / "claims.md")]


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def claims_markdown(claims: list[ClaimResult], command: str, seconds: float | None = None) -> str:
    lines = ["# Lab claims", "", f"Produced by `{command}`" + (f" in {seconds / 60:.1f} min." if seconds else "."), "",
             "| # | claim | source | comparison | effect | 95% interval | verdict |", "|---|---|---|---|---|---|---|"]
    for i, c in enumerate(claims, 1):
        lines.append(f"| {i} | {c.claim} | {c.source} | {c.comparison} | {c.effect_name} = {_f(c.effect)} | "
                     f"[{_f(c.low)}, {_f(c.high)}] | **{c.verdict}** |")
    lines.append("")
    for i, c in enumerate(claims, 1):
        if c.notes:
            lines += [f"**{i}. {c.recipe}**", ""] + [f"- {n}" for n in c.notes] + [""]
    return "\n".join(lines) + "\n"
