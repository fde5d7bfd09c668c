"""``report.html``: one self-contained file (inline CSS and SVG, no scripts, fonts or links to load).

Rendered from ``results.json`` alone by a Jinja2 template with autoescaping on, so model
text, prompts and checkpoint names can never inject markup. Sections, in reading order:

1. header — checkpoints (fingerprints, colour swatches), command, config, costs per probe
2. headline — per tuned checkpoint: target gains vs off-target losses, a sentence and a table
3. findings — each flagged regression grouped under its prescription (:mod:`.prescriptions`)
4. routing — which checkpoint each group's traffic should go to
5. claims, preflight — when the results carry them (lab claims table; preflight sections, each
   ``{title, verdict, level?, summary?, rows?: [dict], plot?: see plots.draw_generic, notes?}``;
   a ``kind: preflight`` result shows them right after the headline)
6. one section per probe — metric table (value [low, high], ▲/▼ with p_adj in the tooltip; slice
   rows folded) and its plots (:mod:`.plots`); an errored probe shows its error
7. sample outputs — a few completions per checkpoint, escaped

A missing optional key renders as nothing (ChainableUndefined), so other probes can land later.

    offtarget report runs/demo          # writes runs/demo/report.html
    >>> html = render_html(load_results("runs/demo"))
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markupsafe import Markup

from offtarget.report import plots
from offtarget.report.claims_plot import draw_claims
from offtarget.report.prescriptions import by_prescription, findings
from offtarget.report.verdict import RANK_RULE, verdicts

TEMPLATES = Path(__file__).parent / "templates"
FLAG_MARK = {"gain": "▲", "regression": "▼"}
HEADLINE_KINDS = (("target_gains", "target gain", "gain"), ("target_losses", "target loss", "regression"),
                  ("offtarget_losses", "off-target loss", "regression"),
                  ("offtarget_gains", "off-target gain", "gain"))


def render_html(results: dict) -> str:
    """The whole report as one HTML string."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=ChainableUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = num
    env.filters["signed"] = signed
    env.filters["shown"] = shown
    return env.get_template("report.html.j2").render(**context(results))


# ----------------------------------------------------------------------------- formatting

def num(x: Any) -> str:
    """A number for a table cell: 3 decimals, scientific for tiny values, ``n/a`` for null."""
    if x is None:
        return "n/a"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.1e}"
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.1f}"


SHOWN_CHARS = 2000
"""Longest model text a report cell shows; the rest is cut with its length (the whole is in results.json)."""
_INVISIBLE = {0x00: "␀", **{c: f"⟨U+{c:04X}⟩" for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                                                       *range(0x2066, 0x206A))}}


def shown(text: Any) -> str:
    """Model text made safe to look at: bidirectional overrides and marks shown as ``⟨U+202E⟩``
    (else they reorder the rest of the page), NUL as ␀, and text past :data:`SHOWN_CHARS` cut
    with its full length stated. HTML escaping stays with the template's autoescape."""
    if text is None:
        return ""
    text = str(text)
    total = len(text)
    cut = text[:SHOWN_CHARS].translate(_INVISIBLE)
    if total > SHOWN_CHARS:
        cut += f" … [cut: {total:,} characters in all; the whole text is under examples in results.json]"
    return cut


def signed(x: Any) -> str:
    if x is None:
        return "n/a"
    s = num(x)
    return s if s.startswith("-") or s == "n/a" else "+" + s


def interval(low: Any, high: Any) -> str:
    return "" if low is None or high is None else f"[{num(low)}, {num(high)}]"


def verdict_class(verdict: Any) -> str:
    """``good`` / ``bad`` / ``neutral`` guessed from a free-text verdict (claims, preflight)."""
    v = str(verdict or "").lower()
    if BAD_WORDS.search(v):
        return "bad"
    if GOOD_WORDS.search(v):
        return "good"
    return "neutral"


