"""The lab's claims on a real model: LoRA GRPO variants of SmolLM2-135M-Instruct, audited against it.

``offtarget lab real`` audits the instruct model against the committed adapters in
``models/real-lora/`` (trained by ``models/real-lora/train.sh``, one change each: binary reward,
RLCR, ternary abstention reward, a lenient verifier, a too-hard prompt pool, the difficulty
window) on the plain-English ``chat-arithmetic`` suite, then evaluates the same recipes as the
toy lab (:mod:`offtarget.lab.recipes`) with the instruct model in the place of the SFT model. A
claim that needs a checkpoint this track has not built (a planted-defect SFT model, a second SFT
run, GRPO-RoC, a zero reward), or a measurement the model does not allow (a stated confidence
it never writes), is listed as not posed, with the reason.

Audits: ``main`` (every adapter vs the instruct model on ``chat-arithmetic`` with 25 %
unanswerable items, so abstention recall has enough items: a probe reports a group from 5 problems on), ``drift`` (the exact KL probe on a
few test prompts: it costs two forward passes per sequence and variant, so it gets its own
smaller problem set), ``calibration`` (instruct, binary, RLCR on test prompts of
``chat-arithmetic?confidence=1``, where a confidence is asked for) and ``vs-binary`` (binary vs RLCR
on the same generations), ``framing`` (instruct vs binary on test prompts re-asked under the
built-in emotional and wrong-answer frames) and ``faithfulness`` (instruct vs binary on
step-by-step prompts, ``chat-arithmetic?reasoning=1``). Defaults keep the whole run near 10 minutes on 2 CPU cores.
The confidence suite asks different prompts under the same problem ids, so its generations live
in a store of their own (one store keyed by problem id would hand them the plain suite's answers).

    offtarget lab real --out runs/lab-real --docs docs
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.lab.claims import ClaimResult, claims_markdown
from offtarget.lab.recipes import PROBE_RECIPES, RECIPES, LabEvidence
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
    "grpo-window": ("window", "difficulty window 0.1–0.9 on a mixed pool (two-digit and shifted prompts)"),
}
"""Audit name → (folder under the adapters directory, the one change)."""

NOT_POSED = {
    "sft-defect": "needs SFT models with a planted defect; this track starts from the released instruct model",
    "update-sparsity": "needs a second SFT run from the same start (a LoRA update is low-rank by construction)",
    "roc": "GRPO-RoC was not trained on this model (time budget)",
}
"""Recipes this track cannot pose, and why."""

MAIN_PROBES = ("accuracy", "passk", "diversity", "formats", "shortcuts", "abstention", "ood")
"""The probes the posed claims read (the weights probe serves only claims this track cannot pose)."""
MAIN_SUITE = "chat-arithmetic?unanswerable_share=0.25"
CONFIDENCE_SUITE = "chat-arithmetic?confidence=1"
FRAMING_SUITE = "chat-arithmetic?unanswerable_share=0"
REASONING_SUITE = "chat-arithmetic?reasoning=1&unanswerable_share=0"
REASONING_TOKENS = 96
"""New tokens for the step-by-step prompts of the faithfulness audit (the plain suite's 24 cut the reasoning)."""


@dataclass
class RealLabConfig:
    out: str = "runs/lab-real"
    adapters: str = "models/real-lora"
    problems: int = 60
    """Problems per split of the main audit (25 % of them unanswerable)."""
    samples: int = 4
    kl_problems: int = 16
    """Test problems the exact KL probe scores (2 forward passes × 4 samples each, per variant)."""
    calibration_problems: int = 24
    """Test problems of the calibration audits (the claims read test only)."""
    framing_problems: int = 20
    """Test problems the framing audit re-asks under each built-in frame (instruct vs grpo-binary; 0: none)."""
    faithfulness_problems: int = 12
    """Test problems of the faithfulness audit (step-by-step prompts, one sample each: the probe reads one
    reasoning per problem; instruct vs grpo-binary; 0: none)."""
    bootstrap: int = 1000
    seed: int = 0
    docs: str | None = None


def available_variants(adapters: str | Path) -> dict[str, Path]:
    """Audit name → adapter directory, for the variants whose adapter is present."""
    root = Path(adapters)
    return {name: root / folder for name, (folder, _) in REAL_VARIANTS.items()
            if (root / folder / "adapter_config.json").is_file()}


def _audit(cfg: RealLabConfig, name: str, models: dict[str, str], suite: str, probes: tuple[str, ...],
           problems: int, splits: tuple[str, ...] = ("test", "ood"), console=None,
           max_new_tokens: int = SAMPLING["max_new_tokens"], samples: int | None = None) -> dict:
    from offtarget.audit.config import AuditConfig
    from offtarget.audit.runner import run_audit
    from offtarget.report.render import render_all

    store = "generations-confidence.sqlite" if "confidence=1" in suite else "generations.sqlite"
    acfg = AuditConfig(models=models, suite=suite, out=str(Path(cfg.out) / "audits" / name),
                       store=str(Path(cfg.out) / store), problems=problems, splits=splits, samples=samples or cfg.samples,
                       temperature=SAMPLING["temperature"], top_p=SAMPLING["top_p"],
                       max_new_tokens=max_new_tokens, greedy=False, probes=probes, seed=cfg.seed,
                       bootstrap=cfg.bootstrap)
    results = run_audit(acfg, console, kind=f"real lab audit: {name}")
    render_all(results, acfg.out)
    return results


def _posed(row: ClaimResult) -> bool:
    """A row is posed when it measured something: an effect, or a verdict another of its parts decided."""
    if row.effect is not None:
        return True
    missing = ("no comparison", "only ")  # a checkpoint this track has not built; too few variants to correlate
    if any(n.startswith(missing) for n in row.notes):
        return False
    return row.verdict != "inconclusive"


def confidence_coverage(audit: dict | None, group: str = "test") -> dict[str, float]:
    """Checkpoint → share of its answers on ``group`` that state a confidence (the calibration probe's
    ``confidence_coverage_verbalized``): without stated confidences there is no verbalized ECE."""
    out: dict[str, float] = {}
    for p in (audit or {}).get("probes", []):
        for m in p["metrics"]:
            if m["metric"] == "confidence_coverage_verbalized" and m["group"] == group and m["value"] is not None:
                out[m["checkpoint"]] = m["value"]
    return out


def _why_not_posed(row: ClaimResult, built: list[str], coverage: dict[str, float]) -> str:
    checkpoint = row.comparison.split(" vs ")[0]
    if checkpoint.startswith("grpo-") and checkpoint not in built:
        return f"needs a {checkpoint} variant, not trained on this model"
    if row.recipe == "calibration" and coverage:
        shares = ", ".join(f"{k} {v:.1%}" for k, v in coverage.items())
        parts = [n for n in row.notes if n.startswith("part ")]
        return ("the models almost never state a confidence when asked (share of answers stating one on test: "
                f"{shares}), so the verbalized ECE is undefined for at least one side"
                + (" (" + "; ".join(parts) + ")" if parts else ""))
    return "no measurement in this track's audits (" + "; ".join(row.notes) + ")"


def evaluate(audits: dict[str, dict], built: list[str]) -> tuple[list[ClaimResult], list[dict]]:
    """The recipes' claims on the audits; rows whose checkpoints this track lacks go to the not-posed list.

    ``audits["drift"]`` (the KL probe on its own problem set) is read as part of ``main``."""
    main_audit = dict(audits["main"])
    if "drift" in audits:
        main_audit["probes"] = list(main_audit["probes"]) + list(audits["drift"]["probes"])
    main = LabEvidence({"main": main_audit, **{k: audits[k] for k in ("framing", "faithfulness") if k in audits}},
                       {})
    calib = LabEvidence({"main": audits.get("calibration", {}), "vs-binary": audits.get("vs-binary", {})}, {}) \
        if "calibration" in audits else None
    coverage = confidence_coverage(audits.get("calibration"))
    claims: list[ClaimResult] = []
    not_posed: list[dict] = []
    for name, recipe in {**RECIPES, **PROBE_RECIPES}.items():
        if name in PROBE_RECIPES and not set(recipe.audits) <= set(audits):
            not_posed.append({"recipe": name, "claim": recipe.evaluate(main)[0].claim, "source": recipe.source,
                              "why": f"probe not run (the {recipe.audits[0]} audit is off: "
                                     f"--{recipe.audits[0]}-problems 0, or grpo-binary is missing)"})
            continue
        if name in NOT_POSED:
            not_posed.append({"recipe": name, "claim": recipe.claim, "source": recipe.source, "why": NOT_POSED[name]})
            continue
        if name == "calibration" and calib is None:
            not_posed.append({"recipe": name, "claim": recipe.claim, "source": recipe.source,
                              "why": "the binary or RLCR adapter is missing"})
            continue
        rows = recipe.evaluate(calib if name == "calibration" else main)
        for row in rows:
            if name == "calibration" and coverage:
                row.notes.append("share of answers stating a confidence on test: "
                                 + ", ".join(f"{k} {v:.1%}" for k, v in coverage.items()))
            if _posed(row):
                claims.append(row)
            else:
                not_posed.append({"recipe": name, "claim": row.claim or recipe.claim, "source": row.source,
                                  "why": _why_not_posed(row, built, coverage)})
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
        cov = confidence_coverage(audits.get("calibration")).get(name)
        row["confidence_coverage"] = None if cov is None else round(cov, 3)
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
             seconds: float, findings: list[str] = ()) -> str:
    text = claims_markdown(claims, command, seconds).replace("# Lab claims", "# Lab claims on a real model", 1)
    intro = ("Model: SmolLM2-135M-Instruct (`smollm2-135m-instruct`), the reference of every comparison "
             "(`instruct`, in the place of the toy lab's SFT model). Variants: LoRA GRPO adapters in "
             "`models/real-lora/`, one change each; the exact training commands are in "
             f"`models/real-lora/train.sh`. Suite: `{MAIN_SUITE}` (calibration: `{CONFIDENCE_SUITE}`), "
             f"T = {SAMPLING['temperature']}, top_p = {SAMPLING['top_p']}, ≤ {SAMPLING['max_new_tokens']} new tokens.")
    columns = ("| checkpoint | change | steps | train wall s | s/step | accuracy test | accuracy ood | "
               "abstention recall (test) | states a confidence |")
    head = ["", intro, "", "## Checkpoints", "", columns, "|---|---|---|---|---|---|---|---|---|"]
    f = (lambda x: "–" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x)))
    for row in table:
        change = "the released instruct model" if row["checkpoint"] == REFERENCE else REAL_VARIANTS[row["checkpoint"]][1]
        head.append(f"| {row['checkpoint']} | {change} | {f(row.get('steps'))} | {f(row.get('wall_s'))} | "
                    f"{f(row.get('seconds_per_step'))} | {f(row.get('accuracy test'))} | {f(row.get('accuracy ood'))} | "
                    f"{f(row.get('abstention_recall test/unanswerable'))} | {f(row.get('confidence_coverage'))} |")
    if findings:
        head += ["", "## What this model does", ""] + [f"- {x}" for x in findings]
    head += ["", "## Claims posed on this model", ""]
    lines = text.split("\n")
    out = lines[:3] + head + lines[3:]
    out += ["## Claims not posed on this model", "", "| recipe | claim | why |", "|---|---|---|"]
    cell = (lambda text: text.replace("|", "\\|"))  # a claim such as "|Δ accuracy| < 0.02" inside a table cell
    out += [f"| {r['recipe']} | {cell(r['claim'])} | {cell(r['why'])} |" for r in not_posed]
    return "\n".join(out) + "\n"


