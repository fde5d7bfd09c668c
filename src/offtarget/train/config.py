"""Run configurations for ``offtarget train sft|grpo``: dataclasses, from YAML and from CLI flags.

Every field has a docstring right under it; :func:`field_docs` reads them, so the ``--help``
text of each CLI flag *is* that docstring (cleanrl's pattern). A YAML file holds the same keys,
flat; flags given on the command line override it, and defaults fill the rest.

    offtarget train grpo --model models/lab/sft --out runs/g1 --reward correctness --reward brier:0.5
    offtarget train grpo --config grpo.yaml --steps 50       # YAML, one flag overridden

    >>> cfg = load_config(GRPORunConfig, None, {"model": "models/lab/sft", "steps": 50})
    >>> cfg.steps, cfg.beta, cfg.scale_rewards
    (50, 0.01, 'batch')

Defaults are the settings measured to work on the lab's model on CPU (8 prompts × 8
generations, T = 1, top_k = 0, lr 1e-4 constant, beta 0.01, ``scale_rewards="batch"``); each
field's docstring says why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from offtarget.config import config_to_yaml, field_docs, field_types, load_config
from offtarget.errors import OfftargetError
from offtarget.train.defaults import fill_model_defaults
from offtarget.train.lora import LLAMA_PROJECTIONS, check_lora_options

C = TypeVar("C")

GUARD_ACTIONS = ("warn", "stop", "restore")
SCALE_REWARDS = ("group", "batch", "none")
CURRICULA = ("off", "family", "difficulty")


# ---------------------------------------------------------------------------------------------
# Shared options


@dataclass
class RunOptions:
    """What every training run needs: the start model, the run directory, the schedule."""

    model: str | None = None
    """Starting checkpoint: a local directory saved with save_pretrained, a known model's name
    (smollm2-135m-instruct, after `offtarget models get`) or a .gguf file. GRPO with beta > 0 reloads it
    from this path as the KL reference (with --lora the adapter-disabled model is the reference instead)."""
    out: str = "runs/train"
    """Run directory: config.yaml, monitor.jsonl, samples.jsonl, checkpoints/, final/ (the trained model)."""
    task: str = "arithmetic"
    """Task suite (``arithmetic``, ``rg:FAMILY``, ``hf:DATASET``, a .jsonl/.yaml file): its problems, strict
    verifier and held-out splits."""
    seed: int = 0
    """Seed for data order, sampling and initialisation of everything random."""
    steps: int = 300
    """Optimizer steps (max_steps)."""
    learning_rate: float | None = None
    """Peak learning rate (AdamW). Unset: 2e-4 with --lora (a zero-initialised low-rank update needs about
    10x the full rate), 1e-5 for full fine-tuning of a pretrained model (>= 10 M parameters; higher rates
    wreck what pretraining learned), 1e-4 for the lab's toys trained from scratch."""
    lr_scheduler: str = "constant"
    """transformers scheduler name (constant, linear, cosine, ...). Constant: the lab's GRPO runs used it."""
    warmup_steps: int = 0
    """Linear warm-up steps before the scheduler's shape applies."""
    logging_steps: int = 10
    """Log metrics (and write samples.jsonl) every this many steps."""
    save_steps: int = 100
    """Write a resumable checkpoint under checkpoints/ every this many steps (0: never; a killed run then
    restarts from scratch)."""
    save_total_limit: int = 2
    """Keep at most this many resumable checkpoints."""
    report_to: list[str] = field(default_factory=lambda: ["none"])
    """Where TRL reports metrics: none, tensorboard, wandb, trackio (repeat the flag for several)."""
    resume: bool = False
    """Continue the run in --out from its newest checkpoint (TRL/transformers resume_from_checkpoint)."""
    overwrite: bool = False
    """Delete an existing --out directory and start over."""
    chat_template: bool = True
    """Feed prompts through the tokenizer's chat template when it has one (as offtarget's sampler does)."""
    device: str = "auto"
    """auto (CUDA if present, else CPU), cpu or cuda. On CPU training runs with use_cpu=True, bf16=False."""
    progress: bool = True
    """Show the trainer's progress bar."""
    verbose: bool = False
    """Print TRL's log dict at every logging step, transformers' weight-loading bars and warnings (also
    OFFTARGET_VERBOSE=1). Off: the metrics still go to report_to, the trainer's log_history and summary.json."""
    lora: bool = False
    """Train a LoRA adapter (peft) instead of every weight; final/ then holds only the adapter (a few MB)
    whose base is the start model (audit it with --model rl=OUT/final)."""
    lora_rank: int = 16
    """LoRA rank r: 16 is enough for RL updates, which are low-rank (LoRA Without Regret, 2025)."""
    lora_alpha: int = 32
    """LoRA alpha; the update is scaled by alpha / rank (2 here)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input. 0: GRPO turns dropout off anyway (policy and reference log-probs must
    come from one deterministic network)."""
    lora_target_modules: list[str] = field(default_factory=lambda: list(LLAMA_PROJECTIONS))
    """Linear layers that get adapters (repeat the flag or comma-separate): every attention and MLP
    projection of a Llama block by default; all-linear for any architecture."""
    trl_args: dict = field(default_factory=dict)
    """Extra fields of TRL's GRPOConfig / SFTConfig, passed through and winning over offtarget's own
    (``--trl-args gradient_checkpointing=true --trl-args max_grad_norm=0.5``, or a mapping in YAML)."""


