"""Run an audit end to end: problems → store → evidence → probes → verdicts → results.json.

    offtarget audit --model base=lab_cache/models/base --model sft=lab_cache/models/sft --out runs/demo
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from offtarget import __version__
from offtarget.audit.compare import finalize
from offtarget.audit.config import AuditConfig
from offtarget.audit.evidence import collect
from offtarget.audit.validate import validate_checkpoints
from offtarget.audit.variants import split_evidence, variant_problems
from offtarget.errors import OfftargetError
from offtarget.models.loading import describe
from offtarget.probes import ProbeResult, select
from offtarget.probes.context import AuditContext
from offtarget.report.results import provenance, sanitize, write_results
from offtarget.store import GenerationStore
from offtarget.store.lock import RunLock
from offtarget.tasks import get_task
from offtarget.tasks.problem import Problem, Task


def progress_bar(console=None) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=False,
    )


def _working(console, what: str):
    """A spinner naming the stage while it runs, so a long probe is not silent."""
    import contextlib

    return console.status(f"[dim]{what}[/dim]") if console is not None else contextlib.nullcontext()


def audit_problems(cfg: AuditConfig, task):
    problems = []
    for split in cfg.splits:
        try:
            problems += task.problems(split, cfg.problems, seed=cfg.seed)
        except (ValueError, KeyError) as exc:
            raise OfftargetError(f"--splits {','.join(cfg.splits)}: split {split!r} of suite {cfg.suite!r} "
                                 f"failed ({' '.join(str(exc).split())})") from None
    if not problems:
        raise OfftargetError(f"suite {cfg.suite!r} has no problems in splits {list(cfg.splits)}")
    return problems


@dataclass
class AuditPlan:
    """A validated audit, before anything is sampled."""

    cfg: AuditConfig
    probes: list
    task: Task
    problems: list[Problem]
    tokenizers: dict[str, Any]
    """Each sampled checkpoint's tokenizer, loaded once by the validation and reused after."""
    kind: str = "audit"
    extra: dict[str, list[Problem]] = field(default_factory=dict)
    """Prompts a probe adds to the suite (by probe name), sampled with it and split off after."""


def prepare_audit(cfg: AuditConfig, kind: str = "audit") -> AuditPlan:
    """Validate the config, every checkpoint and every prompt, before any sampling."""
    cfg.validate()
    probes = select(cfg.probes)
    task = get_task(cfg.suite)
    problems = audit_problems(cfg, task)
    extra = variant_problems(cfg, probes, problems)  # e.g. the framing probe's re-framed prompts
    facts = validate_checkpoints(cfg, problems + [p for ps in extra.values() for p in ps])  # before any sampling
    tokenizers = {name: f["tokenizer"] for name, f in facts.items() if f.get("tokenizer") is not None}
    return AuditPlan(cfg, probes, task, problems, tokenizers, kind, extra)


def run_audit(cfg: AuditConfig, console=None, kind: str = "audit") -> dict:
    """Sample what is missing, run the selected probes, write ``results.json``; return the results."""
    plan = prepare_audit(cfg, kind)
    with RunLock(cfg.out):
        return run_prepared(plan, console)


def run_prepared(plan: AuditPlan, console=None) -> dict:
    """Run a prepared audit (the caller holds the run directory's lock) and write ``results.json``."""
    cfg, out = plan.cfg, Path(plan.cfg.out)
    store = GenerationStore(cfg.store or out / "generations.sqlite")
    try:
        return _run_with_store(plan, console, store, out)
    finally:
        store.close()


