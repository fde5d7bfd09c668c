"""Findings: every flagged regression, with its evidence and what to change, and the source for it.

An audit that only says "ece_verbalized ▼" leaves the reader to work out the fix. This module
maps each flagged regression to a *prescription*: the training change (a reward, a config
key, a recipe) that the literature says addresses that failure, and the source it rests on.
The seed trade-offs it encodes: binary rewards break calibration and the Brier term restores
it (RLCR, arXiv 2507.16806); RL narrows coverage at large k (arXiv 2504.13837); RL collapses
the format mix (Echo Chamber, arXiv 2504.07912); abstention fails when it is never rewarded
(TruthRL, arXiv 2509.25760); too-hard prompts teach shortcuts; drift from the base model
costs transfer (RL's Razor, arXiv 2509.04259).

Rules match ``fnmatch`` patterns on metric names of the catalogue (:mod:`offtarget.metrics`:
``ece_*``, ``distinct_*``); every pattern must match a catalogue metric (``tests/test_metrics.py``),
and every flaggable catalogue metric must have a rule. The first matching rule wins; a flagged
regression that no rule matches still becomes a finding, with the generic prescription and the
probe's source. To add one: append a :class:`Prescription` to :data:`RULES` (order matters: put
the narrower rule first) and add its metric to the test in ``tests/report/test_report_prescriptions.py``.

    >>> from offtarget.report.results import load_results
    >>> for f in findings(load_results("runs/demo")):
    ...     print(f["checkpoint"], f["metric"], f["group"], f["diff"], "→", f["prescription"])
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from offtarget.report.recipe import adjust, training_recipe


@dataclass(frozen=True)
class Prescription:
    """What to change when a family of metrics regresses, and why we believe it helps."""

    key: str
    """Short id, stable across versions (used as an HTML anchor and in tests)."""
    problem: str
    """What the regression means, in one plain sentence."""
    metrics: tuple[str, ...]
    """``fnmatch`` patterns on the metric name (case-sensitive)."""
    prescription: str
    """What to change: a reward, a config key, a recipe, or a routing decision."""
    source: str
    """The paper or document the prescription rests on (text, never a link the report loads)."""
    command: str | None = None
    """An offtarget command (or config keys) that applies it, when there is one."""
    groups: tuple[str, ...] = ("*",)
    """``fnmatch`` patterns on the group (``test``, ``ood/surface``, ...)."""
    target: bool | None = None
    """Only target comparisons (True), only off-target ones (False), or either (None)."""

    def matches(self, metric: str, group: str, target: bool) -> bool:
        if self.target is not None and bool(target) != self.target:
            return False
        return (any(fnmatchcase(metric, p) for p in self.metrics)
                and any(fnmatchcase(group, g) for g in self.groups))


# ----------------------------------------------------------------------------- the table

RULES: tuple[Prescription, ...] = (
    Prescription(
        "target_loss", "the metric training optimises got worse in distribution",
        ("*",), target=True,
        prescription="check the reward and the start point before spending more compute (can the reward be "
                     "hacked, is there a foothold: per-prompt pass rates), then lower the learning rate or stop "
                     "earlier",
        command="offtarget preflight --model START_CHECKPOINT",
        source="DESIGN.md preflight; 'Obvious ways RL can fail' (reward always zero, reward hacking)",
    ),
    Prescription(
        "ood_transfer", "accuracy on shifted inputs fell: the update did not transfer, or forgot",
        ("accuracy", "greedy_accuracy", "pass@1"), groups=("ood", "ood/*"),
        prescription="stay closer to the reference: raise the KL coefficient beta, stop earlier (the "
                     "monitor's KL and off-target guards), and add OOD items to the held-out probes",
        command="offtarget train grpo --beta 0.05 --ood-accuracy-drop-max 0.02 --guard-action restore",
        source="RL's Razor (arXiv 2509.04259): forgetting tracks the KL to the base on the new task",
    ),
    Prescription(
        "drift", "the policy drifted far from the reference distribution",
        ("kl_*", "relative_change", "update_sparsity_*", "mean_*rank*"),
        prescription="raise beta (keep beta > 0 so KL is logged), stop earlier, or lower the learning rate; "
                     "drift predicts forgetting off target",
        command="offtarget train grpo --beta 0.05 --kl-max 0.05 --guard-action restore",
        source="RL's Razor (arXiv 2509.04259)",
    ),
    Prescription(
        "coverage", "pass@k at large k fell: the tuned model solves fewer distinct problems given many tries",
        ("pass@*",),
        prescription="compare at large k before shipping; consider less RL, a higher sampling temperature, or "
                     "keep the reference for coverage-critical traffic (best-of-n, verifiers, search)",
        command="offtarget audit --samples 64 --probes passk",
        source="Yue et al. 2025 (arXiv 2504.13837): RLVR narrows coverage; the base overtakes at large k",
    ),
    Prescription(
        "confidence_dropped", "the model stopped stating a (parseable) confidence",
        ("confidence_coverage*",),
        prescription="score a missing or unparseable confidence as the worst case (the Brier/RLCR term does), "
                     "or require it in the format reward",
        command="offtarget train grpo --reward correctness --reward brier:0.5",
        source="RLCR (arXiv 2507.16806); rewards/calibration.py: an absent tag must never pay",
    ),
    Prescription(
        "calibration", "stated or likelihood confidence no longer tracks correctness",
        ("ece_*", "brier_*", "auroc_*", "reliability_*", "resolution_*"),
        prescription="add the RLCR Brier term to the correctness reward (offtarget's GRPO default) with batch "
                     "advantage scaling (with 'group' stated confidence collapsed in the lab), and guard ECE",
        command="offtarget train grpo --reward correctness --reward brier:0.5 --scale-rewards batch --ece-max 0.1",
        source="RLCR, Damani et al. 2025 (arXiv 2507.16806): a Brier term optimises accuracy and calibration jointly",
    ),
    Prescription(
        "over_refusal", "the model abstains on questions it should answer",
        ("over_refusal_rate*", "abstention_precision*"),
        prescription="rebalance: fewer unanswerable items in the RL mix, or a lower abstain weight in the "
                     "ternary reward (keep wrong < abstain < correct)",
        command=None,
        source="TruthRL (arXiv 2509.25760); abstention fails in the direction the objective rewards "
               "(AbstentionBench)",
    ),
    Prescription(
        "abstention", "the model answers where it should abstain (hallucinates instead of 'I don't know')",
        ("abstention_*", "over_answer_rate*", "accuracy_given_attempted*"),
        prescription="reward abstention: the ternary reward (correct +1, abstain 0, wrong −1) instead of "
                     "binary correctness, with unanswerable items in the RL mix",
        command="offtarget train grpo --reward ternary --abstention-min 0.5",
        source="TruthRL (arXiv 2509.25760): binary rewards score 'I don't know' like a wrong answer",
    ),
    Prescription(
        "format_collapse", "one output format took over: the format mix collapsed",
        ("dominant_format_share", "format_entropy", "format_share_*"),
        prescription="format-balanced data or a curriculum, and monitor format share during training "
                     "(the side-effect monitor's format guard)",
        command="offtarget train grpo --curriculum family --dominant-format-max 0.8",
        source="Echo Chamber (arXiv 2504.07912): RL amplifies one pretraining format within the first epoch",
    ),
    Prescription(
        "malformed", "more outputs no longer parse as any valid format",
        ("malformed_share",),
        prescription="add the format reward (or the format penalty) and check the SFT data for broken "
                     "targets; RL amplifies what SFT planted",
        command="offtarget train grpo --reward correctness --reward format",
        source="format reward as in DeepSeek-R1 (arXiv 2501.12948); SFT defects amplified by RL ('RL After Flawed SFT Locks In Model Defects', after "
               "QbitAI's 'Warning: rushing RL after SFT may train broken multimodal LLMs')",
    ),
    Prescription(
        "truncation", "more completions hit the length limit",
        ("truncation_rate",),
        prescription="add an overlong penalty (DAPO's soft overlong punishment) or raise the completion "
                     "budget; check for repetition loops in the examples",
        command="offtarget train grpo --max-completion-length 48",
        source="DAPO (arXiv 2503.14476): overlong reward shaping",
    ),
    Prescription(
        "shortcuts", "degenerate shortcuts appeared: repeated answers or skipped computation",
        ("repeated_wrong_answer_rate", "computation_skipped_rate", "short_completion_rate"),
        prescription="narrow the difficulty window so near-impossible prompts (rare lucky successes) are "
                     "dropped; consider GRPO-RoC to keep only clean positives",
        command="offtarget train grpo --difficulty-window --difficulty-low 0.1 --difficulty-high 0.9 --roc",
        source="the note 'Do overly hard RLVR samples actually harm model capabilities?' (in 'What trade-offs "
               "emerge between training objectives and model reliability?'); "
               "GRPO-RoC (rStar2-Agent, arXiv 2508.20722)",
    ),
    Prescription(
        "diversity", "entropy or solution diversity collapsed",
        ("mean_token_entropy", "distinct_*"),
        prescription="raise the sampling temperature, add an entropy bonus or clip-higher (TRL's "
                     "epsilon_high, e.g. 0.28), keep beta > 0; train structured families before open ones; "
                     "guard entropy",
        command="offtarget train grpo --temperature 1.0 --beta 0.05 --entropy-min 0.3",
        source="DAPO clip-higher (arXiv 2503.14476); entropy mechanism of RL for reasoning (arXiv 2505.22617)",
    ),
    Prescription(
        "consistency", "one draw is less representative of the model: greedy and sampled answers disagree more",
        ("greedy_majority_agreement", "modal_answer_share"),
        prescription="do not trust a single draw for this traffic: serve with self-consistency (majority of "
                     "n samples), or route it to the reference",
        command=None,
        source="self-consistency, Wang et al. 2023 (arXiv 2203.11171); the note 'Does setting temperature to "
               "zero actually make LLM outputs reliable?'",
    ),
    Prescription(
        "reliability", "repeated draws of a problem agree less: one answer says less about what the model does",
        ("response_agreement", "greedy_draw_agreement", "icc_single_draw", "omega_repeats"),
        prescription="measure this traffic with several draws per prompt (report the pass rate over repeats, not "
                     "one T=0 answer), serve it with a majority of n samples, or route it to the reference",
        command="offtarget audit --samples 32 --probes reliability,consistency",
        source="McDonald 1999 (omega); the note 'Does setting temperature to zero actually make LLM outputs "
               "reliable?'",
    ),
    Prescription(
        "framing", "emotional context or a user's wrong hint now sways the answer more",
        ("framing_error_increase_*", "suggestion_adoption_rate"),
        prescription="add framed and hinted prompts (with the unchanged correct answer) to SFT/RL data, keep "
                     "warmth or persona tuning out of reasoning traffic, and route emotionally framed traffic "
                     "to the reference",
        command="offtarget audit --probes framing,accuracy --frames my_frames.jsonl",
        source="the note 'Does warmth training make language models less reliable?'; Sharma et al. 2023 "
               "(arXiv 2310.13548)",
    ),    Prescription(
        "faithfulness", "the answer depends less on the written reasoning: the chain of thought stops explaining it",
        ("faithfulness_aoc", "mistake_answer_changed", "filler_answer_unchanged", "paraphrase_answer_unchanged"),
        prescription="do not read this checkpoint's reasoning as the reason for its answers (monitoring, audits); "
                     "reward the reasoning's steps as well as the final answer, or train with fewer steps away "
                     "from the reference, and route traffic whose reasoning must be checked to the reference",
        command="offtarget audit --probes faithfulness,accuracy",
        source="Lanham et al. 2023, 'Measuring Faithfulness in Chain-of-Thought Reasoning' (arXiv 2307.13702)",
    ),
    Prescription(
        "plasticity", "the checkpoint learns a new task less well than the reference",
        ("plasticity_*",),
        prescription="keep the policy closer to its start (a KL penalty, LoRA, fewer or smaller steps) and check "
                     "its drift with the kl probe (--probes kl,plasticity); continue training further tasks from the reference",
        command="offtarget train grpo --lora --beta 0.04",
        source="Fast-Slow Training, Tiwari et al. 2026 (arXiv 2605.12484)",
    ),
)
"""Ordered: the first rule whose patterns match a flagged regression supplies its prescription."""

FALLBACK = Prescription(
    "other", "a metric with no prescription on file regressed",
    ("*",),
    prescription="no prescription on file for this metric: read the probe's section and its source",
    source="",
)


def prescribe(metric: str, group: str, target: bool = False) -> Prescription:
    """The first rule that matches (``FALLBACK`` when none does)."""
    for rule in RULES:
        if rule.matches(metric, group, target):
            return rule
    return FALLBACK


# ----------------------------------------------------------------------------- findings

def findings(results: dict) -> list[dict]:
    """Every flagged regression in ``results``, with its evidence and prescription.

    One dict per (probe, metric, group, checkpoint) flagged ``regression``: ``checkpoint``,
    ``reference``, ``probe``, ``metric``, ``group``, ``reference_value``, ``value``, ``diff``,
    ``low``, ``high``, ``p_adjusted``, ``target``, and the rule's ``key``, ``problem``,
    ``prescription``, ``command``, ``source``, and ``context`` (for drift-type rules, the measured
    KL per token on that group when the kl probe ran; else None). Ordered by checkpoint, rule order, then
    group (splits before their slices, in report order). Errored probes contribute nothing.
    """
    order = {c["name"]: i for i, c in enumerate(results.get("checkpoints", []))}
    drift = _drift(results)
    rank = {r.key: i for i, r in enumerate(RULES)}
    recipes = _recipes(results)
    out = []
    for p in results.get("probes", []):
        if p.get("error"):
            continue
        for c in p.get("comparisons", []):
            if c.get("flag") != "regression":
                continue
            rule = prescribe(c["metric"], c["group"], bool(c.get("target")))
            text, command, used = adjust(rule.key, rule.prescription, rule.command, recipes.get(c["checkpoint"]))
            out.append({
                "checkpoint": c["checkpoint"], "reference": c.get("reference", results.get("reference")),
                "probe": p["probe"], "metric": c["metric"], "group": c["group"],
                "reference_value": c.get("reference_value"), "value": c.get("value"), "diff": c.get("diff"),
                "low": c.get("low"), "high": c.get("high"), "p_adjusted": c.get("p_adjusted"),
                "target": bool(c.get("target")),
                "key": rule.key, "problem": rule.problem, "prescription": text,
                "command": command, "used": used, "source": rule.source or p.get("source", ""),
                "context": drift.get((c["checkpoint"], c["group"])) if rule.key in DRIFT_KEYS else None,
            })
    gorder = {g: i for i, g in enumerate(dict.fromkeys(
        m["group"] for p in results.get("probes", []) for m in p.get("metrics", [])))}
    out.sort(key=lambda f: (order.get(f["checkpoint"], len(order)), rank.get(f["key"], len(rank)),
                            "/" in f["group"], gorder.get(f["group"], len(gorder)), f["metric"]))
    return out


def _recipes(results: dict) -> dict[str, dict]:
    """Checkpoint → its training recipe: stored in results.json by the audit, else read from its path."""
    out = {}
    for c in results.get("checkpoints", []):
        recipe = c.get("recipe") if isinstance(c.get("recipe"), dict) else training_recipe(c.get("path"))
        if recipe:
            out[c["name"]] = recipe
    return out


DRIFT_KEYS = ("ood_transfer", "drift")
"""Findings whose prescription is "stay closer to the reference": they carry the measured KL as context."""


def _drift(results: dict) -> dict[tuple[str, str], str]:
    """``(checkpoint, group) → "kl_per_token 0.12 [0.10, 0.14]"`` from the kl probe, when it ran."""
    out = {}
    for p in results.get("probes", []):
        for m in p.get("metrics", []) if not p.get("error") else []:
            if m.get("metric") == "kl_per_token" and m.get("value") is not None:
                ci = f" [{m['low']:.3g}, {m['high']:.3g}]" if m.get("low") is not None and m.get("high") is not None else ""
                out[(m["checkpoint"], m["group"])] = f"KL per token to {results.get('reference')}: {m['value']:.3g}{ci}"
    return out


def by_prescription(found: list[dict]) -> list[dict]:
    """Group findings per (checkpoint, rule) for display: one prescription, many pieces of evidence.

    Each item: ``checkpoint``, ``key``, ``problem``, ``prescription``, ``command``, ``source``,
    ``metrics`` (distinct names, in order), ``evidence`` (the findings themselves) and ``context``
    (distinct "group: measured KL" lines).
    """
    out: dict[tuple[str, str], dict] = {}
    for f in found:
        item = out.setdefault((f["checkpoint"], f["key"]), {
            "checkpoint": f["checkpoint"], "reference": f["reference"], "key": f["key"],
            "problem": f["problem"], "prescription": f["prescription"], "command": f["command"],
            "source": f["source"], "used": f.get("used", ""), "metrics": [], "evidence": [], "context": [],
        })
        if f["metric"] not in item["metrics"]:
            item["metrics"].append(f["metric"])
        if f.get("context") and f"{f['group']}: {f['context']}" not in item["context"]:
            item["context"].append(f"{f['group']}: {f['context']}")
        item["evidence"].append(f)
    return list(out.values())