@dataclass
class MonitorOptions:
    """The side-effect monitor (:mod:`offtarget.train.monitor`) and its guards; a guard left empty is off."""

    monitor_every: int = 50
    """Run the monitor's small audit every this many steps (0: off). It also runs before step 1 (baseline).
    50 keeps the overhead under 5% of training time on the lab (25 with 64 problems cost about 11%;
    see benchmarks/); drifts that matter build over tens of steps, so 50 still catches them early."""
    monitor_problems: int = 48
    """Held-out problems per split (test = in distribution, ood) the monitor samples."""
    monitor_samples: int = 4
    """Samples per monitor problem, at T = 1 (the model's own distribution, which entropy and ECE need)."""
    monitor_max_new_tokens: int = 32
    """Token limit of the monitor's samples."""
    monitor_seed: int = 1234
    """Seed of the monitor's problems and samples (the same every pass, so passes are comparable)."""
    entropy_min: float | None = None
    """Guard: mean token entropy (nats) on held-out problems must stay at or above this."""
    ece_max: float | None = None
    """Guard: ECE of stated confidence (10 equal-width bins, missing confidence = 0) must stay at or below."""
    dominant_format_max: float | None = None
    """Guard: share of the most common output format must stay at or below this (format collapse)."""
    kl_max: float | None = None
    """Guard: per-token KL(start || current) on held-out start-model samples must stay at or below this."""
    ood_accuracy_drop_max: float | None = None
    """Guard: OOD accuracy may fall at most this much below the baseline pass (absolute)."""
    abstention_min: float | None = None
    """Guard: abstention rate on unanswerable items must stay at or above this."""
    guard_action: str = "warn"
    """What a tripped guard does: warn (log it), stop (end training), restore (end training and make final/ the
    best checkpoint: highest in-distribution accuracy among monitor passes that passed every guard)."""
    guard_patience: int = 1
    """Consecutive failing monitor passes before a guard trips (more than 1 tolerates one noisy pass)."""
    save_best: bool = True
    """Save the best passing checkpoint to best/ (save_pretrained) whenever a pass beats it; restore needs it."""


# ---------------------------------------------------------------------------------------------
# SFT


