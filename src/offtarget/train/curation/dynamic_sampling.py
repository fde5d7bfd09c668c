"""Dynamic sampling: drop zero-variance groups and say how many more are needed (DAPO).

A GRPO group whose G rewards all tie has advantage 0 for every rollout: it costs a forward
and backward pass and teaches nothing, and as the policy improves such groups fill the batch
(DAPO, arXiv 2503.14476, §3.2). DAPO keeps sampling until the batch holds B groups with
non-tied outcomes. TRL does not (trl issue 3708); the trainer subclass calls this module
after each generation round and generates again while ``needed > 0``.

What to pass as values is the caller's choice:

- **rewards** (the weighted sum the advantage is computed from): drops exactly the groups
  whose advantages are all zero; a group that is all wrong but varies in a shaped term
  (format, Brier) is kept and trains that term;
- **correctness** (DAPO's choice, "accuracy 0 or 1"): also drops those groups, so shaping
  never fills the batch on its own.

NaN values (TRL's ``None`` rewards) are ignored; a group with fewer than two defined values
counts as tied.

    >>> sel = select_groups([[1, 1, 1, 1], [0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 1]], batch_groups=3)
    >>> sel.keep, sel.tied, sel.needed
    ([1, 3], [0, 2], 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def group_values(flat: Sequence[float], group_size: int) -> list[list[float]]:
    """Split TRL's flat per-completion list (groups contiguous, ``G`` each) into groups; None → NaN."""
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if len(flat) % group_size:
        raise ValueError(f"{len(flat)} values do not split into groups of {group_size}")
    values = [math.nan if v is None else float(v) for v in flat]
    return [values[i : i + group_size] for i in range(0, len(values), group_size)]


def is_tied(values: Sequence[float], tol: float = 1e-6) -> bool:
    """Whether a group carries no GRPO signal: its defined values span at most ``tol``."""
    defined = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if len(defined) < 2:
        return True
    return max(defined) - min(defined) <= tol


@dataclass(frozen=True)
class GroupSelection:
    """The outcome of one dynamic-sampling round; indices refer to the groups passed in."""

    keep: list[int] = field(default_factory=list)
    """Informative groups to train on, in order, at most what the batch still needs."""
    tied: list[int] = field(default_factory=list)
    """Groups dropped because their values all tie."""
    surplus: list[int] = field(default_factory=list)
    """Informative groups beyond the batch (DAPO discards them; a caller may carry them over)."""
    needed: int = 0
    """Informative groups still missing to fill the batch after this round."""
    informative_rate: float = 0.0
    """Share of this round's groups that were informative (0 when none were passed)."""

    @property
    def full(self) -> bool:
        return self.needed == 0


def select_groups(
    groups: Sequence[Sequence[float]],
    batch_groups: int,
    *,
    have: int = 0,
    tol: float = 1e-6,
) -> GroupSelection:
    """Keep the informative groups of one round, up to ``batch_groups − have``.

    ``groups`` holds each group's values (correctness or reward); ``have`` is how many
    informative groups earlier rounds already collected for this batch.
    """
    if batch_groups < 1 or have < 0:
        raise ValueError(f"need batch_groups >= 1 and have >= 0, got {batch_groups}, {have}")
    room = max(0, batch_groups - have)
    keep, tied, surplus = [], [], []
    for i, values in enumerate(groups):
        if is_tied(values, tol):
            tied.append(i)
        elif len(keep) < room:
            keep.append(i)
        else:
            surplus.append(i)
    informative = len(keep) + len(surplus)
    return GroupSelection(
        keep=keep,
        tied=tied,
        surplus=surplus,
        needed=room - len(keep),
        informative_rate=informative / len(groups) if groups else 0.0,
    )


def prompts_to_draw(
    needed: int, informative_rate: float, *, floor: float = 0.1, cap: int | None = None
) -> int:
    """How many prompts to generate for next, to expect ``needed`` informative groups.

    ``ceil(needed / max(rate, floor))``: the observed rate, floored so that a round where no
    group was informative does not ask for an unbounded number; capped at ``cap`` if given.
    """
    if needed <= 0:
        return 0
    if not 0.0 < floor <= 1.0:
        raise ValueError(f"floor must be in (0, 1], got {floor}")
    n = math.ceil(needed / max(informative_rate, floor) - 1e-9)
    return min(n, cap) if cap is not None else n
