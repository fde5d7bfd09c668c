"""``offtarget lab run``: build the variants a set of recipes needs, audit them, write the claims.

Seeded and resumable: a variant whose ``final/`` checkpoint exists is not retrained, audits reuse
one generation store, and re-running a finished command only re-renders the claims.

    offtarget lab run --quick --out lab_runs/quick
    offtarget lab run calibration too-hard --out lab_runs/x
    offtarget lab run --all --out lab_runs/all
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.lab.claims import ClaimResult, write_claims
from offtarget.lab.recipes import AUDIT_MEMBERS, QUICK, RECIPES, LabEvidence
from offtarget.lab.variants import VARIANTS


@dataclass
class LabRunConfig:
    """One ``offtarget lab run``."""

    recipes: tuple[str, ...] = QUICK
    """Recipes to run (``offtarget lab run NAME ...``; ``--quick`` and ``--all`` choose sets)."""
    out: str = "lab_runs/quick"
    """Lab run directory (resumable): variants, audits, claims.md."""
    base: str = "models/lab/base"
    """The pretrained lab model (``offtarget lab build`` makes it)."""
    sft: str = "models/lab/sft"
    """The reference SFT model every RL variant starts from."""
    steps: int = 300
    """GRPO steps per variant (8 prompts × 8 samples a step); about 0.4 s a step on 2 CPU cores."""
    problems: int = 200
    """Audit problems per split."""
    samples: int = 32
    """Audit samples per problem: pass@k is reported up to k = 32."""
    seed: int = 0
    """Seed of training, sampling and bootstrap."""
    bootstrap: int = 1000
    """Bootstrap resamples per interval."""
    sft_steps: int = 150
    """Steps of the lab's SFT variants (sft-defect, sft-more)."""
    train_problems: int = 2000
    """Prompts each GRPO variant draws from its pool (and measures for the difficulty window)."""
    timings: dict = field(default_factory=dict, metadata={"cli": False})


def variants_for(recipes: tuple[str, ...]) -> list[str]:
    needed: list[str] = []
    for r in recipes:
        for v in RECIPES[r].variants:
            start = VARIANTS[v].start
            for name in ((start,) if start in VARIANTS else ()) + (v,):
                if name not in needed:
                    needed.append(name)
    return needed


