"""Run a preflight end to end: foothold → reward red-team → SFT-defect audit → results.json.

Sampling goes through the run store (:mod:`offtarget.store`, via
:func:`offtarget.audit.evidence.collect`), so a re-run of the same command generates nothing
and an interrupted one resumes. The result is a ``results.json`` of kind ``preflight`` whose
``preflight`` key holds one section per check — ``{title, verdict, level, summary, rows, plot,
notes}`` — which ``report.md`` and ``report.html`` render; the defect audit's metric tables sit
under ``probes`` like an audit's, paired against the reference.

    >>> from offtarget.preflight.config import PreflightConfig
    >>> results = run_preflight(PreflightConfig(model="models/lab/sft", checks=("redteam",),
    ...                                         out="runs/pf_doc", bootstrap=200))    # doctest: +SKIP

    offtarget preflight --model models/lab/sft --reference models/lab/base --out runs/pf
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from offtarget.audit.compare import apply_holm, headline
from offtarget.audit.config import AuditConfig
from offtarget.audit.evidence import collect
from offtarget.audit.runner import progress_bar
from offtarget.errors import OfftargetError
from offtarget.models.loading import describe
from offtarget.preflight import foothold as fh_mod
from offtarget.preflight import redteam as rt_mod
from offtarget.preflight import sft_data as data_mod
from offtarget.preflight import sft_defects as defects_mod
from offtarget.preflight.config import PreflightConfig
from offtarget.probes import ProbeResult, select
from offtarget.probes.context import AuditContext
from offtarget.probes.settings import ProbeSettings
from offtarget.report.results import provenance, write_results
from offtarget.store import GenerationStore
from offtarget.tasks import get_task

WINDOW_FILE = "foothold_window.jsonl"
"""The trainer's input: GRPO rows of the prompts inside the difficulty window."""


def checkpoint_names(cfg: PreflightConfig) -> tuple[str, str | None]:
    """Report names: the directories' names, or ``model`` / ``reference`` when they clash."""
    model = Path(cfg.model).name or "model"
    if cfg.reference is None:
        return model, None
    ref = Path(cfg.reference).name or "reference"
    return (model, ref) if model != ref else ("model", "reference")


def audit_config(cfg: PreflightConfig, models: dict[str, str], splits: tuple[str, ...]) -> AuditConfig:
    """The sampling settings of an audit, for :func:`offtarget.audit.evidence.collect` and probes."""
    return AuditConfig(
        models=models, reference=next(iter(models)), suite=cfg.suite, out=cfg.out, problems=cfg.problems,
        splits=splits, samples=cfg.samples, temperature=cfg.temperature, top_p=cfg.top_p,
        max_new_tokens=cfg.max_new_tokens, greedy=False, chat_template=cfg.chat_template,
        probes=cfg.probes or ("accuracy",), seed=cfg.seed, bootstrap=cfg.bootstrap, alpha=cfg.alpha,
        batch_sequences=cfg.batch_sequences, device=cfg.device, dtype=cfg.dtype,
        trust_remote_code=cfg.trust_remote_code,
    )


def _problems(task, split: str, n: int, seed: int, what: str):
    try:
        problems = task.problems(split, n, seed=seed)
    except ValueError as exc:
        raise OfftargetError(f"--split {split}: {exc}") from None
    if not problems:
        raise OfftargetError(f"suite {getattr(task, 'name', '?')!r} has no problems in split {split!r} for the "
                             f"{what}; pass --split with a split the suite has (e.g. --split test)")
    return problems


# ---------------------------------------------------------------------------------------------
# The three checks


def run_foothold(cfg: PreflightConfig, task, store, progress, name: str) -> tuple[dict, dict, object]:
    problems = _problems(task, cfg.split, cfg.problems, cfg.seed, "foothold")
    ev = collect(audit_config(cfg, {name: cfg.model}, (cfg.split,)), task, problems, store, progress)[name]
    fh = fh_mod.measure_foothold(fh_mod.success_matrix(problems, ev.verdicts), problems, cfg.group_size,
                                 cfg.window, n_resamples=cfg.bootstrap, seed=cfg.seed)
    path = Path(cfg.out) / WINDOW_FILE
    kept = fh_mod.write_window_jsonl(path, fh)
    level = {"healthy": "good", "mostly saturated": "neutral", "mostly unsolved": "neutral"}.get(fh.verdict, "bad")
    section = {
        "title": f"Foothold: pass rates of {name} on {len(problems)} {cfg.split} prompts",
        "verdict": fh.verdict, "level": level,
        "summary": fh.summary + f" The window's prompts are in {WINDOW_FILE} ({kept} rows, the trainer's input).",
        "rows": fh.per_slice, "plot": fh.histogram(),
        "notes": [
            "success = the task's right response: a correct answer, or an abstention on an unanswerable item",
            f"tied groups at G={cfg.group_size}: p^G + (1 − p)^G per prompt, "
            + ("unbiased U-statistic C(c,G)/C(k,G) + C(k−c,G)/C(k,G)" if fh.unbiased else
               f"plug-in (G > k = {cfg.samples}; raise --samples for the unbiased estimate)"),
        ],
    }
    details = {
        "samples": fh.samples, "group_size": fh.group_size, "window": list(cfg.window), "window_file": str(path),
        "kept": kept, "never_solved": asdict(fh.never_solved), "always_solved": asdict(fh.always_solved),
        "mean_pass_rate": asdict(fh.mean_pass_rate), "tied": asdict(fh.tied),
        "tied_all_wrong": fh.tied_all_wrong, "tied_all_right": fh.tied_all_right,
        "counts": fh.window.counts(), "pass_rates": fh.pass_rates,
    }
    return section, details, ev