LEVELS = ("good", "bad", "neutral")
"""An explicit ``level`` on a claim or preflight section overrides the guess from its verdict text."""
BAD_WORDS = re.compile(r"\b(not|no|fail\w*|stop\w*|hack\w*|regress\w*|block\w*|refuted|unsafe|broken|false)\b")
GOOD_WORDS = re.compile(r"\b(reproduced|pass\w*|ok|go|safe|yes|confirmed|foothold|true|clean)\b")


# ----------------------------------------------------------------------------- view model

def context(results: dict) -> dict:
    """Everything the template needs, precomputed so the template stays declarative."""
    ckpts = results.get("checkpoints") or []
    names = [c["name"] for c in ckpts]
    ref = results.get("reference")
    colors = plots.checkpoint_colors(names, ref)
    probes = [probe_view(p, names, ref, colors, i) for i, p in enumerate(results.get("probes") or [])]
    found = findings(results)
    claims = results.get("claims") or []
    preflight = preflight_view(results.get("preflight"), colors)
    preflight_first = results.get("kind") == "preflight"
    show_routing = bool(results.get("routing")) or not preflight_first
    toc = [("verdict", "Verdict")] + ([("routing", "Routing")] if show_routing and results.get("routing") else [])
    toc += ([("preflight", "Preflight")] if preflight and preflight_first else [])
    toc += [("selfcheck", "Self-check")] if results.get("self_check") else []
    sampling = sampling_view(results)
    toc += [("sampling", "Sampling")] if sampling else []
    logged = [c for c in results.get("checkpoints") or [] if c.get("evidence")]
    toc += [("evidence", "Evidence from logs")] if logged else []
    toc += [("findings", "Findings"), ("headline", "All changes")]
    toc += [("claims", "Claims")] if claims else []
    toc += [("preflight", "Preflight")] if preflight and not preflight_first else []
    toc += [(p["anchor"], p["name"]) for p in probes]
    toc += [("examples", "Sample outputs")] if results.get("examples") else []
    return {
        "r": results,
        "title": f"offtarget {results.get('kind', 'audit')}: " + " vs ".join(names or ["(no checkpoints)"]),
        "names": names,
        "reference": ref,
        "colors": colors,
        "checkpoints": ckpts,
        "config_rows": config_rows(results.get("config") or {}),
        "costs": cost_rows(results.get("costs") or {}, results.get("probes") or []),
        "headline": [headline_view(h) for h in results.get("headline") or []],
        "findings": by_prescription(found),
        "n_findings": len(found),
        "routing": results.get("routing") or [],
        "routing_main": [x for x in results.get("routing") or [] if "/" not in (x.get("group") or "")],
        "routing_slices": [x for x in results.get("routing") or [] if "/" in (x.get("group") or "")],
        "claims": [claim_view(c) for c in claims],
        "preflight": preflight,
        "probes": probes,
        "examples": results.get("examples") or {},
        "sampling": sampling,
        "sampling_table": sampling_table(sampling),
        "verdicts": verdicts(results),
        "rank_rule": RANK_RULE,
        "claims_svg": Markup(svg) if (svg := draw_claims(claims)) else None,
        "logged": logged,
        "evidence_notes": results.get("evidence_notes") or [],
        "toc": toc,
        "self_check": results.get("self_check"),
        "preflight_first": preflight_first,
        "show_routing": show_routing,
    }


SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "max_new_tokens", "chat_template")


def sampling_view(results: dict, prompts: int = 3) -> list[dict]:
    """Per sampled checkpoint: the effective sampling parameters, which came from its
    generation_config, which of its settings were not applied, and a few rendered prompts."""
    out = []
    for c in results.get("checkpoints") or []:
        s = c.get("sampling")
        if not s:
            continue
        sampled, greedy = s.get("sampled") or {}, s.get("greedy") or {}
        used = s.get("from_generation_config") or {}
        taken = {k for part in used.values() for k in part}
        rows = [(k, sampled.get(k), greedy.get(k) if greedy and k in ("repetition_penalty", "max_new_tokens",
                                                                      "chat_template") else None, k in taken)
                for k in SAMPLING_FIELDS]
        rendered = [e for e in (results.get("examples") or {}).get(c["name"], []) if e.get("rendered_prompt")]
        out.append({"name": c["name"], "rows": rows, "greedy": bool(greedy),
                    "use_generation_config": bool(s.get("use_generation_config")),
                    "ignored": s.get("ignored_generation_config") or {}, "key": sampled.get("key"),
                    "tokenizer_fingerprint": c.get("tokenizer_fingerprint"), "examples": rendered[:prompts]})
    return out


