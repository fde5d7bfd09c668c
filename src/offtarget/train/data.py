"""Training data for ``offtarget train``: problems → TRL rows, the offline difficulty window, SFT rows.

GRPO rows carry a whole :class:`~offtarget.tasks.Problem` in the reward column schema
(:func:`offtarget.rewards.problem_to_row`), so every reward function can rebuild the problem and
run the task's strict verifier. The difficulty window measures each prompt's pass rate with
``k`` samples from the *starting* model (offtarget's own sampler, :class:`HFEngine`) and keeps
the prompts inside ``[low, high]`` (:func:`offtarget.train.curation.difficulty_window`). Success
is the outcome reward being > 0 (correctness by default), never the shaped total: a Brier or
format term varies even when every sample is wrong (verl-recipe PR 125).

Prompt tokens: TRL tokenizes plain-text prompts with ``tokenizer(text=prompts)`` (special tokens
on, so the lab's char tokenizer adds ``<bos>`` itself) and conversational prompts with
``apply_chat_template(add_generation_prompt=True)``; offtarget's sampler feeds
``render_prompt(...)``. :func:`prompt_rows` makes rows conversational exactly when the sampler
would use the chat template, and :func:`check_prompt_tokens` verifies, on the built trainer,
that both paths give the same token ids.

    >>> from offtarget.tasks import ArithmeticTask
    >>> problems = ArithmeticTask().problems("train", 4)
    >>> sorted(prompt_rows(problems, conversational=False)[0])
    ['answer', 'id', 'metadata', 'prompt', 'should_abstain', 'slice', 'split']
    >>> prompt_rows(problems, conversational=True)[0]["prompt"]
    [{'role': 'user', 'content': '...'}]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.jsonlines import read_objects
from offtarget.models.hf_engine import HFEngine
from offtarget.models.sampling import SamplingParams, render_prompt
from offtarget.rewards import problem_to_row
from offtarget.tasks.problem import Problem, Task
from offtarget.train.curation import DifficultyReport, difficulty_window

# ---------------------------------------------------------------------------------------------
# Problems


def training_problems(task: Task, n: int, seed: int, train_file: str | None = None) -> list[Problem]:
    """``n`` problems from the task's train split, or every record of ``train_file`` (JSONL Problems)."""
    if train_file is None:
        problems = task.problems("train", n, seed=seed)
        if not problems:
            raise OfftargetError(f"task {getattr(task, 'name', task)!r} gave no train problems")
        return problems
    return read_problems(Path(train_file))


def read_problems(path: Path) -> list[Problem]:
    """Problems from a JSONL file of ``Problem.to_dict()`` records (``id``, ``prompt``, ``answer`` required)."""
    out = []
    for i, d in read_objects(path, "--train-file"):
        missing = [k for k in ("id", "prompt", "answer") if k not in d]
        if missing:
            raise OfftargetError(f"{path}:{i}: missing field(s) {missing}; each line is a Problem record")
        known = {"id", "prompt", "answer", "split", "slice", "should_abstain", "metadata"}
        extra = sorted(set(d) - known)
        if extra:
            raise OfftargetError(f"{path}:{i}: unknown field(s) {extra}; valid: {sorted(known)}")
        d.setdefault("split", "train")
        out.append(Problem.from_dict(d))
    if not out:
        raise OfftargetError(f"{path}: no problems in the file")
    return out


def write_problems(path: Path, problems: Sequence[Problem]) -> None:
    from offtarget.train.rundir import write_text_atomic

    write_text_atomic(path, "".join(json.dumps(p.to_dict()) + "\n" for p in problems))


def uses_chat_template(tokenizer: Any, chat_template: bool) -> bool:
    """Whether offtarget's sampler renders prompts through the chat template for this tokenizer."""
    return bool(chat_template and getattr(tokenizer, "chat_template", None))


def prompt_rows(problems: Sequence[Problem], conversational: bool) -> list[dict]:
    """GRPO dataset rows (reward column schema); the prompt as one user message when ``conversational``."""
    rows = []
    for p in problems:
        row = problem_to_row(p)
        if conversational:
            row["prompt"] = [{"role": "user", "content": p.prompt}]
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Offline difficulty window