@dataclass
class SFTRunConfig(MonitorOptions, RunOptions):
    """``offtarget train sft``: TRL's SFTTrainer with completion-only loss."""

    out: str = "runs/sft"
    """Run directory: config.yaml, checkpoints/, final/ (and monitor.jsonl if the monitor is on)."""
    data: str | None = None
    """Training data: a JSONL file of {"prompt", "completion"} rows (TRL's prompt-completion format)."""
    batch_size: int = 64
    """Sequences per optimizer step (per process)."""
    learning_rate: float | None = None
    """Peak learning rate. Unset: 1e-3 for the lab's toys (what its SFT used on 0.86 M parameters), 1e-5 for
    full fine-tuning of a pretrained model, 2e-4 with --lora (about 10x the full rate for a low-rank update)."""
    warmup_steps: int = 20
    """Linear warm-up steps."""
    lr_scheduler: str = "linear"
    """Linear decay to 0: a fixed budget without decay overshoots on the lab."""
    max_length: int = 128
    """Longest prompt + completion in tokens; longer rows are truncated."""
    completion_only_loss: bool = True
    """Loss on the completion only; whole-sequence loss learned far slower on the lab."""
    monitor_every: int = 0
    """Monitor interval in steps (0: off; SFT data need not come from --task)."""

    def validate(self) -> None:
        _validate_common(self)
        fill_model_defaults(self, "sft")
        if not self.data:
            raise OfftargetError("--data: give a JSONL file of {\"prompt\", \"completion\"} rows")
        if not Path(self.data).is_file():
            raise OfftargetError(f"--data {self.data}: file not found")
        _positive(self, "batch_size", "max_length")


# ---------------------------------------------------------------------------------------------
# GRPO


