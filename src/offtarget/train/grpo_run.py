"""``offtarget train grpo``: config → problems → difficulty window → curriculum → TRL GRPO → run directory.

    offtarget train grpo --model models/lab/sft --out runs/g1
    offtarget audit --model sft=models/lab/sft --model rl=runs/g1/final --out runs/g1_audit

Steps, in order:

1. Problems from the task's train split (or ``--train-file``).
2. Offline difficulty window (:mod:`offtarget.train.data`): ``difficulty_samples`` samples per
   prompt from the start model; keep ``difficulty_low <= p <= difficulty_high``; what was dropped
   and why goes to ``difficulty.json``. Done once, by the main process; the kept problems, in
   training order, go to ``train_problems.jsonl`` (a resumed run reuses them).
3. Curriculum (off by default): pre-sort and train with ``shuffle_dataset=False``.
4. :class:`~offtarget.train.grpo.OfftargetGRPOTrainer` with the rewards (``--reward
   name[:weight]`` or ``module:function[:weight]``; the outcome reward and RoC's penalty are added
   with weight 0 when curation needs them), the monitor and the samples writer.
5. ``final/`` and ``summary.json`` (:mod:`offtarget.train.session`).

Scale-out: the same command under ``accelerate launch`` (configs in
``offtarget/train/accelerate_configs``, see ``offtarget train accelerate-config``); ``--use-vllm``
hands generation to TRL's vLLM integration when ``vllm`` is installed.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.train.config import GRPORunConfig, parse_reward_spec
from offtarget.train.rundir import read_jsonl, write_json_atomic


def make_reward(name: str, task: Any) -> Callable:
    """A registered reward (built for ``task``) or a user's ``module:function``."""
    from offtarget.rewards import get_reward, list_rewards, load_reward

    if name in list_rewards():
        return get_reward(name, task=task)
    if ":" in name:
        return load_reward(name)
    return get_reward(name)  # raises the one-line "unknown reward" error


def reward_name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def build_rewards(cfg: GRPORunConfig, task: Any) -> tuple[list[Callable], list[float], str, str]:
    """Reward functions and weights for TRL, plus the names of the outcome and penalty rewards.

    The outcome reward (``--outcome-reward``) is added with weight 0 when dynamic sampling or RoC
    needs it and it is not among ``--reward``; so is RoC's penalty: present in the per-function
    rewards the trainer reads, absent from the advantage.
    """
    funcs, weights = [], []
    for spec in cfg.reward:
        name, weight = parse_reward_spec(spec)
        funcs.append(make_reward(name, task))
        weights.append(weight)
    names = [reward_name(f) for f in funcs]
    if len(set(names)) != len(names):
        raise OfftargetError(f"--reward: each reward may appear once, got {names}")
    outcome = reward_name(make_reward(cfg.outcome_reward, task))
    penalty = reward_name(make_reward(cfg.penalty_reward, task)) if cfg.roc else ""
    if (cfg.dynamic_sampling or cfg.roc) and outcome not in names:
        funcs.append(make_reward(cfg.outcome_reward, task))
        weights.append(0.0)
    if cfg.roc and penalty not in [reward_name(f) for f in funcs]:
        funcs.append(make_reward(cfg.penalty_reward, task))
        weights.append(0.0)
    return funcs, weights, outcome, penalty


def check_vllm(cfg: GRPORunConfig) -> None:
    if cfg.use_vllm and importlib.util.find_spec("vllm") is None:
        raise OfftargetError("--use-vllm: the vllm package is not installed; pip install 'offtarget[vllm]' "
                             "(needs a CUDA GPU) or drop --use-vllm")