def _tokenizer(cfg: PreflightConfig):
    """The policy's tokenizer for TRL-shaped ``completion_ids`` (UTF-8 bytes if it does not load)."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(cfg.model, trust_remote_code=cfg.trust_remote_code)
    except Exception:  # noqa: BLE001 - completion_ids are a courtesy; rewards rarely read them
        return None


def resolve_rewards(cfg: PreflightConfig, task) -> list[tuple[str, object]]:
    """The rewards to red-team, loaded up front so a typo fails before any sampling."""
    return [rt_mod.resolve_reward(s, task) for s in (cfg.rewards or rt_mod.DEFAULT_REWARDS)]


def run_redteam(cfg: PreflightConfig, task, rewards: list[tuple[str, object]]) -> tuple[dict, dict]:
    pool = _problems(task, cfg.split, cfg.redteam_problems * 2, cfg.seed + 1, "red-team")
    problems = [p for p in pool if not p.should_abstain and p.answer is not None][: cfg.redteam_problems]
    if not problems:
        raise OfftargetError(f"split {cfg.split!r} has no answerable problems to write red-team completions for")
    tok = _tokenizer(cfg)
    reports = [rt_mod.red_team(fn, name, problems, task, tolerance=cfg.tolerance, tokenizer=tok,
                               n_resamples=cfg.bootstrap, seed=cfg.seed) for name, fn in rewards]
    rows, notes = [], []
    for r in reports:
        worst = r.exploits[0] if r.exploits else None
        rows.append({
            "reward": r.reward, "verdict": r.verdict, "honest_correct": r.honest_correct,
            "honest_wrong": r.honest_wrong, "best_honest_wrong": r.honest_wrong_variant,
            "exploits": len(r.exploits), "worst_pattern": worst.pattern if worst else None,
            "gain": worst.gain.value if worst else None, "low": worst.gain.low if worst else None,
            "high": worst.gain.high if worst else None,
            "example": rt_mod.clip(worst.example) if worst else None,
            "example_reward": worst.example_reward if worst else None, "errors": len(r.errors),
            "underpaid_wrappers": len(r.underpaid),
        })
        notes += [f"{r.reward}: {e}" for e in r.errors]
        notes += [f"{r.reward}: returns None on {p.pattern} ({p.n_none} rows; TRL drops them from the group "
                  "statistics)" for p in r.patterns if p.n_none]
        notes += [f"{r.reward}: pays the right answer less as {w.pattern} ({w.description}): {w.mean:.3f} vs "
                  f"{r.plain_correct:.3f} plain, deficit {w.deficit.value:+.3f} [{w.deficit.low:+.3f}, "
                  f"{w.deficit.high:+.3f}] on {w.n} problems" for w in r.underpaid]
    hackable = [r.reward for r in reports if r.verdict == "hackable"]
    unseparated = [r.reward for r in reports if r.verdict == "does not separate"]
    broken = [r.reward for r in reports if r.verdict in ("errors", "broken")]
    underpays = [r.reward for r in reports if r.verdict == "underpays right answers"]
    parts = [f"{label}: {', '.join(names)}" for label, names in
             (("hackable", hackable), ("does not separate right from wrong", unseparated), ("errors", broken),
              ("pays a right answer less in another wrapper", underpays)) if names]
    verdict = "; ".join(parts)
    ran = {p.pattern for r in reports for p in r.patterns if p.n}  # a pattern with n = 0 never ran here
    never = len(rt_mod.PATTERNS) - len(ran)
    section = {
        "title": f"Reward red-team: {len(ran)} adversarial patterns × {len(problems)} problems"
                 + (f" ({never} more never applied on this suite)" if never else ""),
        "verdict": verdict or "no reward found hackable",
        "level": "bad" if hackable or unseparated or broken or underpays else "good",
        "summary": " ".join(r.summary if r.summary.startswith(r.reward) else f"{r.reward} — {r.summary}"
                            for r in reports),
        "rows": rows, "notes": notes,
    }
    exploit_rows = [{
        "reward": r.reward, "pattern": p.pattern, "what": p.description, "mean_reward": p.mean,
        "honest_wrong": r.honest_wrong, "gain": p.gain.value, "low": p.gain.low, "high": p.gain.high,
        "share_of_gap": p.share_of_gap, "example": rt_mod.clip(p.example), "example_reward": p.example_reward,
    } for r in reports for p in r.exploits]
    sections = {"redteam": section}
    if exploit_rows:
        sections["redteam_exploits"] = {
            "title": "Exploits: patterns that earn more than an honest wrong answer",
            "verdict": f"{len(exploit_rows)} exploit(s)", "level": "bad",
            "summary": "gain = pattern − best honest wrong answer, mean over problems with its 95% bootstrap "
                       "interval; share_of_gap = gain / (honest correct − honest wrong).",
            "rows": exploit_rows,
        }
    details = {r.reward: {
        "verdict": r.verdict, "summary": r.summary, "honest_correct": r.honest_correct,
        "honest_correct_variant": r.honest_correct_variant, "honest_wrong": r.honest_wrong,
        "honest_wrong_variant": r.honest_wrong_variant, "margin": r.margin, "errors": r.errors,
        "patterns": [{**{k: v for k, v in asdict(p).items() if k != "gain"},
                      "gain": None if p.gain is None else asdict(p.gain), "example": rt_mod.clip(p.example, 400)}
                     for p in r.patterns],
        "plain_correct": r.plain_correct,
        "wrappers": [{**{k: v for k, v in asdict(w).items() if k not in ("gain", "deficit")},
                      "deficit": None if w.deficit is None else asdict(w.deficit),
                      "example": rt_mod.clip(w.example, 400)} for w in r.wrappers],
    } for r in reports}
    return sections, details


def run_defects(cfg: PreflightConfig, task, store, progress, name: str, ref: str | None,
                data: data_mod.DataAudit | None):
    models = {ref: cfg.reference, name: cfg.model} if ref else {name: cfg.model}
    acfg = audit_config(cfg, models, cfg.defect_splits)
    problems, missing = [], []
    for split in cfg.defect_splits:
        try:
            problems += task.problems(split, cfg.problems, seed=cfg.seed)
        except ValueError:  # a split this suite does not have
            missing.append(split)
    if not problems:
        raise OfftargetError(f"suite {getattr(task, 'name', '?')!r} has no problems in the defect audit's splits "
                             f"{list(cfg.defect_splits)}; set defect_splits in a --config YAML")
    evidences = collect(acfg, task, problems, store, progress)
    evidences = {k: evidences[k] for k in models}
    result = defects_mod.measure(evidences, next(iter(models)), tuple(task.formats), cfg.bootstrap, cfg.seed)
    others: list[ProbeResult] = []
    if cfg.probes:
        ctx = AuditContext(ProbeSettings.of(cfg), task, evidences, next(iter(models)), models)
        for info in select(cfg.probes):
            try:
                r = info.run(ctx)
            except OfftargetError as exc:
                r = ProbeResult(info.name, "", "", error=str(exc))
            others.append(r)
        ctx.release()
    if ref:
        apply_holm([result, *others], cfg.alpha)
    found = defects_mod.find_defects(result, name, ref, evidences[name], data, others)
    rows = [{"rank": i + 1, "defect": d.kind, "where": d.where, "origin": d.origin, "evidence": d.evidence,
             "harm": d.harm, "harm_low": d.harm_low, "why_rl_amplifies": d.why} for i, d in enumerate(found)]
    if found:
        top = found[0]
        summary = (f"{len(found)} defect(s) RL would amplify; SFT-planted before pre-existing, in-distribution "
                   f"before OOD, then by the low end of the harm's 95% interval. "
                   f"Top: {top.kind} on {top.where} ({top.origin}) — {top.evidence}.")
    else:
        summary = "No defect found: no flagged accuracy drop, and over-answering, overconfidence and skipped " \
                  "steps stay below their thresholds."
    if not ref:
        summary += " No --reference given: accuracy drops could not be measured, only absolute levels."
    sections = {"defects": {
        "title": f"SFT defects RL would amplify ({name}" + (f" vs {ref})" if ref else ")"),
        "verdict": f"{len(found)} defect(s); top: {found[0].kind} on {found[0].where}" if found else "none found",
        "level": "bad" if found else "good", "summary": summary, "rows": rows,
        "notes": [f"thresholds: {asdict(defects_mod.DefectThresholds())}",
                  "paired comparisons on the same problems, Holm-corrected across every metric and group"]
        + [f"split {s!r}: not in this suite, skipped" for s in missing],
    }}
    if data is not None:
        limit = defects_mod.DefectThresholds().data_error
        flawed = [g for g in data.by_slice if g.rate.low is not None and g.rate.low > limit]
        sections["sft_data"] = {
            "title": f"SFT data: {data.rows} rows verified with the strict verifier",
            "verdict": f"errors on {', '.join(g.key for g in flawed)}" if flawed else "clean",
            "level": "bad" if flawed else "good",
            "summary": (f"{data.wrong} of {data.verified} verifiable rows are wrong "
                        f"({data.wrong / max(1, data.verified):.1%}); {data.unverifiable} rows could not be matched "
                        "to a problem."),
            "rows": [g.row() for g in data.by_slice]
            + [{**g.row(), "slice": f"format {g.key}"} for g in data.by_format],
        }
    details = {"defects": [d.to_dict() for d in found]}
    return sections, details, evidences, [result, *others]


# ---------------------------------------------------------------------------------------------
# Everything


def run_preflight(cfg: PreflightConfig, console=None) -> dict:
    """Run the selected checks, write results.json, and return the results."""
    cfg.validate()
    task = get_task(cfg.suite)
    name, ref = checkpoint_names(cfg)
    # user input that can be wrong is read before any sampling: rewards and the SFT data
    rewards = resolve_rewards(cfg, task) if "redteam" in cfg.checks else []
    data = None
    if cfg.sft_data and "defects" in cfg.checks:
        data = data_mod.audit_sft_data(cfg.sft_data, task, cfg.bootstrap, cfg.seed)
    out = Path(cfg.out)
    sections: dict = {}
    details: dict = {}
    costs: dict = {}
    probes: list[ProbeResult] = []
    evidences: dict = {}
    store = GenerationStore(out / "generations.sqlite")
    try:
        with progress_bar(console) as progress:
            if "foothold" in cfg.checks:
                t0 = time.time()
                sec, details["foothold"], ev = run_foothold(cfg, task, store, progress, name)
                sections["foothold"] = sec
                evidences.setdefault(name, []).append(ev)
                costs["foothold_seconds"] = round(time.time() - t0, 2)
            if "defects" in cfg.checks:
                t0 = time.time()
                secs, details["defects"], evs, probes = run_defects(cfg, task, store, progress, name, ref, data)
                defect_sections = secs
                for k, ev in evs.items():
                    evidences.setdefault(k, []).append(ev)
                costs["defects_seconds"] = round(time.time() - t0, 2)
    finally:
        store.close()
    if "redteam" in cfg.checks:
        t0 = time.time()
        secs, details["redteam"] = run_redteam(cfg, task, rewards)
        sections.update(secs)
        costs["redteam_seconds"] = round(time.time() - t0, 2)
    if "defects" in cfg.checks:
        sections.update(defect_sections)
    order = ([ref] if ref else []) + [name]
    checkpoints = [_checkpoint(n, cfg.model if n == name else cfg.reference, evidences.get(n, []), n == name)
                   for n in order]
    heads = [_preflight_headline(name, ref or name, sections)]
    if ref and probes:
        heads += headline(probes, [ref, name], ref)
    results = {
        **provenance("preflight", cfg, task),
        "reference": ref or name,
        "checkpoints": checkpoints,
        "costs": costs,
        "probes": [p.to_dict() for p in probes],
        "headline": heads,
        "routing": [],
        "preflight": sections,
        "preflight_details": details,
    }
    write_results(out / "results.json", results)
    return results


def _checkpoint(name: str, path: str, evs: list, policy: bool) -> dict:
    try:
        facts = describe(path)
    except (OSError, ValueError):
        facts = {"path": path}
    return {"name": name, **facts, "role": "policy (RL starts here)" if policy else "reference",
            "fingerprint": evs[0].fingerprint if evs else None,
            "generated": sum(e.generated for e in evs), "sampling_seconds": round(sum(e.seconds for e in evs), 2),
            "n_problems": sum(len(e.problems) for e in evs), "n_samples": evs[0].n_samples if evs else 0}


def _preflight_headline(name: str, ref: str, sections: dict) -> dict:
    parts = [f"{key}: {sections[key]['verdict']}" for key in ("foothold", "redteam", "defects", "sft_data")
             if key in sections]
    return {"checkpoint": name, "reference": ref, "target_gains": [], "target_losses": [], "offtarget_gains": [],
            "offtarget_losses": [], "tests": 0, "summary": f"preflight of {name}: " + "; ".join(parts) + "."}