@dataclass
class GRPORunConfig(MonitorOptions, RunOptions):
    """``offtarget train grpo``: TRL's GRPOTrainer plus difficulty window, dynamic sampling, RoC, monitor."""

    out: str = "runs/grpo"
    """Run directory: config.yaml, monitor.jsonl, samples.jsonl, checkpoints/, best/, final/."""
    reward: list[str] = field(default_factory=lambda: ["correctness", "brier:0.5"])
    """Reward functions, name[:weight] (see offtarget.rewards) or module:function[:weight] for your own; repeat
    the flag. Default correctness + 0.5 Brier: binary reward alone left the lab model under-confident (ECE
    0.30), the Brier term kept it calibrated at equal accuracy."""
    outcome_reward: str = "correctness"
    """The reward that says whether a completion succeeded (value > 0). The difficulty window, dynamic sampling
    and RoC read it, never the shaped total (verl-recipe PR 125). Added with weight 0 if not in --reward."""
    prompts_per_step: int = 8
    """Prompts per optimizer step (all processes together)."""
    num_generations: int = 8
    """Completions per prompt G (the group). 8 gives a usable group baseline at the lab's pass rates."""
    max_completion_length: int = 24
    """Token limit per completion; the lab's longest well-formed answer is 21 tokens with EOS."""
    temperature: float = 1.0
    """Sampling temperature. 1 samples the policy's own distribution: the importance ratios and the logged
    entropy/KL then refer to the policy being trained, and groups keep their spread."""
    top_k: int = 0
    """0 disables top-k (transformers' generate would otherwise cut to 50 tokens)."""
    top_p: float = 1.0
    """Nucleus sampling threshold (1: off)."""
    beta: float = 0.01
    """KL coefficient. Greater than 0 so TRL computes and logs KL to the start model every step; 0.01 is small
    enough not to hold learning back on the lab."""
    scale_rewards: str = "batch"
    """Advantage scaling: batch (std over the batch), group (TRL's default) or none. With a Brier term, group
    scaling gives all-correct groups full-size advantages and stated confidence collapsed (lab trap)."""
    loss_type: str = "dapo"
    """TRL loss aggregation (dapo, grpo, dr_grpo, bnpo, ...); dapo is TRL 1.16's default."""
    gradient_accumulation_steps: int = 1
    """Split each step's batch into this many micro-batches (memory); generation stays once per step."""
    train_problems: int = 2000
    """Training problems drawn from the task's train split (before the difficulty window)."""
    train_file: str | None = None
    """Instead of drawing from the task: a JSONL file of Problem records (id, prompt, answer, ...)."""
    difficulty_window: bool | None = None
    """Offline filter: measure each prompt's pass rate with the start model and keep low <= p <= high. Unset:
    on for the lab's toys, off for a pretrained model (2,000 prompts x 8 samples before step 1 take hours on
    a CPU; turn it on with --difficulty-prompts to bound the cost)."""
    difficulty_prompts: int = 0
    """Measure (and then train on) only the first this many training problems when the window is on (0: all
    of --train-problems). A few hundred keep the window cheap on a real model."""
    difficulty_low: float = 0.1
    """Lowest pass rate kept (below: too hard, the group almost never has a success to learn from)."""
    difficulty_high: float = 0.9
    """Highest pass rate kept (above: too easy, the group almost always ties)."""
    difficulty_samples: int = 8
    """Samples per prompt for the pass-rate measurement (k)."""
    dynamic_sampling: bool = True
    """Online: replace groups whose outcome ties (no GRPO signal) by groups from extra prompts so the batch
    stays full (DAPO; TRL lacks it, trl issue 3708)."""
    max_refill_rounds: int = 2
    """Extra generation rounds per step at most; still-missing groups are then filled with tied groups
    (advantage 0), and the shortfall is logged."""
    roc: bool = False
    """GRPO-RoC (rStar2-Agent): generate 2G per prompt, keep the G with positives of lowest penalty and
    negatives sampled in proportion (doubles generation cost)."""
    roc_min_each: int = 2
    """RoC keeps at least this many positives and negatives per group where the pool has them."""
    penalty_reward: str = "format_penalty"
    """The reward RoC ranks positives by (lower is cleaner); added with weight 0 if not in --reward."""
    curriculum: str = "off"
    """Training order: off (shuffled), family (by metadata family, --curriculum-family order), difficulty
    (easy to hard by measured pass rate). Uses a pre-sorted dataset with shuffle_dataset=False."""
    curriculum_family: list[str] = field(default_factory=list)
    """Family order for --curriculum family, most structured first; repeat the flag."""
    log_samples: bool = True
    """Write every sample (prompt, completion, rewards, advantage, group, kept) to samples.jsonl."""
    use_vllm: bool = False
    """Generate with vLLM (needs the vllm package: pip install 'offtarget[vllm]')."""
    vllm_mode: str = "colocate"
    """vLLM mode: colocate (in the training processes) or server (a separate `trl vllm-serve`)."""

    def validate(self) -> None:
        _validate_common(self)
        fill_model_defaults(self, "grpo")
        if self.difficulty_prompts < 0:
            raise OfftargetError(f"--difficulty-prompts {self.difficulty_prompts}: must be >= 0 (0: all)")
        _positive(self, "prompts_per_step", "max_completion_length", "gradient_accumulation_steps",
                  "train_problems", "difficulty_samples")
        if self.num_generations < 2:
            raise OfftargetError(f"--num-generations {self.num_generations}: GRPO needs groups of at least 2")
        _choice(self, "scale_rewards", SCALE_REWARDS)
        _choice(self, "curriculum", CURRICULA)
        _choice(self, "vllm_mode", ("colocate", "server"))
        if not 0.0 <= self.difficulty_low <= self.difficulty_high <= 1.0:
            raise OfftargetError(
                f"--difficulty-low {self.difficulty_low} / --difficulty-high {self.difficulty_high}: "
                "need 0 <= low <= high <= 1"
            )
        if self.beta < 0:
            raise OfftargetError(f"--beta {self.beta}: must be >= 0 (0 turns the KL term and its logging off)")
        if self.max_refill_rounds < 0:
            raise OfftargetError("--max-refill-rounds must be >= 0")
        if self.curriculum == "family" and not self.curriculum_family:
            raise OfftargetError("--curriculum family needs --curriculum-family NAME (repeat, most structured first)")
        if self.train_file and not Path(self.train_file).is_file():
            raise OfftargetError(f"--train-file {self.train_file}: file not found")
        if not self.reward:
            raise OfftargetError("--reward: give at least one reward, e.g. --reward correctness")
        for spec in self.reward:
            parse_reward_spec(spec)

    @property
    def group_generated(self) -> int:
        """Completions TRL generates per prompt: 2G with RoC (it keeps G), else G."""
        return 2 * self.num_generations if self.roc else self.num_generations