def prepare_problems(cfg: GRPORunConfig, task: Any, ckpt: Any, run: Any, log: Callable[[str], None]) -> list:
    """Steps 1–3 of the module docstring; writes train_problems.jsonl and difficulty.json."""
    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.sampling import SamplingParams
    from offtarget.train.curation import CurriculumConfig, apply_curriculum
    from offtarget.train.data import (
        apply_window,
        difficulty_summary,
        measure_outcomes,
        training_problems,
        write_problems,
    )
    from offtarget.train.defaults import window_note

    problems = training_problems(task, cfg.train_problems, cfg.seed, cfg.train_file)
    rates = None
    note = window_note(cfg, len(problems))
    if note:
        log(note)
    if cfg.difficulty_prompts and (cfg.difficulty_window or cfg.curriculum == "difficulty"):
        problems = problems[: cfg.difficulty_prompts]
    if cfg.difficulty_window or cfg.curriculum == "difficulty":
        outcome = make_reward(cfg.outcome_reward, task)
        params = SamplingParams(n=cfg.difficulty_samples, temperature=cfg.temperature, top_p=cfg.top_p,
                                top_k=cfg.top_k, max_new_tokens=cfg.max_completion_length,
                                chat_template=cfg.chat_template)
        log(f"measuring pass rates: {len(problems)} prompts × {cfg.difficulty_samples} samples")
        t0 = time.perf_counter()
        outcomes = measure_outcomes(HFEngine(ckpt), problems, outcome, cfg.difficulty_samples, params, seed=cfg.seed)
        report = apply_window(outcomes, cfg.difficulty_low, cfg.difficulty_high)
        rates = report.pass_rates
        summary = difficulty_summary(report, cfg.difficulty_samples, cfg.difficulty_window)
        write_json_atomic(run.difficulty, {**summary, "seconds": round(time.perf_counter() - t0, 1)})
        c = report.counts()
        if cfg.difficulty_window:
            log(f"difficulty window [{cfg.difficulty_low}, {cfg.difficulty_high}]: kept {c['kept']} of {c['total']} "
                f"(too easy {c['too_easy']}, too hard {c['too_hard']}); see {run.difficulty}")
            problems = report.filter(problems)
            if not problems:
                raise OfftargetError(
                    f"difficulty window [{cfg.difficulty_low}, {cfg.difficulty_high}] kept no prompts "
                    f"(mean pass rate {sum(rates.values()) / max(1, len(rates)):.2f}); widen it or pass "
                    "--no-difficulty-window"
                )
    if len(problems) < cfg.prompts_per_step:  # TRL would run 0 steps and still save a "final" model
        window = " after the difficulty window" if cfg.difficulty_window else ""
        raise OfftargetError(f"{len(problems)} training prompts{window}, fewer than one step's --prompts-per-step "
                             f"{cfg.prompts_per_step}: lower --prompts-per-step or give more prompts"
                             f"{' (--difficulty-prompts, a wider window)' if window else ''}")
    problems = apply_curriculum(problems, CurriculumConfig(cfg.curriculum, tuple(cfg.curriculum_family)), rates)
    write_problems(run.problems, problems)
    return problems


