"""Formats: which output formats does the checkpoint use, and has it collapsed onto one?

RL on a verifiable reward amplifies the output format that was most rewarded before RL until
the others all but vanish ("Echo Chamber: RL Post-training Amplifies Behaviors Learned in
Pretraining", Zhao et al. 2025, arXiv 2504.07912); the lab saw it after GRPO (direct / reversed /
steps 0.52/0.25/0.23 → 0.01/0.985/0.003 in its feasibility study). Over the pooled samples of
the *answerable* problems of a group, counting only *answers* (samples whose format is one of
the task's formats, so abstentions and malformed output do not pose as a format; the few
answers given to unanswerable items say nothing about the format mix):

- ``format_share_<format>`` — share of answers in that format, one metric per format the
  task declares or the verifier returned. Descriptive.
- ``dominant_format_share`` — the largest of those shares. Lower is better (collapse).
- ``format_entropy`` — Shannon entropy (nats) of the format shares; 0 when one format holds
  everything, ln K when K formats are equally used. Higher is better.
- ``malformed_share`` — share of *all* samples the verifier could not parse. Lower is better.

A task with a single format (e.g. a JSONL task whose only format is ``answer``) gets only the
malformed share; the collapse metrics would be trivially 1 and 0.

Plot ``format_shares``: ``{split: {checkpoint: {format: share}}}``, the same shares (answerable
problems).

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes formats
"""

from __future__ import annotations

import numpy as np

from offtarget.metrics.formats import share_of, shares
from offtarget.probes.base import ProbeResult, drop_undefined, evaluate, groups, spec_of
from offtarget.probes.registry import register_probe

NOT_A_FORMAT = ("abstain", "malformed", "truncated-reasoning")


def answer_formats(task, evidences) -> list[str]:
    """The task's formats, then any other label the verifier returned, abstain/malformed aside."""
    seen = list(getattr(task, "formats", ()))
    for ev in evidences.values():
        for label in np.unique(ev.formats.astype(str)):
            if label not in seen and label not in NOT_A_FORMAT:
                seen.append(label)
    return seen


def format_counts(ev, formats: list[str]) -> np.ndarray:
    """(problems, formats) counts of answers in each format."""
    return np.stack([(ev.formats == f).sum(1) for f in formats], axis=1).astype(float)


def specs(formats: list[str]) -> list:
    def counts(ev, formats=tuple(formats)):
        return (format_counts(ev, list(formats)),)

    out = [spec_of(f"format_share_{f}", counts, description=f"share of answers in format {f!r}",
                   statistic=share_of(k), unit="problem") for k, f in enumerate(formats)]
    if len(formats) > 1:
        out += [spec_of("dominant_format_share", counts, unit="problem"),
                spec_of("format_entropy", counts, unit="problem")]
    out.append(spec_of("malformed_share", lambda ev: ((ev.formats == "malformed").astype(float),), rows="all"))
    return out


def shares_plot(ctx, formats: list[str]) -> dict:
    problems = ctx.evidences[ctx.reference].problems
    answerable = np.array([not p.should_abstain for p in problems])
    out: dict[str, dict] = {}
    for group, idx in groups(problems).items():
        idx = idx[answerable[idx]]
        if "/" in group or not len(idx):
            continue
        out[group] = {}
        for name, ev in ctx.evidences.items():
            s = shares(format_counts(ev, formats)[idx][None])[0]
            out[group][name] = {f: (None if np.isnan(v) else float(v)) for f, v in zip(formats, s)}
    return out


@register_probe("formats")
def run(ctx) -> ProbeResult:
    formats = answer_formats(ctx.task, ctx.evidences)
    metrics, comparisons = evaluate("formats", specs(formats), ctx.evidences, ctx.reference,
                                    ctx.settings.bootstrap, ctx.settings.seed)
    metrics, comparisons = drop_undefined(metrics, comparisons)
    notes = [("format shares, dominant share and entropy count answers to answerable problems only "
              "(abstentions and malformed output excluded); malformed_share is over all samples")]
    if len(formats) < 2:
        notes.append(f"the task has one answer format ({', '.join(formats) or 'none'}): "
                     "dominant share and format entropy skipped")
    return ProbeResult(
        "formats", "output-format distribution and format collapse",
        "Echo Chamber, Zhao et al. 2025 (arXiv 2504.07912)",
        metrics, comparisons, plots={"format_shares": shares_plot(ctx, formats)},
        extras={"formats": formats}, notes=notes,
    )