# ---------------------------------------------------------------------------------------------
# Validation helpers


def _validate_common(cfg: Any) -> None:
    if not cfg.model:
        raise OfftargetError("--model: give the starting checkpoint directory, e.g. --model models/lab/sft")
    from offtarget.models.registry import resolve_model_path

    cfg.model = resolve_model_path(cfg.model)
    _positive(cfg, "steps", "logging_steps")
    if cfg.save_steps < 0 or cfg.monitor_every < 0:
        raise OfftargetError("--save-steps and --monitor-every must be >= 0 (0 turns them off)")
    cfg.lora_target_modules = [t.strip() for item in cfg.lora_target_modules for t in str(item).split(",") if t.strip()]
    check_lora_options(cfg)
    if cfg.learning_rate is not None and (cfg.learning_rate <= 0 or not math.isfinite(cfg.learning_rate)):
        raise OfftargetError(f"--learning-rate {cfg.learning_rate}: must be a positive number")
    _choice(cfg, "guard_action", GUARD_ACTIONS)
    _choice(cfg, "device", ("auto", "cpu", "cuda"))
    if cfg.guard_patience < 1:
        raise OfftargetError("--guard-patience must be >= 1")
    if cfg.monitor_every and (cfg.monitor_problems < 1 or cfg.monitor_samples < 1):
        raise OfftargetError("--monitor-problems and --monitor-samples must be >= 1 when the monitor is on")
    if cfg.guard_action == "restore" and not cfg.save_best:
        raise OfftargetError("--guard-action restore needs --save-best (it restores the saved best checkpoint)")
    if cfg.resume and cfg.overwrite:
        raise OfftargetError("--resume and --overwrite contradict each other: choose one")


def _positive(cfg: Any, *names: str) -> None:
    for name in names:
        if getattr(cfg, name) < 1:
            raise OfftargetError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be at least 1")


def _choice(cfg: Any, name: str, choices: tuple[str, ...]) -> None:
    if getattr(cfg, name) not in choices:
        raise OfftargetError(f"--{name.replace('_', '-')} {getattr(cfg, name)!r}: choose one of {', '.join(choices)}")


_WEIGHT = re.compile(r"^(?P<spec>.+):(?P<weight>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$")


def parse_reward_spec(spec: str) -> tuple[str, float]:
    """``"brier:0.5"`` → ``("brier", 0.5)``; ``"mod:fn"`` → ``("mod:fn", 1.0)``; ``"mod:fn:2"`` → ``("mod:fn", 2.0)``.

    A trailing ``:number`` is the weight; anything else is the reward's name or ``module:function``.
    """
    spec = spec.strip()
    m = _WEIGHT.match(spec)
    name, weight = (m.group("spec"), float(m.group("weight"))) if m else (spec, 1.0)
    if not name or not math.isfinite(weight):
        raise OfftargetError(f"--reward {spec!r}: write NAME[:WEIGHT] or module:function[:WEIGHT]")
    return name, weight


__all__ = [
    "GRPORunConfig",
    "MonitorOptions",
    "RunOptions",
    "SFTRunConfig",
    "config_to_yaml",
    "field_docs",
    "field_types",
    "load_config",
    "parse_reward_spec",
]
