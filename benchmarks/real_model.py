"""Generation throughput on a real model: SmolLM2-135M-Instruct beside the lab's toy model, same run.

An audit's cost on a real checkpoint is mostly sampling, and the lab's toy model (a few hundred
thousand parameters, a character vocabulary) says little about it. This benchmark draws
``samples`` completions for each of ``problems`` prompts with offtarget's HF engine
(:func:`offtarget.store.fill` with :class:`offtarget.models.hf_engine.HFEngine` into a fresh run
store, exactly what ``offtarget audit`` does) from both models, interleaved, and reports both in
generated tokens per second (completion tokens up to and including EOS) and their ratio:

- **real**: ``smollm2-135m-instruct`` (135M parameters, a 49,152-token vocabulary) on the
  plain-English ``chat-arithmetic`` prompts with its chat template, at the suite's sampling
  defaults (T = 0.7, top_p 1, 24 new tokens);
- **toy**: the lab's SFT model (``models/lab/sft``) on the terse ``arithmetic`` prompts, same
  temperature and token budget.

Skipped, with the command to run, when the real model has not been fetched
(``offtarget models get smollm2-135m-instruct``); nothing is downloaded here.

    python benchmarks/run.py --only real_model
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.harness import BenchResult, Ratio, Run, median, rounds_dict, timed
from benchmarks.sampling import CountingBackend


@dataclass
class RealModelBenchConfig:
    """Sizes of the real-model throughput benchmark."""

    model: str = "smollm2-135m-instruct"
    """The real checkpoint (a known name, a folder, a .gguf file or an adapter folder)."""
    toy: str = "models/lab/sft"
    problems: int = 16
    """Prompts per model (the test split of each model's suite)."""
    samples: int = 4
    max_new_tokens: int = 24
    temperature: float = 0.7
    batch_sequences: int = 256


def run(cfg: RealModelBenchConfig, repeats: int, work: Path, threads: int) -> BenchResult:
    from offtarget.errors import OfftargetError
    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.loading import load_checkpoint
    from offtarget.models.registry import resolve_model_path
    from offtarget.models.sampling import SamplingParams
    from offtarget.store import GenerationStore, fill
    from offtarget.tasks import ArithmeticTask
    from offtarget.tasks.chat_arithmetic import ChatArithmeticTask

    res = BenchResult("real_model", config=asdict(cfg))
    try:
        real_path = resolve_model_path(cfg.model)
    except OfftargetError as exc:
        res.status, res.reason = "skipped", str(exc)
        return res
    work.mkdir(parents=True, exist_ok=True)
    setups = {
        "real": (load_checkpoint(real_path, "real", device="cpu"),
                 ChatArithmeticTask(unanswerable_share=0.0).problems("test", cfg.problems, seed=0), True),
        "toy": (load_checkpoint(cfg.toy, "toy", device="cpu"),
                ArithmeticTask().problems("test", cfg.problems, seed=0), False),
    }
    counter = {"round": 0}

    def engine(which: str) -> int:
        ckpt, problems, chat = setups[which]
        counter["round"] += 1
        params = SamplingParams(n=cfg.samples, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens,
                                chat_template=chat)
        store = GenerationStore(work / f"{which}-{counter['round']}.sqlite")
        backend = CountingBackend(HFEngine(ckpt, cfg.batch_sequences))
        try:
            fill(store, backend, ckpt.fingerprint, problems, params, seed=counter["round"],
                 max_batch_sequences=cfg.batch_sequences)
        finally:
            store.close()
        return backend.tokens

    for ckpt, problems, chat in setups.values():  # warm-up: first calls pay for lazy imports, allocator growth
        HFEngine(ckpt).generate([problems[0].prompt], SamplingParams(n=2, max_new_tokens=4, chat_template=chat),
                                 seed=0, n=2)
    rounds: list[dict[str, Run]] = [{w: timed(lambda w=w: engine(w)) for w in setups} for _ in range(repeats)]
    res.ratios = [Ratio.of("real/toy", "sampling: HF engine tokens/s, SmolLM2-135M-Instruct vs the lab's toy model",
                           rounds, "real", "toy")]
    res.measurements = rounds_dict(rounds, "tokens")
    rates = {w: median([r[w].rate for r in rounds]) for w in setups}
    res.measurements["tokens_per_second"] = {w: round(v, 1) for w, v in rates.items()}
    res.notes.append(f"HF engine, {threads} threads: SmolLM2-135M-Instruct {rates['real']:,.0f} generated tokens/s, "
                     f"toy model ({cfg.toy}) {rates['toy']:,.0f} tokens/s; median over {repeats} rounds of "
                     f"{cfg.problems} prompts x {cfg.samples} samples, <= {cfg.max_new_tokens} new tokens, "
                     f"T = {cfg.temperature}")
    shutil.rmtree(work, ignore_errors=True)
    return res
