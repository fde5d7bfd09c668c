"""``report.md``: the same story as the HTML report in plain Markdown (for PRs, issues, terminals).

Headline, findings with prescriptions (:mod:`offtarget.report.prescriptions`), routing, the
optional claims and preflight sections, then every probe's metric table. Sample model
outputs stay in ``report.html`` (escaped there); Markdown has no safe way to show raw text.

    offtarget report runs/demo          # writes runs/demo/report.md
    >>> md = render_markdown(AuditResults.load("runs/demo"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from offtarget.report.prescriptions import by_prescription, findings

if TYPE_CHECKING:
    from offtarget.audit.results import AuditResults
    from offtarget.probes.base import ProbeResult


def _f(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:.3f}" if v == 0 or abs(v) >= 1e-3 else f"{v:.1e}"


def _s(v) -> str:
    """Signed."""
    return "n/a" if v is None else ("+" if v >= 0 else "") + _f(v)


def _cell(v: Any) -> str:
    """Table-safe text: no pipes or newlines breaking the row."""
    if isinstance(v, float):
        v = _f(v)
    elif isinstance(v, (list, tuple)):
        v = "; ".join(map(str, v))
    elif v is None:
        v = ""
    return str(v).replace("|", "\\|").replace("\n", " ")


def _row(cells) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list]) -> list[str]:
    return [_row(header), "|" + "---|" * len(header)] + [_row(r) for r in rows] + [""]


def render_markdown(results: AuditResults) -> str:
    """The report of typed ``results``; the sections not typed there (verdict, sampling, headline
    rows, self-check, findings, claims, preflight, costs) are read from ``results.raw``."""
    raw = results.raw
    ref = results.reference
    names = [c.name for c in results.checkpoints]
    lines = [f"# offtarget {results.kind}: {', '.join(names)} (reference: {ref})", ""]
    meta = [x for x in (raw.get("created"), raw.get("task") and f"task {raw['task']}",
                        raw.get("offtarget_version") and f"offtarget {raw['offtarget_version']}") if x]
    if meta:
        lines += [" · ".join(meta), ""]
    lines += _verdict(raw)
    lines += ["## Routing: which checkpoint for which slice", ""] + _table(
        ["group", "send to", "why"], [[r.group, r.route_to, r.why] for r in results.routing])
    lines += ["## Details", ""]
    if raw.get("command"):
        lines += ["```", raw["command"], "```", ""]
    lines += _table(["checkpoint", "path", "fingerprint", "problems × samples"],
                    [[c.name, c.path, c.fingerprint, f"{c.n_problems} × {c.n_samples}"] for c in results.checkpoints])
    lines += _sampling(raw) + _evidence(raw)
    lines += _headline(raw) + self_check_section(raw.get("self_check")) + _findings(raw)
    lines += _claims(raw.get("claims")) + _preflight(raw.get("preflight"))
    for p in results.probes:
        lines += _probe(p, names)
    costs = raw.get("costs") or {}
    if costs:
        lines += ["## Costs", ""] + _table(["step", "seconds"], [[k.removeprefix("probe:"), v] for k, v in costs.items()])
    return "\n".join(lines) + "\n"


def _verdict(results: dict) -> list[str]:
    """Per tuned checkpoint: the sentence, the target change, the worst regression per concern."""
    from offtarget.report.verdict import RANK_RULE, verdicts

    found = verdicts(results)
    if not found:
        return []
    lines = ["## Verdict", ""]
    for v in found:
        lines += [f"**{_cell(v['sentence'])}**", ""]
        if v["target"]:
            lines.append(f"- {_cell(v['target']['text'])}")
        lines += [f"- ▼ {_cell(x['text'])} ({x['ratio']}× half-width)" for x in v["lines"]]
        if v["hidden"]:
            lines.append(f"- {v['hidden']} more off-target regression(s): see Findings")
        lines.append("")
    return lines + [f"Off-target lines {RANK_RULE}.", ""]


def _sampling(results: dict) -> list[str]:
    """The sampling parameters as applied per checkpoint, and one rendered prompt each (indented
    code block: the prompt is shown as text, nothing in it is rendered)."""
    from offtarget.report.html import sampling_view

    view = sampling_view(results, prompts=1)
    if not view:
        return []
    lines = ["## Sampling", "", ("Parameters as applied; `generation_config` marks a value taken from the "
                                 "checkpoint's generation_config.json (use_generation_config), every other "
                                 "value is the stated one."), ""]
    fields = [k for k, *_ in view[0]["rows"]]
    header = ["checkpoint", *fields, "greedy repetition_penalty", "use_generation_config"]
    rows = [[c["name"], *[f"{v} (generation_config)" if taken else v for _, v, _, taken in c["rows"]],
             {k: g for k, _, g, _ in c["rows"]}.get("repetition_penalty") if c["greedy"] else "",
             c["use_generation_config"]] for c in view]
    if len({repr(r[1:]) for r in rows}) == 1:  # equal everywhere: shown once
        rows = [[f"all {len(rows)} checkpoints", *rows[0][1:]]]
    else:  # the columns that differ are marked
        header = [h if i == 0 or len({repr(r[i]) for r in rows}) == 1 else f"**≠ {h}**" for i, h in enumerate(header)]
    lines += _table(header, rows)
    for c in view:
        if c["ignored"]:
            lines += [f"- {c['name']}: generation_config settings not applied: "
                      + ", ".join(f"{k}={v}" for k, v in c["ignored"].items()), ""]
        for e in c["examples"]:
            lines += [f"Rendered prompt of {c['name']} (`{e['problem']}`):", ""]
            lines += ["    " + line for line in e["rendered_prompt"].split("\n")] + [""]
    return lines


def _evidence(results: dict) -> list[str]:
    """Checkpoints whose completions came from eval logs (lm-eval, Inspect, JSONL), and what that changes."""
    logged = [c for c in results["checkpoints"] if c.get("evidence")]
    if not logged:
        return []
    lines = ["## Evidence from logs", "", ("Completions read from these logs and re-graded by offtarget's verifier "
                                           "(the harness's own scores are not used)."), ""]
    rows = []
    for c in logged:
        ev = c["evidence"]
        smp = ev.get("sampling") or {}
        rows.append([c["name"], ev.get("source"), ev.get("log"), ev.get("harness"), ev.get("rows"),
                     ", ".join(f"{k} {v}" for k, v in smp.items() if v is not None)])
    lines += _table(["checkpoint", "source", "log", "harness", "rows", "sampling stated in the log"], rows)
    lines += [f"- {n}" for n in results.get("evidence_notes") or []]
    return lines + [""]


def _headline(results: dict) -> list[str]:
    lines = ["## Headline", ""]
    for h in results["headline"]:
        lines += [f"**{h['summary']}**", ""]
        rows = []
        for field, label in (("target_gains", "target gain"), ("target_losses", "target loss"),
                             ("offtarget_losses", "off-target loss"), ("offtarget_gains", "off-target gain")):
            for x in h.get(field) or []:
                if "/" in x["group"]:
                    continue
                mark = "▲" if field.endswith("gains") else "▼"
                rows.append([label, x["metric"], x["group"], f"{_f(x['reference_value'])} → {_f(x['value'])}",
                             f"{mark} {_s(x['diff'])} [{_s(x['low'])}, {_s(x['high'])}]", _f(x["p_adjusted"])])
        if rows:
            lines += _table(["change", "metric", "group", f"{h['reference']} → {h['checkpoint']}", "diff [95% CI]",
                             "p_adj"], rows)
    if not results["headline"]:
        lines += ["Only one checkpoint: nothing to compare.", ""]
    return lines


def self_check_section(check: dict | None) -> list[str]:
    """The audit's own false-alarm rate (split-half null audits) and minimum detectable effects."""
    if not check:
        return []
    fa = check.get("false_alarm") or {}
    lines = ["## Self-check: false alarms and detectable effects", "", check.get("summary", ""), ""]
    lines += [f"Test: {check.get('test', '')}. {fa.get('method', '')}; every flag there is a false alarm.", ""]
    if fa.get("audits"):
        lines += _table(["checkpoint", "samples per half", "tests", f"p < {check['alpha']:g}", "Holm flags"],
                        [[a["checkpoint"], a["samples_per_half"], a["tests"], a["p_below_alpha"], a["flags"]]
                         for a in fa["audits"]])
    mde = [m for m in check.get("mde") or [] if m.get("mde") is not None]
    if mde:
        lines += [(f"Minimum detectable {check.get('mde_metric', 'accuracy')} change (80% power at the report's "
                   "Holm level): a group without a flag rules out changes this large, not smaller ones."), ""]
        lines += _table(["checkpoint", "group", "problems", "diff", "MDE"],
                        [[m["checkpoint"], m["group"], m["n"], _s(m["diff"]), _f(m["mde"])] for m in mde])
    if check.get("too_small"):
        lines += [(f"{check['too_small']} comparison(s) too small to test (even the most extreme outcome could not "
                   "reach significance): reported without a p-value, outside the Holm family."), ""]
    if check.get("not_compared"):
        lines += [(f"{check['not_compared']} token-level comparison(s) not made: the checkpoints do not share a "
                   "tokenizer (or it could not be identified)."), ""]
    return lines


