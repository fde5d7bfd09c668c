"""The lab's claims on a real model: LoRA GRPO variants of SmolLM2-135M-Instruct, audited against it.

``offtarget lab real`` audits the instruct model against the committed adapters in
``models/real-lora/`` (trained by ``models/real-lora/train.sh``, one change each: binary reward,
RLCR, ternary abstention reward, a lenient verifier, a too-hard prompt pool) on the
plain-English ``chat-arithmetic`` suite, then evaluates the same recipes as the toy lab
(:mod:`offtarget.lab.recipes`) with the instruct model in the place of the SFT model. A claim
that needs a checkpoint this track has not built (a planted-defect SFT model, a second SFT run,
GRPO-RoC, a zero reward, the difficulty window) is listed as not posed, with the reason.

Audits: ``main`` (every adapter vs the instruct model on ``chat-arithmetic``), ``calibration``
(instruct, binary, RLCR on ``chat-arithmetic?confidence=1``, where a confidence is asked for) and
``vs-binary`` (binary vs RLCR on the same generations).

    offtarget lab real --out runs/lab-real --docs docs
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.lab.claims import ClaimResult, claims_markdown
from offtarget.lab.recipes import RECIPES, LabEvidence
from offtarget.report.results import atomic_write_text, sanitize
from offtarget.tasks.chat_arithmetic import SAMPLING

BASE = "smollm2-135m-instruct"
REFERENCE = "instruct"

REAL_VARIANTS = {
    "grpo-binary": ("binary", "binary correctness reward (strict verifier)"),
    "grpo-rlcr": ("rlcr", "RLCR reward: correctness − (q − correct)², confidence asked for"),
    "grpo-ternary": ("ternary", "ternary reward: correct +1, abstain 0, wrong −1"),
    "grpo-lenient": ("lenient", "lenient verifier (the answer anywhere in the output)"),
    "grpo-hard": ("hard", "prompt pool of three-digit sums and word problems only (shifted, harder)"),
}
"""Audit name → (folder under the adapters directory, the one change)."""

NOT_POSED = {
    "sft-defect": "needs SFT models with a planted defect; this track starts from the released instruct model",
    "update-sparsity": "needs a second SFT run from the same start (a LoRA update is low-rank by construction)",
    "roc": "GRPO-RoC was not trained on this model (time budget)",
}
"""Recipes this track cannot pose, and why."""

MAIN_PROBES = ("accuracy", "passk", "diversity", "formats", "shortcuts", "abstention", "ood", "kl", "weights")


@dataclass
class RealLabConfig:
    out: str = "runs/lab-real"
    adapters: str = "models/real-lora"
    problems: int = 60
    samples: int = 4
    bootstrap: int = 1000
    seed: int = 0
    docs: str | None = None


def available_variants(adapters: str | Path) -> dict[str, Path]:
    """Audit name → adapter directory, for the variants whose adapter is present."""
    root = Path(adapters)
    return {name: root / folder for name, (folder, _) in REAL_VARIANTS.items()
            if (root / folder / "adapter_config.json").is_file()}


def _audit(cfg: RealLabConfig, name: str, models: dict[str, str], suite: str, probes: tuple[str, ...],
           reference: str | None = None, console=None) -> dict:
    from offtarget.audit.config import AuditConfig
    from offtarget.audit.runner import run_audit
    from offtarget.report.render import render_all

    acfg = AuditConfig(models=models, reference=reference, suite=suite, out=str(Path(cfg.out) / "audits" / name),
                       store=str(Path(cfg.out) / "generations.sqlite"), problems=cfg.problems, samples=cfg.samples,
                       temperature=SAMPLING["temperature"], top_p=SAMPLING["top_p"],
                       max_new_tokens=SAMPLING["max_new_tokens"], greedy=False, probes=probes, seed=cfg.seed,
                       bootstrap=cfg.bootstrap)
    results = run_audit(acfg, console, kind=f"real lab audit: {name}")
    render_all(results, acfg.out)
    return results


def _posed(row: ClaimResult) -> bool:
    missing = ("no comparison", "only ")  # a checkpoint this track has not built; too few variants to correlate
    return not (row.effect is None and any(n.startswith(missing) for n in row.notes))


def evaluate(audits: dict[str, dict], built: list[str]) -> tuple[list[ClaimResult], list[dict]]:
    """The recipes' claims on the audits; rows whose checkpoints this track lacks go to the not-posed list."""
    main = LabEvidence({"main": audits["main"]}, {})
    calib = LabEvidence({"main": audits.get("calibration", {}), "vs-binary": audits.get("vs-binary", {})}, {}) \
        if "calibration" in audits else None
    claims: list[ClaimResult] = []
    not_posed: list[dict] = []
    for name, recipe in RECIPES.items():
        if name in NOT_POSED:
            not_posed.append({"recipe": name, "claim": recipe.claim, "source": recipe.source, "why": NOT_POSED[name]})
            continue
        if name == "calibration" and calib is None:
            not_posed.append({"recipe": name, "claim": recipe.claim, "source": recipe.source,
                              "why": "the binary or RLCR adapter is missing"})
            continue
        rows = recipe.evaluate(calib if name == "calibration" else main)
        for row in rows:
            if _posed(row):
                claims.append(row)
            else:
                not_posed.append({"recipe": name, "claim": row.claim or recipe.claim, "source": row.source,
                                  "why": "no measurement in this track's audits: a variant not built, or too few items "
                                         "for the probe (" + "; ".join(row.notes) + ")"})
    return claims, not_posed