def _run_with_store(plan: AuditPlan, console, store: GenerationStore, out: Path) -> dict:
    cfg, kind, probes, task, problems, extra = plan.cfg, plan.kind, plan.probes, plan.task, plan.problems, plan.extra
    t0 = time.time()
    with progress_bar(console) as progress:
        evidences = collect(cfg, task, problems + [p for ps in extra.values() for p in ps], store, progress,
                            tokenizers=plan.tokenizers)
    evidences, variants = split_evidence(evidences, len(problems), extra)
    ref = cfg.reference_name
    evidences = {ref: evidences[ref], **{k: v for k, v in evidences.items() if k != ref}}
    sampling_seconds = time.time() - t0
    ctx = AuditContext.from_config(cfg, task, evidences)
    ctx.variants = {probe: {name: by_name[name] for name in evidences} for probe, by_name in variants.items()}
    results: list[ProbeResult] = []
    to_cache: list[tuple[str, ProbeResult]] = []  # written after Holm refined their p-values
    for info in probes:
        t1 = time.time()
        ran = [name for name in info.reads if name in ctx.earlier]
        key = f"probe:{probe_cache_key(cfg, info.name, evidences, ran)}"
        cached = store.get_meta(key)
        if cached is not None:
            r = ProbeResult.from_dict(cached)
        else:
            try:
                with _working(console, f"probe {info.name}…"):
                    r = info.run(ctx)
            except OfftargetError as exc:
                r = ProbeResult(info.name, "", "", error=str(exc))
            r.seconds = time.time() - t1
            if r.error is None:
                to_cache.append((key, r))
        results.append(r)
        ctx.earlier[r.probe] = r
        if console:
            how = "cached" if cached is not None else f"{r.seconds:.1f}s"
            console.print(f"[dim]probe {info.name}: {how}{' — ' + r.error if r.error else ''}[/dim]")
    ctx.release()
    t_holm = time.time()  # Holm across the report, refining the permutation tests it leaves open
    small = sum(c.pending is not None for r in results for c in r.comparisons)
    with _working(console, f"Holm across the report: {small} small p-value(s) to refine where the decision is open…"):
        verdicts = finalize(results, list(evidences), ref, cfg.alpha, shared_problems=len(evidences[ref].problems))
    holm_seconds = time.time() - t_holm
    if console and small:
        console.print(f"[dim]Holm refinement: {small} small p-value(s), {holm_seconds:.1f}s[/dim]")
    for key, r in to_cache:
        store.set_meta(key, sanitize(r.to_dict()))
    t2 = time.time()
    with _working(console, "self-check: split-half null audits…"):
        verdicts["self_check"] = _self_check(cfg, task, evidences, probes, results, store, console)
    self_check_seconds = time.time() - t2
    data = {
        **provenance(kind, cfg, task),
        "reference": ref,
        "checkpoints": [
            {"name": ev.name, "path": ev.path, "fingerprint": ev.fingerprint, **_describe(ev.path),
             "generated": ev.generated, "sampling_seconds": round(ev.seconds, 2),
             "n_problems": len(ev.problems), "n_samples": ev.n_samples,
             "tokenizer_fingerprint": getattr(ev, "tokenizer_fingerprint", None),
             **({"sampling": ev.sampling} if getattr(ev, "sampling", None) else {}),
             **({"recipe": r} if (r := _training_recipe(ev.path)) else {}),
             **({"evidence": ev.source} if getattr(ev, "source", None) else {})}
            for ev in evidences.values()
        ],
        "evidence_notes": list(dict.fromkeys(
            n for ev in evidences.values() for n in (getattr(ev, "source", None) or {}).get("notes", []))),
        "costs": {"sampling_seconds": round(sampling_seconds, 2),
                  **{f"probe:{r.probe}": round(r.seconds, 3) for r in results},
                  "holm_refinement": round(holm_seconds, 3),
                  "self_check": round(self_check_seconds, 3)},
        "probes": [r.to_dict() for r in results],
        "examples": _with_rendered_prompts(cfg, evidences, _examples(evidences), plan.tokenizers),
        **verdicts,
    }
    write_results(out / "results.json", data)
    return data


_NOT_IN_KEY = ("models", "out", "store", "probes", "device", "batch_sequences", "trust_remote_code")