def measure_outcomes(
    engine: HFEngine,
    problems: Sequence[Problem],
    outcome: Callable,
    k: int,
    params: SamplingParams,
    seed: int = 0,
    prompts_per_batch: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, list[bool]]:
    """``k`` samples per problem from ``engine``; success = the ``outcome`` reward is > 0.

    ``outcome`` is called exactly as TRL calls a reward function (prompts, completions and the
    problem's columns), so a user's own reward works here too.
    """
    results: dict[str, list[bool]] = {}
    for start in range(0, len(problems), prompts_per_batch):
        chunk = list(problems[start : start + prompts_per_batch])
        samples = engine.generate([p.prompt for p in chunk], params, seed=seed + start, n=k)
        prompts, completions, ids, columns = [], [], [], {}
        for p, row in zip(chunk, samples, strict=True):
            cols = problem_to_row(p)
            for s in row:
                prompts.append(p.prompt)
                completions.append(s.text)
                ids.append(s.token_ids)
                for key, value in cols.items():
                    if key != "prompt":
                        columns.setdefault(key, []).append(value)
        values = outcome(prompts=prompts, completions=completions, completion_ids=ids, **columns)
        for i, p in enumerate(chunk):
            vals = values[i * k : (i + 1) * k]
            results[p.id] = [v is not None and float(v) > 0 for v in vals]
        if on_batch is not None:
            on_batch(len(chunk))
    return results


def difficulty_summary(report: DifficultyReport, k: int, applied: bool) -> dict[str, Any]:
    """What the window kept and dropped, and why (written to difficulty.json)."""
    rates = report.pass_rates
    return {
        "window": asdict(report.window),
        "samples_per_prompt": k,
        "applied": applied,
        "counts": report.counts(),
        "mean_pass_rate": sum(rates.values()) / len(rates) if rates else None,
        "dropped": {
            "too_easy": {"reason": f"pass rate above {report.window.high}: groups almost always tie",
                         "ids": report.too_easy},
            "too_hard": {"reason": f"pass rate below {report.window.low}: almost never a success to learn from",
                         "ids": report.too_hard},
            "unmeasured": {"reason": "no samples", "ids": report.unmeasured},
        },
        "pass_rates": rates,
    }


def apply_window(outcomes: dict[str, list[bool]], low: float, high: float) -> DifficultyReport:
    """The window over measured outcomes (correctness only, as :func:`difficulty_window` demands)."""
    return difficulty_window(outcomes, low, high)


# ---------------------------------------------------------------------------------------------
# Prompt token check


def check_prompt_tokens(trainer: Any, rows: Sequence[dict], chat_template: bool) -> None:
    """Raise if TRL would feed the model other prompt tokens than offtarget's sampler does.

    Compares ``GRPOTrainer._tokenize_prompts`` (what generation in training sees) with the
    sampler's ``render_prompt`` + tokenizer call (what the difficulty window, the monitor and
    ``offtarget audit`` see), e.g. a missing ``<bos>`` or a chat template applied on one side only.
    """
    if not rows:
        return
    tok = trainer.processing_class
    prompts = [r["prompt"] for r in rows]
    trl_ids = trainer._tokenize_prompts(prompts)[0]
    for row, got in zip(rows, trl_ids, strict=True):
        text = row["prompt"] if isinstance(row["prompt"], str) else row["prompt"][-1]["content"]
        rendered, add_special = render_prompt(tok, text, chat_template)
        want = tok(rendered, add_special_tokens=add_special)["input_ids"]
        got = list(got)
        if got != want:
            raise OfftargetError(
                f"prompt tokens differ between TRL and offtarget's sampler for {text!r}: "
                f"TRL {got[:12]}… vs sampler {want[:12]}…; check --chat-template and the tokenizer's BOS handling"
            )


# ---------------------------------------------------------------------------------------------
# SFT rows


def sft_rows(path: str | Path) -> list[dict]:
    """Rows of a prompt-completion JSONL file for TRL's SFTTrainer (``prompt`` and ``completion`` strings)."""
    rows = []
    for i, d in read_objects(path, "--data"):
        if not isinstance(d.get("prompt"), str) or not isinstance(d.get("completion"), str):
            raise OfftargetError(f"{path}:{i}: each line needs string fields 'prompt' and 'completion'")
        rows.append({"prompt": d["prompt"], "completion": d["completion"]})
    if not rows:
        raise OfftargetError(f"{path}: no rows")
    return rows


def sft_training_rows(rows: list[dict], tokenizer: Any, chat_template: bool) -> list[dict]:
    """TRL rows for prompt-completion strings: conversational when the sampler uses the chat template.

    TRL renders a conversational prompt with ``add_generation_prompt=True``, exactly the prompt the
    sampler fed the model, and the template closes the assistant turn; plain strings otherwise.
    """
    if not uses_chat_template(tokenizer, chat_template):
        return rows
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "completion": [{"role": "assistant", "content": r["completion"]}]} for r in rows]


__all__ = [
    "apply_window",
    "check_prompt_tokens",
    "difficulty_summary",
    "measure_outcomes",
    "prompt_rows",
    "read_problems",
    "sft_rows",
    "sft_training_rows",
    "training_problems",
    "uses_chat_template",
    "write_problems",
]
