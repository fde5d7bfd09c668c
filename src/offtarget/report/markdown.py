"""``report.md``: the headline, routing and every metric table in plain Markdown."""

from __future__ import annotations


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def render_markdown(results: dict) -> str:
    ref = results["reference"]
    names = [c["name"] for c in results["checkpoints"]]
    lines = [f"# offtarget {results.get('kind', 'audit')}: {', '.join(names)} (reference: {ref})", ""]
    lines += ["## Headline", ""] + [f"- {h['summary']}" for h in results["headline"]] + [""]
    lines += ["## Routing", "", "| group | send to | why |", "|---|---|---|"]
    lines += [f"| {r['group']} | {r['route_to']} | {r['why']} |" for r in results["routing"]] + [""]
    for p in results["probes"]:
        lines += [f"## {p['probe']}", "", p["description"] + (f" — {p['source']}" if p["source"] else ""), ""]
        if p.get("error"):
            lines += [f"**not run:** {p['error']}", ""]
            continue
        lines += ["| metric | group | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        keyed = {(m["metric"], m["group"], m["checkpoint"]): m for m in p["metrics"]}
        flags = {(c["metric"], c["group"], c["checkpoint"]): c["flag"] for c in p["comparisons"]}
        for metric, group in dict.fromkeys((m["metric"], m["group"]) for m in p["metrics"]):
            cells = []
            for n in names:
                m = keyed.get((metric, group, n))
                mark = {"gain": " ▲", "regression": " ▼"}.get(flags.get((metric, group, n), "none"), "")
                cells.append("" if m is None else f"{_f(m['value'])} [{_f(m['low'])}, {_f(m['high'])}]{mark}")
            lines.append(f"| {metric} | {group} | " + " | ".join(cells) + " |")
        lines += [""] + [f"- {n}" for n in p.get("notes", [])] + [""]
    return "\n".join(lines) + "\n"