def sampling_table(sampling: list[dict]) -> dict:
    """One table for every checkpoint: a parameter's value once when all agree, else one column per
    checkpoint with the row marked ``differs``."""
    names = [c["name"] for c in sampling]
    rows = []
    for i, k in enumerate(SAMPLING_FIELDS):
        cells = [(c["rows"][i][1], c["rows"][i][2], c["rows"][i][3]) for c in sampling]
        rows.append({"param": k, "cells": cells, "differs": len(set(map(repr, cells))) > 1})
    keys = [c["key"] for c in sampling]
    return {"names": names, "rows": rows, "same": not any(r["differs"] for r in rows),
            "greedy": any(c["greedy"] for c in sampling), "keys_differ": len(set(keys)) > 1}


def config_rows(cfg: dict) -> list[tuple[str, str]]:
    rows = []
    for k, v in cfg.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        elif isinstance(v, (list, tuple)):
            v = ", ".join(map(str, v))
        rows.append((k, "—" if v is None else str(v)))
    return rows


def cost_rows(costs: dict, probes: list[dict]) -> list[tuple[str, str]]:
    rows = []
    for k, v in costs.items():
        label = k.removeprefix("probe:") if k.startswith("probe:") else k.replace("_", " ")
        rows.append((label, f"{v:.2f} s" if isinstance(v, (int, float)) else str(v)))
    if not costs:
        rows = [(p["probe"], f"{p.get('seconds', 0):.2f} s") for p in probes]
    return rows


def headline_view(h: dict) -> dict:
    rows = []
    for field, label, flag in HEADLINE_KINDS:
        for item in h.get(field) or []:
            rows.append({**item, "kind": label, "flag": flag, "sub": "/" in item.get("group", "")})
    rows.sort(key=lambda r: r["sub"])
    counts = {label: len(h.get(field) or []) for field, label, _ in HEADLINE_KINDS}
    # the compact table: what training bought and what it cost, on whole splits; the rest one click away
    main = [r for r in rows if not r["sub"] and r["kind"] != "off-target gain"]
    return {**h, "rows": main, "more": [r for r in rows if r not in main], "counts": counts}


def claim_view(c: dict) -> dict:
    notes = c.get("notes")
    if isinstance(notes, (list, tuple)):
        notes = "; ".join(map(str, notes))
    level = c.get("level") if c.get("level") in LEVELS else verdict_class(c.get("verdict"))
    return {"claim": c.get("claim", ""), "source": c.get("source", ""), "comparison": c.get("comparison", ""),
            "level": level, "effect_name": c.get("effect_name", ""), "recipe": c.get("recipe", ""),
            "effect": c.get("effect"), "interval": interval(c.get("low"), c.get("high")),
            "verdict": c.get("verdict", ""), "notes": notes or ""}


def preflight_view(pre: Any, colors: dict[str, str]) -> list[dict]:
    """Sections of ``results["preflight"]``: each ``{title, verdict, summary?, rows?, plot?, notes?}``."""
    if not pre:
        return []
    items = pre.items() if isinstance(pre, dict) else ((s.get("name", f"section{i}"), s) for i, s in enumerate(pre))
    out = []
    for key, sec in items:
        if not isinstance(sec, dict):
            continue
        rows = [r for r in (sec.get("rows") or []) if isinstance(r, dict)]
        columns = list(dict.fromkeys(k for r in rows for k in r))
        svg = plots.draw_generic(sec.get("plot"), colors, salt=f"pre-{key}") if sec.get("plot") else None
        notes = sec.get("notes") or []
        out.append({
            "key": str(key), "title": sec.get("title") or str(key), "verdict": sec.get("verdict", ""),
            "level": sec.get("level") if sec.get("level") in LEVELS else verdict_class(sec.get("verdict")),
            "summary": sec.get("summary", ""), "columns": columns,
            "rows": [[cell(r.get(c)) for c in columns] for r in rows],
            "svg": Markup(svg) if svg else None,
            "plot_title": (sec.get("plot") or {}).get("title", "") if isinstance(sec.get("plot"), dict) else "",
            "notes": [notes] if isinstance(notes, str) else list(notes),
        })
    return out