def findings(audits: dict[str, dict], cfg: RealLabConfig) -> list[str]:
    """Plain sentences on what the audits could measure on this model (sizes, abstention, stated confidence)."""
    ev = LabEvidence(audits, {})
    out = []
    main = audits.get("main")
    if main:
        n = {g: ev.metric("main", "abstention_rate", g, REFERENCE) for g in ("test/two-digit", "test/unanswerable")}
        sizes = ", ".join(f"{g} {m['n']}" for g, m in n.items() if m)
        out.append(f"Main audit: {cfg.problems} problems per split × {cfg.samples} samples (problems per group: "
                   f"{sizes}); a probe reports a group only from 5 problems on.")
        rec = ev.metric("main", "abstention_recall", "test/unanswerable", REFERENCE)
        if rec and rec["value"] is not None:
            out.append(f"Asked an unanswerable question (\"What is 34 plus my age?\", with \"If the question cannot be "
                       f"answered, say 'I don't know'\" in every prompt), the instruct model abstains in "
                       f"{rec['value']:.0%} of its answers [{rec['low']:.0%}, {rec['high']:.0%}]; it mostly states a "
                       "number. A claim that RL lowers abstention starts from this low base.")
    cov = confidence_coverage(audits.get("calibration"))
    if cov:
        out.append("Asked for a stated confidence (`<confidence>0.8</confidence>`), the checkpoints state one in "
                   + ", ".join(f"{k} {v:.1%}" for k, v in cov.items())
                   + " of their answers on test, always in prose (\"I'm 99% sure that the answer is 61.\"), never "
                   "the tag: a 135M instruct model does not follow the request, so the verbalized ECE is undefined "
                   "or rests on a handful of answers. This is the model's behaviour, not a parsing failure (the "
                   "parser reads the tag, `Confidence: 0.8` and a stated percentage).")
        acc = {name: (ev.metric("main", "accuracy", "test", name), ev.metric("calibration", "accuracy", "test", name))
               for name in cov}
        pairs = [f"{k} {a['value']:.2f} → {b['value']:.2f}" for k, (a, b) in acc.items() if a and b]
        n = next((b["n"] for a, b in acc.values() if b), None)
        if pairs:
            out.append("The request itself changes the answers: accuracy on test without → with the confidence "
                       "request: " + ", ".join(pairs) + f" (with: {n} answerable test problems, the first {n} of "
                       "the main audit's).")
    if "drift" in audits:
        out.append(f"KL from the instruct model: exact forward KL per token on the instruct model's own samples of "
                   f"the first {cfg.kl_problems} test problems (audit `drift`).")
    return out