def _findings(results: dict) -> list[str]:
    lines = ["## Findings and prescriptions", ""]
    groups = by_prescription(findings(results))
    if not groups:
        return lines + ["No flagged regressions: no prescription needed.", ""]
    for g in groups:
        lines += [f"### {g['checkpoint']}: {g['problem']}", "", f"**Prescription:** {g['prescription']}", ""]
        if g["command"]:
            lines += [f"`{g['command']}`", ""]
        if g["context"]:
            lines += ["Measured: " + "; ".join(g["context"]), ""]
        if g["source"]:
            lines += [f"Source: {g['source']}", ""]
        lines += _table(["probe", "metric", "group", f"{g['reference']} → {g['checkpoint']}", "diff [95% CI]", "p_adj"],
                        [[e["probe"], e["metric"], e["group"], f"{_f(e['reference_value'])} → {_f(e['value'])}",
                          f"▼ {_s(e['diff'])} [{_s(e['low'])}, {_s(e['high'])}]", _f(e["p_adjusted"])]
                         for e in g["evidence"]])
    return lines


def _claims(claims) -> list[str]:
    if not claims:
        return []
    rows = [[c.get("claim"), c.get("source"), c.get("comparison"),
             (f"{c['effect_name']} " if c.get("effect_name") else "")
             + f"{_s(c.get('effect'))} [{_s(c.get('low'))}, {_s(c.get('high'))}]", c.get("verdict"), c.get("notes")]
            for c in claims]
    return ["## Claims", ""] + _table(["claim", "source", "comparison", "effect [95% CI]", "verdict", "notes"], rows)