def probe_cache_key(cfg: AuditConfig, probe: str, evidences: dict, ran: list[str] | None = None) -> str:
    """Identity of one probe's result: the probe, offtarget's version, every setting that can change
    a number, and the checkpoints by content fingerprint in report order (the reference first).

    A re-run of a finished audit reads its probe results back instead of recomputing them;
    a new checkpoint, sample count, split, seed or offtarget version computes them afresh, and
    so does an edited suite (the problems' ids and prompts are in the key) or an edited data file
    such as ``--frames`` (its content digest is, :data:`~offtarget.audit.config.DATA_FILE_SETTINGS`).
    ``ran``: the probes this one reads (:attr:`~offtarget.probes.registry.ProbeInfo.reads`) that ran
    before it in this audit, so a result written without them is not read back with them.
    """
    import hashlib
    import json

    from offtarget.audit.config import DATA_FILE_SETTINGS

    settings = {k: v for k, v in asdict(cfg).items() if k not in _NOT_IN_KEY}
    for k in DATA_FILE_SETTINGS:
        if settings.get(k):
            settings[k] = [settings[k], _content_digest(settings[k])]
    from offtarget.stats.permutation import METHOD

    problems = next(iter(evidences.values())).problems if evidences else []
    material = {"probe": probe, "version": __version__, "stats": METHOD, "settings": settings,
                "checkpoints": [[name, ev.fingerprint] for name, ev in evidences.items()],
                "problems": hashlib.sha256("\n".join(p.store_key for p in problems).encode()).hexdigest()}
    if ran:
        material["ran"] = sorted(ran)
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _content_digest(path: str) -> str | None:
    """SHA-256 of a file's bytes; ``None`` if unreadable (the probe then fails, and failures are not cached)."""
    import hashlib

    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _self_check(cfg: AuditConfig, task, evidences: dict, probes, results: list[ProbeResult], store: GenerationStore,
                console=None) -> dict:
    """The report's self-check (:mod:`offtarget.audit.selfcheck`), cached in the store like a probe."""
    from offtarget.audit.selfcheck import COUNTING, self_check

    t0 = time.time()
    key = f"selfcheck:{COUNTING}:{probe_cache_key(cfg, 'self_check', evidences)}"
    check = store.get_meta(key)
    if check is None:
        check = sanitize(self_check(cfg, task, evidences, probes, results))
        store.set_meta(key, check)
    if console:
        console.print(f"[dim]self-check: {time.time() - t0:.1f}s[/dim]")
    return check


def _training_recipe(path: str) -> dict | None:
    """Rewards, guards and curation of an ``offtarget train`` checkpoint (prescriptions read it)."""
    from offtarget.report.recipe import training_recipe

    return training_recipe(path)


def _describe(path: str) -> dict:
    try:
        return describe(path)
    except (OSError, ValueError):
        return {}


def _with_rendered_prompts(cfg: AuditConfig, evidences: dict, examples: dict, tokenizers: dict) -> dict:
    """Each example gets ``rendered_prompt``: what its checkpoint was fed after the chat template,
    special tokens included (sampled checkpoints only; read with the tokenizer alone)."""
    from offtarget.models.sampling import rendered_prompts

    for name, rows in examples.items():
        ev = evidences[name]
        if getattr(ev, "source", None) is not None or not rows or not _is_checkpoint(ev.path):
            continue
        chat = (getattr(ev, "sampling", None) or {}).get("sampled", {}).get("chat_template", cfg.chat_template)
        for row, text in zip(rows, rendered_prompts(ev.path, [r["prompt"] for r in rows], chat,
                                                    cfg.trust_remote_code, tokenizers.get(name))):
            row["rendered_prompt"] = text
    return examples


def _is_checkpoint(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_dir() and (Path(path) / "config.json").exists()


def _examples(evidences, per_group: int = 3) -> dict:
    """A few raw completions per checkpoint and split for the report (escaped when rendered)."""
    out = {}
    for name, ev in evidences.items():
        rows = []
        seen: dict[str, int] = {}
        for p, samples, verdicts in zip(ev.problems, ev.samples, ev.verdicts):
            key = f"{p.split}/{p.slice}"
            if seen.get(key, 0) >= per_group:
                continue
            seen[key] = seen.get(key, 0) + 1
            s, v = samples[0], verdicts[0]
            rows.append({"problem": p.id, "group": key, "prompt": p.prompt, "answer": p.answer,
                         "completion": s.text, "correct": v.correct, "format": v.format,
                         "confidence": v.confidence, "abstained": v.abstained})
        out[name] = rows
    return out
