"""Sampling throughput: offtarget's engine against the loops people write instead, same run.

Every variant draws ``samples`` completions for each of the same ``problems`` prompts of the lab
model (T = 1, top-k off, ``max_new_tokens``) and is scored in *generated tokens per second*
(completion tokens up to and including EOS; padding after EOS does not count):

- **engine**: :func:`offtarget.store.fill` with :class:`offtarget.models.hf_engine.HFEngine` into
  a fresh run store, exactly what ``offtarget audit`` does (length-sorted batches of
  ``batch_sequences``, per-token log-probs and entropies recorded, one SQLite transaction per
  batch). **engine-generate** is the same with ``HFEngine(decode="generate")``, the engine on
  ``model.generate`` as it was before its own decoding loop (reported only: the loop's gain).
- **naive**: ``model.generate`` on one prompt at a time, ``num_return_sequences=samples``
  (the goal: the engine is at least 3x this). **naive-1** is the same loop drawing one sample
  per call (reported only; it is measured on ``naive_problems`` prompts, a rate needs no more).
- **trl-batched**: batched ``generate`` of left-padded prompts with ``num_return_sequences``,
  ``batch_sequences`` sequences a call, no per-token records: what TRL's GRPOTrainer does on
  its transformers path (``_generate_single_turn``: left-pad, ``unwrapped_model.generate``
  with a ``GenerationConfig(do_sample=True, ..., disable_compile=True)``; TRL repeats each
  prompt G times instead, which is the same batch). Goal: the engine at least matches it.
- **lm-eval**: lm-evaluation-harness's Hugging Face backend (``HFLM.generate_until``) on an
  equivalent ``generate_until`` task with ``repeats: samples``, run by
  :mod:`benchmarks.lmeval_hf` under a separate interpreter that has ``lm_eval``
  (``--lm-eval-python``; never installed into the project's venv). Skipped when none is given.

Rounds are interleaved (engine, naive, ..., engine, naive, ...); each round gives one ratio.

    python benchmarks/run.py --only sampling --repeats 3
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.harness import BenchResult, Ratio, Run, median, rounds_dict, thread_env, timed


@dataclass
class SamplingBenchConfig:
    """Sizes of the sampling benchmark."""

    model: str = "models/lab/sft"
    """Checkpoint every variant samples from."""
    problems: int = 64
    """Prompts (half ``test``, half ``ood`` of the arithmetic task)."""
    samples: int = 16
    """Completions per prompt."""
    max_new_tokens: int = 32
    batch_sequences: int = 256
    """Sequences per ``generate`` call for the engine, trl-batched and lm-eval (the audit default)."""
    naive_problems: int = 8
    """Prompts the two naive loops run on (their rate does not depend on how many)."""
    lm_eval_python: str | None = None
    """Python interpreter with ``lm_eval`` installed; None skips the lm-eval variant."""


# ---------------------------------------------------------------------------------------------
# Variants


def completion_tokens(completions, eos_ids: list[int]) -> int:
    """Tokens up to and including the first EOS of each row (all of it when there is none)."""
    import torch

    is_end = torch.isin(completions, torch.tensor(eos_ids, device=completions.device))
    has_end = is_end.any(1)
    first = is_end.int().argmax(1)
    return int(torch.where(has_end, first + 1, torch.full_like(first, completions.shape[1])).sum())


class CountingBackend:
    """A backend wrapper that counts generated tokens as the store receives them."""

    def __init__(self, backend) -> None:
        self.backend, self.name, self.tokens = backend, backend.name, 0

    def generate(self, prompts, params, seed, n):
        out = self.backend.generate(prompts, params, seed=seed, n=n)
        self.tokens += sum(len(s.token_ids) for row in out for s in row)
        return out


def _hf_generate(ckpt, prompts: list[str], n: int, cfg: SamplingBenchConfig, per_call: int) -> int:
    """Plain ``model.generate``: ``per_call`` prompts a call, ``n`` return sequences each."""
    import torch
    from transformers import GenerationConfig

    tok, model = ckpt.tokenizer, ckpt.model
    eos = model.generation_config.eos_token_id
    eos_ids = list(eos) if isinstance(eos, (list, tuple)) else [eos]
    gen = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=cfg.max_new_tokens,
                           num_return_sequences=n, pad_token_id=tok.pad_token_id, eos_token_id=eos_ids,
                           bos_token_id=tok.bos_token_id, disable_compile=True)
    tokens = 0
    with torch.inference_mode():
        for i in range(0, len(prompts), per_call):
            enc = tok(prompts[i : i + per_call], return_tensors="pt", padding=True).to(model.device)
            out = model.generate(**enc, generation_config=gen)
            tokens += completion_tokens(out[:, enc["input_ids"].shape[1] :], eos_ids)
    return tokens


def _lmeval_round(cfg: SamplingBenchConfig, prompts: list[str], work: Path, threads: int) -> Run:
    data = work / "lmeval_prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    script = Path(__file__).with_name("lmeval_hf.py")
    cmd = [cfg.lm_eval_python, str(script), "--model", str(Path(cfg.model).resolve()), "--prompts", str(data),
           "--repeats", str(cfg.samples), "--max-gen-toks", str(cfg.max_new_tokens),
           "--batch-size", str(cfg.batch_sequences), "--threads", str(threads), "--work", str(work / "lmeval")]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=thread_env(threads), timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"lm-eval run failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return Run(out["generate_seconds"], out["tokens"])


# ---------------------------------------------------------------------------------------------
# The benchmark


def run(cfg: SamplingBenchConfig, repeats: int, work: Path, threads: int) -> BenchResult:
    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.loading import load_checkpoint
    from offtarget.models.sampling import SamplingParams
    from offtarget.store import GenerationStore, fill
    from offtarget.tasks import ArithmeticTask

    res = BenchResult("sampling", config=asdict(cfg))
    work.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(cfg.model, "sft", device="cpu")
    task = ArithmeticTask()
    half = cfg.problems // 2
    problems = task.problems("test", cfg.problems - half, seed=0) + task.problems("ood", half, seed=0)
    prompts = [p.prompt for p in problems]
    naive_prompts = prompts[: cfg.naive_problems]
    params = SamplingParams(n=cfg.samples, temperature=1.0, max_new_tokens=cfg.max_new_tokens)
    counter = {"round": 0}

    def engine(decode: str = "auto") -> int:
        counter["round"] += 1
        path = work / f"engine-{counter['round']}.sqlite"
        store = GenerationStore(path)
        backend = CountingBackend(HFEngine(ckpt, cfg.batch_sequences, decode=decode))
        try:
            fill(store, backend, ckpt.fingerprint, problems, params, seed=counter["round"],
                 max_batch_sequences=cfg.batch_sequences)
        finally:
            store.close()
        return backend.tokens

    per_call = max(1, cfg.batch_sequences // cfg.samples)
    variants = {
        "engine": engine,
        "engine_generate": lambda: engine("generate"),
        "trl_batched": lambda: _hf_generate(ckpt, prompts, cfg.samples, cfg, per_call),
        "naive": lambda: _hf_generate(ckpt, naive_prompts, cfg.samples, cfg, 1),
        "naive_1": lambda: _hf_generate(ckpt, naive_prompts * cfg.samples, 1, cfg, 1),
    }
    # warm-up: one small call of each code path (first calls pay for lazy imports and allocator growth)
    _hf_generate(ckpt, prompts[:2], 2, cfg, 2)
    for decode in ("auto", "generate"):
        HFEngine(ckpt, decode=decode).generate(prompts[:2], params, seed=0, n=2)

    lm_skip = None
    if not cfg.lm_eval_python:
        lm_skip = ("no interpreter with lm_eval given (--lm-eval-python or OFFTARGET_LMEVAL_PYTHON); "
                   "see benchmarks/lmeval_hf.py for the throwaway-venv recipe")
    rounds: list[dict[str, Run]] = []
    for _ in range(repeats):
        r = {name: timed(fn) for name, fn in variants.items()}
        if lm_skip is None:
            try:
                r["lm_eval"] = _lmeval_round(cfg, prompts, work, threads)
            except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
                lm_skip = f"lm-eval variant failed: {exc}"
        rounds.append(r)
    if lm_skip is not None:
        for r in rounds:
            r.pop("lm_eval", None)
        res.notes.append(f"lm-eval left out: {lm_skip}")

    res.ratios = [
        Ratio.of("engine/naive", "sampling: engine vs naive per-prompt generate loop", rounds, "engine", "naive",
                 goal=3.0),
        Ratio.of("engine/trl_batched", "sampling: engine vs batched generate (TRL-style)", rounds, "engine",
                 "trl_batched", goal=1.0),
        Ratio.of("engine/engine_generate", "sampling: engine's decoding loop vs the engine on model.generate",
                 rounds, "engine", "engine_generate"),
        Ratio.of("engine/naive_1", "sampling: engine vs naive one-sample-per-call loop", rounds, "engine",
                 "naive_1"),
    ]
    if "lm_eval" in rounds[0]:
        res.ratios.append(Ratio.of("engine/lm_eval", "sampling: engine vs lm-eval HF backend (repeats)", rounds,
                                   "engine", "lm_eval"))
    res.measurements = rounds_dict(rounds, "tokens")
    engine_rate = median([r["engine"].rate for r in rounds])
    res.notes.append(f"engine: {engine_rate:,.0f} generated tokens/s median over {repeats} rounds "
                     f"({cfg.problems} prompts x {cfg.samples} samples; naive loops on {len(naive_prompts)} prompts)")
    shutil.rmtree(work, ignore_errors=True)
    return res