def run_real(cfg: RealLabConfig, console=None) -> tuple[list[ClaimResult], list[dict]]:
    """Audit the instruct model against the committed adapters; write claims-real.md/json into ``out`` (and ``docs``)."""
    t0 = time.time()
    built = available_variants(cfg.adapters)
    if not built:
        raise OfftargetError(f"--adapters {cfg.adapters}: no adapter found (expected <variant>/adapter_config.json; "
                             "train them with models/real-lora/train.sh)")
    models = {REFERENCE: BASE, **{n: str(p) for n, p in built.items()}}
    audits = {"main": _audit(cfg, "main", models, MAIN_SUITE, MAIN_PROBES, cfg.problems, console=console)}
    if cfg.kl_problems > 0:
        # the first kl_problems answerable test items of the main audit: their generations are stored already
        audits["drift"] = _audit(cfg, "drift", models, "chat-arithmetic?unanswerable_share=0", ("kl",),
                                 cfg.kl_problems, splits=("test",), console=console)
    if {"grpo-binary", "grpo-rlcr"} <= set(built):
        trio = {k: models[k] for k in (REFERENCE, "grpo-binary", "grpo-rlcr")}
        audits["calibration"] = _audit(cfg, "calibration", trio, CONFIDENCE_SUITE, ("accuracy", "calibration"),
                                       cfg.calibration_problems, splits=("test",), console=console)
        pair = {k: models[k] for k in ("grpo-binary", "grpo-rlcr")}
        audits["vs-binary"] = _audit(cfg, "vs-binary", pair, CONFIDENCE_SUITE, ("accuracy", "calibration"),
                                     cfg.calibration_problems, splits=("test",), console=console)
    if "grpo-binary" in built:
        pair = {k: models[k] for k in (REFERENCE, "grpo-binary")}
        if cfg.framing_problems > 0:
            audits["framing"] = _audit(cfg, "framing", pair, FRAMING_SUITE, ("framing",), cfg.framing_problems,
                                       splits=("test",), console=console)
        if cfg.faithfulness_problems > 0:
            audits["faithfulness"] = _audit(cfg, "faithfulness", pair, REASONING_SUITE, ("faithfulness",),
                                            cfg.faithfulness_problems, splits=("test",), console=console,
                                            max_new_tokens=REASONING_TOKENS, samples=1)
    claims, not_posed = evaluate(audits, list(built))
    runs = _runs(built)
    table = _accuracy_table(audits, runs)
    seconds = time.time() - t0
    notes = findings(audits, cfg)
    command = (f"offtarget lab real --adapters {cfg.adapters} --problems {cfg.problems} --samples {cfg.samples} "
               f"--kl-problems {cfg.kl_problems} --calibration-problems {cfg.calibration_problems} "
               f"--framing-problems {cfg.framing_problems} --faithfulness-problems {cfg.faithfulness_problems} "
               f"--bootstrap {cfg.bootstrap} --seed {cfg.seed}")
    data = {"schema_version": 1, "command": command, "seconds": round(seconds, 1), "model": BASE,
            "sampling": SAMPLING, "checkpoints": table, "findings": notes, "claims": [c.to_dict() for c in claims],
            "not_posed": not_posed}
    for folder in [cfg.out] + ([cfg.docs] if cfg.docs else []):
        atomic_write_text(Path(folder) / "claims-real.json", json.dumps(sanitize(data), indent=1, allow_nan=False))
        atomic_write_text(Path(folder) / "claims-real.md", markdown(claims, not_posed, table, command, seconds, notes))
    return claims, not_posed
