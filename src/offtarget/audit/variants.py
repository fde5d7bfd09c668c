"""Extra prompts a probe asks for, sampled with the suite's own and kept apart from them.

Some probes measure how a model answers a *changed* question (the framing probe re-asks each
problem under an emotional frame or a wrong-answer hint). Those prompts go through the same
store, sampling settings and verifier as the suite's problems — one sampling pass per
checkpoint, resumable, reused by later audits — and are split off again before probes run, so
accuracy, pass@k and every other probe see only the suite.

    >>> extra = variant_problems(cfg, probes, problems)      # {"framing": [Problem, ...]}
    >>> evidences, variants = split_evidence(evidences, len(problems), extra)
"""

from __future__ import annotations

import dataclasses

from offtarget.errors import OfftargetError


def variant_problems(cfg, probes, problems) -> dict[str, list]:
    """Probe name → its extra problems; none when a checkpoint is a log (nothing to sample)."""
    from offtarget.evidence import parse_model_spec

    if any(parse_model_spec(path).is_log for path in cfg.models.values()):
        return {}
    out: dict[str, list] = {}
    seen = {p.id for p in problems}
    for info in probes:
        if info.variants is None:
            continue
        extra = info.variants(cfg, problems)
        clash = next((p.id for p in extra if p.id in seen), None)
        if clash is not None:
            raise OfftargetError(f"probe {info.name}: extra problem id {clash!r} is already a problem of the suite; "
                                 "rename the suite's problem")
        seen |= {p.id for p in extra}
        out[info.name] = extra
    return out


def subset(ev, rows: range):
    """The evidence of ``ev`` restricted to problem rows ``rows`` (arrays recomputed)."""
    pick = list(rows)
    greedy = None if ev.greedy is None else [ev.greedy[i] for i in pick]
    greedy_verdicts = None if ev.greedy_verdicts is None else [ev.greedy_verdicts[i] for i in pick]
    return dataclasses.replace(ev, problems=[ev.problems[i] for i in pick], samples=[ev.samples[i] for i in pick],
                               verdicts=[ev.verdicts[i] for i in pick], greedy=greedy,
                               greedy_verdicts=greedy_verdicts, arrays={})


def split_evidence(evidences: dict, n_suite: int, extra: dict[str, list]) -> tuple[dict, dict]:
    """Evidence of the suite's first ``n_suite`` problems, and per probe the evidence of its extra ones."""
    if not extra:
        return evidences, {}
    suite = {name: subset(ev, range(n_suite)) for name, ev in evidences.items()}
    out: dict[str, dict] = {}
    start = n_suite
    for probe, problems in extra.items():
        rows = range(start, start + len(problems))
        out[probe] = {name: subset(ev, rows) for name, ev in evidences.items()}
        start += len(problems)
    return suite, out