def run_grpo(cfg: GRPORunConfig, log: Callable[[str], None] | None = None) -> dict:
    """Run GRPO as ``cfg`` says; returns the summary also written to ``summary.json``."""
    from accelerate import PartialState
    from datasets import Dataset
    from trl import GRPOConfig

    from offtarget.models.loading import load_checkpoint
    from offtarget.tasks import get_task
    from offtarget.train.data import check_prompt_tokens, prompt_rows, read_problems, uses_chat_template
    from offtarget.train.grpo import Curation, OfftargetGRPOTrainer
    from offtarget.train.lora import lora_config
    from offtarget.train.monitor import GuardMonitor
    from offtarget.train.sample_log import SampleLogWriter
    from offtarget.train.session import (
        Timer,
        common_args,
        finish,
        quiet_trainer,
        resolve_device,
        resume_point,
        start,
        trl_config,
    )

    cfg.validate()
    check_vllm(cfg)
    device = resolve_device(cfg.device)
    # cpu=True before anything else touches the distributed state: under `accelerate launch` or
    # torchrun on a CPU machine this makes it MULTI_CPU (gloo) instead of silently single-process.
    state = PartialState(cpu=device == "cpu")
    say = log or (lambda msg: print(f"[offtarget] {msg}", file=sys.stderr, flush=True))
    log_main = (lambda msg: say(msg)) if state.is_main_process else (lambda msg: None)
    world, ga = state.num_processes, cfg.gradient_accumulation_steps
    if cfg.prompts_per_step % (world * ga):
        raise OfftargetError(
            f"--prompts-per-step {cfg.prompts_per_step} must be divisible by processes × gradient accumulation "
            f"({world} × {ga}), so that every process holds whole groups"
        )
    run = start(cfg, state)
    task = get_task(cfg.task)
    ckpt = load_checkpoint(cfg.model, device=str(state.device) if device == "cuda" else "cpu")
    funcs, weights, outcome, penalty = build_rewards(cfg, task)

    with state.main_process_first():
        if run.problems.exists():
            problems = read_problems(run.problems)
        else:  # only the main process gets here: it writes the file the others then read
            problems = prepare_problems(cfg, task, ckpt, run, log_main)
    rows = prompt_rows(problems, conversational=uses_chat_template(ckpt.tokenizer, cfg.chat_template))
    group = cfg.group_generated
    args = trl_config(
        GRPOConfig, cfg,
        **common_args(cfg, run, device),
        per_device_train_batch_size=cfg.prompts_per_step * group // (world * ga),
        gradient_accumulation_steps=ga,
        num_generations=group,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_k=cfg.top_k,
        top_p=cfg.top_p,
        beta=cfg.beta,
        scale_rewards=cfg.scale_rewards,
        loss_type=cfg.loss_type,
        reward_weights=weights,
        disable_dropout=True,  # policy and reference log-probs must come from the same deterministic net
        shuffle_dataset=cfg.curriculum == "off",  # a curriculum is a pre-sorted dataset walked in order
        log_completions=False,
        use_vllm=cfg.use_vllm,
        vllm_mode=cfg.vllm_mode,
    )
    curation = Curation(
        keep=cfg.num_generations, dynamic_sampling=cfg.dynamic_sampling, roc=cfg.roc, outcome=outcome,
        penalty=penalty or "format_penalty", roc_min_each=cfg.roc_min_each,
        max_refill_rounds=cfg.max_refill_rounds, seed=cfg.seed, log_samples=cfg.log_samples,
    )
    trainer = OfftargetGRPOTrainer(
        model=ckpt.model, reward_funcs=funcs, args=args, train_dataset=Dataset.from_list(rows),
        processing_class=ckpt.tokenizer, curation=curation,
        peft_config=lora_config(cfg, ckpt.model) if cfg.lora else None,
    )
    check_prompt_tokens(trainer, rows[:8], cfg.chat_template)
    quiet_trainer(trainer, cfg.verbose)
    monitor = None
    if cfg.monitor_every:
        monitor = GuardMonitor(cfg, task, run, chat_template=cfg.chat_template).bind(trainer)
        trainer.add_callback(monitor)
    if cfg.log_samples:
        trainer.add_callback(SampleLogWriter(trainer, run.samples))

    resume_from = resume_point(run, cfg, state)
    log_main(f"GRPO: {len(problems)} prompts, {cfg.steps} steps × {cfg.prompts_per_step} prompts × "
             f"{cfg.num_generations} completions{' (RoC from ' + str(group) + ')' if cfg.roc else ''}, "
             f"{'LoRA r=' + str(cfg.lora_rank) + ', ' if cfg.lora else ''}lr {cfg.learning_rate:g}, "
             f"{world} process(es) on {device}" + (f"; resuming from {resume_from}" if resume_from else ""))
    timer = Timer()
    trainer.train(resume_from_checkpoint=resume_from)
    seconds = timer()
    difficulty = None
    if run.difficulty.exists():
        import json

        d = json.loads(run.difficulty.read_text())
        difficulty = {"counts": d["counts"], "mean_pass_rate": d["mean_pass_rate"], "seconds": d.get("seconds")}
    summary = finish(trainer, run, cfg, monitor, seconds, extra={
        "train_prompts": len(problems),
        "rewards": dict(zip([r for r in trainer.reward_func_names], weights, strict=True)),
        "difficulty": difficulty,
        "monitor_passes": len(read_jsonl(run.monitor)) if state.is_main_process else None,
    })
    log_main(f"done: {summary['steps']} steps in {summary['train_seconds']}s; final model in {run.final}")
    return summary


__all__ = ["build_rewards", "check_vllm", "make_reward", "prepare_problems", "run_grpo"]