def _preflight(pre) -> list[str]:
    if not pre:
        return []
    lines = ["## Preflight", ""]
    items = pre.items() if isinstance(pre, dict) else ((s.get("name", str(i)), s) for i, s in enumerate(pre))
    for key, sec in items:
        if not isinstance(sec, dict):
            continue
        verdict = f" — **{sec['verdict']}**" if sec.get("verdict") else ""
        lines += [f"### {sec.get('title') or key}{verdict}", ""]
        if sec.get("summary"):
            lines += [sec["summary"], ""]
        rows = [r for r in sec.get("rows") or [] if isinstance(r, dict)]
        if rows:
            cols = list(dict.fromkeys(k for r in rows for k in r))
            lines += _table(cols, [[r.get(c) for c in cols] for r in rows])
        notes = sec.get("notes") or []
        lines += [f"- {n}" for n in ([notes] if isinstance(notes, str) else notes)] + ([""] if notes else [])
    return lines


def _probe(p: ProbeResult, names: list[str]) -> list[str]:
    lines = [f"## {p.probe}", "", p.description + (f" — {p.source}" if p.source else ""), ""]
    if p.error:
        return lines + [f"**not run:** {p.error}", ""]
    if p.metrics:
        keyed = {(m.metric, m.group, m.checkpoint): m for m in p.metrics}
        flags = {(c.metric, c.group, c.checkpoint): c for c in p.comparisons}
        rows = []
        for metric, group in dict.fromkeys((m.metric, m.group) for m in p.metrics):
            cells = []
            for n in names:
                m = keyed.get((metric, group, n))
                c = flags.get((metric, group, n))
                mark = {"gain": " ▲", "regression": " ▼"}.get(c.flag if c else "none", "")
                if mark:
                    mark += f" (p_adj {_f(c.p_adjusted)})"
                cells.append("" if m is None else f"{_f(m.value)} [{_f(m.low)}, {_f(m.high)}]{mark}")
            rows.append([metric, group, *cells])
        lines += _table(["metric", "group", *names], rows)
    lines += [f"- {n}" for n in p.notes] + [""]
    return lines