def cell(v: Any) -> str:
    if isinstance(v, float):
        return num(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(cell(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={cell(x)}" for k, x in v.items())
    return "" if v is None else str(v)


def probe_view(p: dict, names: list[str], ref: str | None, colors: dict[str, str], index: int) -> dict:
    """One probe's metric table (rows of cells) and drawn plots."""
    anchor = f"probe-{index}-{''.join(ch if ch.isalnum() else '-' for ch in p.get('probe', 'probe'))}"
    view = {"name": p.get("probe", "?"), "anchor": anchor, "description": p.get("description", ""),
            "source": p.get("source", ""), "error": p.get("error"), "notes": p.get("notes") or [],
            "seconds": p.get("seconds"), "rows": [], "slice_rows": [], "slice_flags": 0, "plots": [],
            "unplotted": [], "extras": []}
    if p.get("error"):
        return view
    metrics = p.get("metrics") or []
    keyed = {(m["metric"], m["group"], m["checkpoint"]): m for m in metrics}
    comps = {(c["metric"], c["group"], c["checkpoint"]): c for c in p.get("comparisons") or []}
    for metric, group in dict.fromkeys((m["metric"], m["group"]) for m in metrics):
        cells = []
        for n in names:
            m = keyed.get((metric, group, n))
            c = comps.get((metric, group, n))
            cells.append(metric_cell(m, c))
        flagged = any(x["flag"] != "none" for x in cells)
        row = {"metric": metric, "group": group, "sub": "/" in group, "cells": cells, "flagged": flagged}
        view["slice_rows" if row["sub"] else "rows"].append(row)
    view["slice_flags"] = sum(r["flagged"] for r in view["slice_rows"])
    for key, data in (p.get("plots") or {}).items():
        if not data:
            continue
        spec = plots.PLOTS.find(key)
        if spec is None:
            view["unplotted"].append(key)
            continue
        try:
            svg = plots.draw(key, data, colors, salt=f"{index}")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            view["unplotted"].append(f"{key} (could not be drawn: {type(exc).__name__}: {exc})")
            continue
        if svg:
            view["plots"].append({"key": key, "title": spec.title, "caption": spec.caption, "svg": Markup(svg)})
    for k, v in (p.get("extras") or {}).items():
        view["extras"].append((k, cell(v) if not isinstance(v, dict) else extra_text(v)))
    return view


def extra_text(v: dict) -> str:
    parts = []
    for k, x in v.items():
        parts.append(f"{k}: {extra_text(x) if isinstance(x, dict) else cell(x)}")
    return "; ".join(parts)


def metric_cell(m: dict | None, c: dict | None) -> dict:
    """Text, flag and tooltip for one checkpoint's value of one metric on one group."""
    if m is None:
        return {"text": "", "interval": "", "flag": "none", "mark": "", "title": ""}
    title = m.get("reason") or ""
    flag = "none"
    if c is not None:
        flag = c.get("flag") or "none"
        title = (f"{c.get('checkpoint')} − {c.get('reference')}: {signed(c.get('diff'))} "
                 f"{interval(c.get('low'), c.get('high'))}, p_adj = {num(c.get('p_adjusted'))} "
                 f"({c.get('test', '')}, n = {c.get('n')})")
        if c.get("reason"):
            title += f"; {c['reason']}"
    return {"text": num(m.get("value")), "interval": interval(m.get("low"), m.get("high")), "flag": flag,
            "mark": FLAG_MARK.get(flag, ""), "title": title}