def _accuracy_table(audits: dict[str, dict], runs: dict[str, dict]) -> list[dict]:
    ev = LabEvidence(audits, {})
    rows = []
    for name in [REFERENCE, *REAL_VARIANTS]:
        row: dict = {"checkpoint": name}
        for group in ("test", "ood", "test/unanswerable"):
            metric = "abstention_recall" if group.endswith("unanswerable") else "accuracy"
            m = ev.metric("main", metric, group, name)
            row[f"{metric} {group}"] = None if m is None else m["value"]
        if name in runs:
            row.update(runs[name])
        if name == REFERENCE or name in runs:
            rows.append(row)
    return rows


def _runs(built: dict[str, Path]) -> dict[str, dict]:
    out = {}
    for name, path in built.items():
        info: dict = {}
        for fname in ("summary.json", "wall.json"):
            f = path / fname
            if f.is_file():
                data = json.loads(f.read_text())
                for key in ("steps", "wall_s", "train_seconds", "seconds_per_step", "command"):
                    if key in data and not isinstance(data[key], (dict, list)):
                        info[key] = data[key]
        if "seconds_per_step" in info:
            info["seconds_per_step"] = round(info["seconds_per_step"], 1)
        elif info.get("steps") and info.get("wall_s"):
            info["seconds_per_step"] = round(info["wall_s"] / info["steps"], 1)
        out[name] = info
    return out


def markdown(claims: list[ClaimResult], not_posed: list[dict], table: list[dict], command: str,
             seconds: float) -> str:
    text = claims_markdown(claims, command, seconds).replace("# Lab claims", "# Lab claims on a real model", 1)
    intro = ("Model: SmolLM2-135M-Instruct (`smollm2-135m-instruct`), the reference of every comparison "
             "(`instruct`, in the place of the toy lab's SFT model). Variants: LoRA GRPO adapters in "
             "`models/real-lora/`, one change each; the exact training commands are in "
             "`models/real-lora/train.sh`. Suite: `chat-arithmetic` (calibration: `chat-arithmetic?confidence=1`), "
             f"T = {SAMPLING['temperature']}, top_p = {SAMPLING['top_p']}, ≤ {SAMPLING['max_new_tokens']} new tokens.")
    columns = "| checkpoint | change | steps | train wall s | s/step | accuracy test | accuracy ood | abstention recall |"
    head = ["", intro, "", "## Checkpoints", "", columns, "|---|---|---|---|---|---|---|---|"]
    f = (lambda x: "–" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x)))
    for row in table:
        change = "the released instruct model" if row["checkpoint"] == REFERENCE else REAL_VARIANTS[row["checkpoint"]][1]
        head.append(f"| {row['checkpoint']} | {change} | {f(row.get('steps'))} | {f(row.get('wall_s'))} | "
                    f"{f(row.get('seconds_per_step'))} | {f(row.get('accuracy test'))} | {f(row.get('accuracy ood'))} | "
                    f"{f(row.get('abstention_recall test/unanswerable'))} |")
    head += ["", "## Claims posed on this model", ""]
    lines = text.split("\n")
    out = lines[:3] + head + lines[3:]
    out += ["## Claims not posed on this model", "", "| recipe | claim | why |", "|---|---|---|"]
    out += [f"| {r['recipe']} | {r['claim']} | {r['why']} |" for r in not_posed]
    return "\n".join(out) + "\n"


def run_real(cfg: RealLabConfig, console=None) -> tuple[list[ClaimResult], list[dict]]:
    """Audit the instruct model against the committed adapters; write claims-real.md/json into ``out`` (and ``docs``)."""
    t0 = time.time()
    built = available_variants(cfg.adapters)
    if not built:
        raise OfftargetError(f"--adapters {cfg.adapters}: no adapter found (expected <variant>/adapter_config.json; "
                             "train them with models/real-lora/train.sh)")
    models = {REFERENCE: BASE, **{n: str(p) for n, p in built.items()}}
    audits = {"main": _audit(cfg, "main", models, "chat-arithmetic", MAIN_PROBES, console=console)}
    if {"grpo-binary", "grpo-rlcr"} <= set(built):
        trio = {k: models[k] for k in (REFERENCE, "grpo-binary", "grpo-rlcr")}
        audits["calibration"] = _audit(cfg, "calibration", trio, "chat-arithmetic?confidence=1",
                                       ("accuracy", "calibration"), console=console)
        pair = {k: models[k] for k in ("grpo-binary", "grpo-rlcr")}
        audits["vs-binary"] = _audit(cfg, "vs-binary", pair, "chat-arithmetic?confidence=1",
                                     ("accuracy", "calibration"), console=console)
    claims, not_posed = evaluate(audits, list(built))
    runs = _runs(built)
    table = _accuracy_table(audits, runs)
    seconds = time.time() - t0
    command = (f"offtarget lab real --adapters {cfg.adapters} --problems {cfg.problems} --samples {cfg.samples} "
               f"--bootstrap {cfg.bootstrap} --seed {cfg.seed}")
    data = {"schema_version": 1, "command": command, "seconds": round(seconds, 1), "model": BASE,
            "sampling": SAMPLING, "checkpoints": table, "claims": [c.to_dict() for c in claims],
            "not_posed": not_posed}
    for folder in [cfg.out] + ([cfg.docs] if cfg.docs else []):
        atomic_write_text(Path(folder) / "claims-real.json", json.dumps(sanitize(data), indent=1, allow_nan=False))
        atomic_write_text(Path(folder) / "claims-real.md", markdown(claims, not_posed, table, command, seconds))
    return claims, not_posed
