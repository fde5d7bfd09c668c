"""What a checkpoint was trained with, read from its ``offtarget train`` run, so prescriptions never
repeat it.

A model directory written by ``offtarget train`` (``runs/g1/final``, ``best``) carries
``offtarget_train.json``; its run directory (the parent, or the directory itself when given the run)
holds the resolved ``config.yaml``. From them: rewards with weights, advantage scaling, beta, guard
thresholds, difficulty window, RoC, curriculum. :func:`adjust` then turns a prescription such as
"add the RLCR Brier term" for a checkpoint already trained with it into what to change about it
(weight, scaling, guard threshold).

    >>> training_recipe("runs/g1/final")["rewards"]
    {'correctness': 1.0, 'brier': 0.5}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

RECIPE_KEYS = ("scale_rewards", "beta", "difficulty_window", "difficulty_low", "difficulty_high", "roc",
               "curriculum", "temperature", "entropy_min", "ece_max", "dominant_format_max", "kl_max",
               "ood_accuracy_drop_max", "abstention_min", "learning_rate", "steps")


def training_recipe(path: str | Path | None) -> dict | None:
    """The recipe of an ``offtarget train`` model or run directory, or None when it is not one."""
    if not path:
        return None
    p = Path(path)
    try:
        if not p.is_dir():
            return None
        meta_file = p / "offtarget_train.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else None
        is_run = (p / "config.yaml").is_file() and (p / "final").is_dir()
        if meta is None and not is_run:
            return None
        config_file = p / "config.yaml" if is_run else p.parent / "config.yaml"
        if is_run and (p / "final" / "offtarget_train.json").is_file():
            meta = json.loads((p / "final" / "offtarget_train.json").read_text())
        cfg = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
    except (OSError, ValueError, yaml.YAMLError):
        return None
    cfg = cfg if isinstance(cfg, dict) else {}
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("recipe") and isinstance(meta["recipe"], dict):
        cfg = {**cfg, **meta["recipe"]}
    out: dict[str, Any] = {"rewards": parse_rewards(cfg.get("reward") or cfg.get("rewards"))}
    out.update({k: cfg[k] for k in RECIPE_KEYS if k in cfg})
    out["start_model"] = meta.get("start_model") or cfg.get("model")
    out["kind"] = "grpo" if "reward" in cfg or "rewards" in cfg else "sft"
    return out


def parse_rewards(spec: Any) -> dict[str, float]:
    """``["correctness", "brier:0.5"]`` → ``{"correctness": 1.0, "brier": 0.5}`` (a dict passes through)."""
    if isinstance(spec, dict):
        return {str(k): float(v) for k, v in spec.items()}
    out = {}
    for item in [spec] if isinstance(spec, str) else (spec or []):
        name, _, weight = str(item).rpartition(":")
        if not name or not _is_number(weight):
            name, weight = str(item), "1"
        out[name.rsplit(":", 1)[-1] if ":" in name else name] = float(weight)
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _fmt(x: Any) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def adjust(key: str, prescription: str, command: str | None, recipe: dict | None) -> tuple[str, str | None, str]:
    """``(prescription, command, used)`` for rule ``key`` given what training already used.

    ``used`` says what the recipe already had ("" when nothing relevant, and then the rule's own
    prescription stands)."""
    if not recipe:
        return prescription, command, ""
    rw = recipe.get("rewards") or {}
    brier = next((w for n, w in rw.items() if n in ("brier", "rlcr")), None)
    if key in ("calibration", "confidence_dropped") and brier is not None:
        scale = recipe.get("scale_rewards", "group")
        ece = recipe.get("ece_max")
        used = f"already trained with the RLCR Brier term (weight {_fmt(brier)}, {scale} advantage scaling" + (
            f", ECE guard {_fmt(ece)})" if ece is not None else ", no ECE guard)")
        steps = [f"raise the Brier weight from {_fmt(brier)} to {_fmt(2 * brier)}"]
        if scale != "batch":
            steps.append(f"switch advantage scaling from {scale} to batch (group scaling collapsed stated "
                         "confidence in the lab)")
        steps.append(f"tighten the ECE guard from {_fmt(ece)} to {_fmt(round(ece / 2, 4))}" if ece is not None
                     else "add an ECE guard (--ece-max 0.1) so the monitor stops the run when calibration slips")
        cmd = (f"offtarget train grpo --reward correctness --reward brier:{_fmt(2 * brier)} --scale-rewards batch "
               f"--ece-max {_fmt(round(ece / 2, 4)) if ece is not None else '0.1'}")
        return "; ".join(steps), cmd, used
    ternary = rw.get("ternary")
    if key == "abstention" and ternary is not None:
        guard = recipe.get("abstention_min")
        used = f"already trained with the ternary abstention reward (weight {_fmt(ternary)})"
        return (f"raise the ternary reward's weight from {_fmt(ternary)} to {_fmt(2 * ternary)}, put more "
                f"unanswerable items in the RL mix, and "
                + (f"raise the abstention guard from {_fmt(guard)}" if guard is not None
                   else "add an abstention guard (--abstention-min 0.5)"),
                (f"offtarget train grpo --reward ternary:{_fmt(2 * ternary)} --abstention-min "
                f"{_fmt(guard) if guard is not None else '0.5'}"), used)
    if key == "malformed" and "format" in rw:
        return ((f"raise the format reward's weight from {_fmt(rw['format'])} to {_fmt(2 * rw['format'])} and check "
                "the SFT data for broken targets"), None, (f"already trained with the format reward (weight "
                f"{_fmt(rw['format'])})"))
    if key == "shortcuts" and recipe.get("difficulty_window"):
        lo, hi = recipe.get("difficulty_low", 0.1), recipe.get("difficulty_high", 0.9)
        nlo, nhi = round(min(lo + 0.1, 0.5), 2), round(max(hi - 0.1, 0.5), 2)
        roc = "" if recipe.get("roc") else " and turn on GRPO-RoC (--roc)"
        return (f"narrow the difficulty window from [{_fmt(lo)}, {_fmt(hi)}] to [{_fmt(nlo)}, {_fmt(nhi)}]{roc}",
                f"offtarget train grpo --difficulty-low {_fmt(nlo)} --difficulty-high {_fmt(nhi)} --roc",
                f"already trained with a difficulty window [{_fmt(lo)}, {_fmt(hi)}]"
                + (" and GRPO-RoC" if recipe.get("roc") else ""))
    if key in ("ood_transfer", "drift") and recipe.get("beta") is not None:
        beta, kl = recipe["beta"], recipe.get("kl_max")
        return (f"raise beta from {_fmt(beta)} to {_fmt(max(2 * beta, 0.05))}"
                + (f" and tighten the KL guard from {_fmt(kl)} to {_fmt(kl / 2)}" if kl is not None
                   else " and add a KL guard (--kl-max 0.05)") + ", or stop earlier",
                (f"offtarget train grpo --beta {_fmt(max(2 * beta, 0.05))} --kl-max "
                f"{_fmt(kl / 2) if kl is not None else '0.05'} --guard-action restore"),
                f"trained with beta {_fmt(beta)}" + (f" and KL guard {_fmt(kl)}" if kl is not None else ""))
    if key == "diversity" and recipe.get("entropy_min") is not None:
        e = recipe["entropy_min"]
        return (f"raise the entropy guard from {_fmt(e)} to {_fmt(e * 1.5)} and add clip-higher (epsilon_high 0.28)",
                f"offtarget train grpo --entropy-min {_fmt(e * 1.5)}", f"already guarded entropy at {_fmt(e)}")
    if key == "format_collapse" and recipe.get("dominant_format_max") is not None:
        d = recipe["dominant_format_max"]
        return (f"tighten the format guard from {_fmt(d)} to {_fmt(round(d - 0.1, 2))} and use format-balanced data",
                f"offtarget train grpo --dominant-format-max {_fmt(round(d - 0.1, 2))}",
                f"already guarded the dominant format share at {_fmt(d)}")
    return prescription, command, ""