def _pool_file(cfg: LabRunConfig, pool: str) -> str | None:
    """Prompt pools as JSONL in the trainer's schema; ``train`` uses the task's own train split."""
    if pool == "train":
        return None
    from offtarget.tasks import ArithmeticTask
    from offtarget.train.data import write_problems

    task = ArithmeticTask()
    n = min(1200, cfg.train_problems)
    path = Path(cfg.out) / "pools" / f"{pool}-{n}.jsonl"
    if not path.exists():
        hard = [p for p in task.problems("ood_train", n, seed=cfg.seed) if not p.should_abstain]
        problems = hard if pool == "hard" else hard[: n // 2] + task.problems("train", n // 2, seed=cfg.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_problems(path, problems)
    return str(path)


def _dir(cfg: LabRunConfig, name: str) -> Path:
    if name == "sft":
        return Path(cfg.sft)
    if name == "base":
        return Path(cfg.base)
    return Path(cfg.out) / "variants" / name


def _final(cfg: LabRunConfig, name: str) -> Path:
    if name in ("sft", "base"):
        return _dir(cfg, name)
    v = VARIANTS[name]
    return _dir(cfg, name) / ("final" if v.kind == "grpo" else "")


def build_variant(cfg: LabRunConfig, name: str, log) -> dict:
    v = VARIANTS[name]
    final = _final(cfg, name)
    if (final / "config.json").exists():
        log(f"[dim]reusing {name} ({final}); delete {_dir(cfg, name)} to retrain it[/dim]")
        return _run_info(cfg, name)
    start = _final(cfg, v.start)
    if not (start / "config.json").exists():
        raise OfftargetError(f"variant {name}: start checkpoint {start} missing; run `offtarget lab build` first")
    t0 = time.time()
    log(f"training {name}: {v.description}")
    if v.kind == "sft":
        from offtarget.lab.build import sft, sft_config

        sft(start, final, sft_config(cfg.seed, cfg.sft_steps), defect=v.defect)
    else:
        from offtarget.train.grpo_run import run_grpo

        run_grpo(v.grpo_config(str(start), str(_dir(cfg, name)), cfg.steps, _pool_file(cfg, v.pool), cfg.seed,
                               train_problems=cfg.train_problems))
    cfg.timings[f"train:{name}"] = round(time.time() - t0, 1)
    return _run_info(cfg, name)


def _run_info(cfg: LabRunConfig, name: str) -> dict:
    d = _dir(cfg, name)
    info: dict = {"dir": str(d)}
    mon = d / "monitor.jsonl"
    if mon.exists():
        info["monitor"] = [_flatten(json.loads(line)) for line in mon.read_text().splitlines() if line.strip()]
    summ = d / "summary.json"
    if summ.exists():
        info["summary"] = json.loads(summ.read_text())
    return info


def _flatten(row: dict) -> dict:
    out = dict(row)
    for k in ("metrics",):
        if isinstance(row.get(k), dict):
            out.update(row[k])
    return out


def run_audits(cfg: LabRunConfig, which: list[str], built: list[str], console=None) -> dict[str, dict]:
    from offtarget.audit.config import AuditConfig
    from offtarget.audit.runner import run_audit
    from offtarget.report.render import render_all

    out: dict[str, dict] = {}
    for audit in which:
        members = [m for m in AUDIT_MEMBERS[audit] if m in built or m in ("sft", "base")]
        if len(members) < 2:
            continue
        t0 = time.time()
        acfg = AuditConfig(
            models={m: str(_final(cfg, m)) for m in members}, suite="arithmetic",
            out=str(Path(cfg.out) / "audits" / audit), store=str(Path(cfg.out) / "generations.sqlite"),
            problems=cfg.problems, samples=cfg.samples, seed=cfg.seed, bootstrap=cfg.bootstrap,
            probes=("all",) if audit == "main" else ("accuracy", "calibration", "formats", "shortcuts", "abstention"),
        )
        results = run_audit(acfg, console, kind=f"lab audit: {audit}")
        render_all(results, acfg.out)
        out[audit] = results
        cfg.timings[f"audit:{audit}"] = round(time.time() - t0, 1)
    return out


def preflight_defect(cfg: LabRunConfig, log) -> dict:
    """Would ``offtarget preflight`` have flagged the planted defect before RL? (its defect audit only)"""
    from offtarget.preflight.config import PreflightConfig
    from offtarget.preflight.runner import run_preflight

    out = Path(cfg.out) / "preflight-defect"
    t0 = time.time()
    pcfg = PreflightConfig(model=str(_final(cfg, "sft-defect")), reference=cfg.base, out=str(out),
                           checks=("defects",), problems=cfg.problems, samples=min(cfg.samples, 16),
                           seed=cfg.seed, bootstrap=cfg.bootstrap)
    results = run_preflight(pcfg)
    cfg.timings["preflight:sft-defect"] = round(time.time() - t0, 1)
    rows = results.get("preflight", {}).get("defects", {}).get("rows", [])
    top = f"{rows[0]['defect']} on {rows[0]['where']}" if rows else None
    return {"preflight_top_defect": top, "preflight_caught": bool(rows) and rows[0].get("where") == "test/carries=2"}


def run_lab(cfg: LabRunConfig, console=None) -> list[ClaimResult]:
    from offtarget.train.session import quiet

    quiet(verbose=False)  # no weight-loading bars or transformers chatter; OFFTARGET_VERBOSE=1 shows them
    log = console.print if console else print
    unknown = [r for r in cfg.recipes if r not in RECIPES]
    if unknown:
        raise OfftargetError(f"unknown recipe(s) {unknown}; choose from {', '.join(RECIPES)}")
    t0 = time.time()
    needed = variants_for(cfg.recipes)
    runs = {name: build_variant(cfg, name, log) for name in needed}
    audits_needed = list(dict.fromkeys(a for r in cfg.recipes for a in RECIPES[r].audits))
    audits = run_audits(cfg, audits_needed, needed, console)
    extra = preflight_defect(cfg, log) if "sft-defect" in cfg.recipes else {}
    ev = LabEvidence(audits, runs, extra)
    claims = [c for r in cfg.recipes for c in RECIPES[r].evaluate(ev)]
    seconds = time.time() - t0
    cfg.timings["total"] = round(seconds, 1)
    command = "offtarget lab run " + (" ".join(cfg.recipes))
    write_claims(claims, cfg.out, command, seconds)
    (Path(cfg.out) / "timings.json").write_text(json.dumps(cfg.timings, indent=1))
    if "main" in audits:
        from offtarget.report.render import render_all
        from offtarget.report.results import write_results

        main = audits["main"]
        main["claims"] = [c.to_dict() for c in claims]
        path = Path(cfg.out) / "audits" / "main"
        write_results(path / "results.json", main)
        render_all(main, path)
    return claims
