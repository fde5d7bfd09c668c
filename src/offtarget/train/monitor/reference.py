"""The start model's samples, kept once per run, and the KL of the current model against them.

KL: start-model samples of the in-distribution prompts are drawn once and kept in
``monitor_reference.json``, keyed by the start model's fingerprint
(:func:`offtarget.models.loading.fingerprint`); a file drawn from another model is redrawn on a
fresh run and refused on a resumed one. Each pass scores them teacher-forced: exact over the
vocabulary with TRL's reference model when it is loaded (beta > 0, no ZeRO-3/FSDP;
:func:`offtarget.models.scoring.forward_kl`) or, for a LoRA policy, the same network with its
adapter disabled; else the sampled estimate, mean over tokens of log π_start(y_t) − log π(y_t)
(RL's Razor, Shenfeld et al. 2025, arXiv 2509.04259).

    rows, method = kl_rows(trainer, model, tokenizer, reference_samples, chat_template=True)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from offtarget.errors import OfftargetError
from offtarget.models.hf_engine import HFEngine
from offtarget.models.loading import Checkpoint, fingerprint
from offtarget.models.sampling import SamplingParams
from offtarget.models.scoring import completion_logprobs, forward_kl
from offtarget.tasks.problem import Problem
from offtarget.train.config import MonitorOptions
from offtarget.train.rundir import write_json_atomic

logger = logging.getLogger(__name__)

REFERENCE_VERSION = 2
"""``monitor_reference.json`` schema: 2 adds ``start_fingerprint`` (a version-1 file is redrawn)."""


def model_fingerprint(model: Any) -> str:
    """The start model's identity: :func:`~offtarget.models.loading.fingerprint` of the directory it was
    loaded from, else a hash of its parameter shapes and leading values (a model built in memory)."""
    path = str(getattr(model, "name_or_path", "") or getattr(getattr(model, "config", None), "_name_or_path", ""))
    if path and (Path(path) / "config.json").exists():
        return fingerprint(path)
    h = hashlib.sha256()
    with torch.no_grad():
        for name, p in model.named_parameters():
            h.update(f"{name}:{tuple(p.shape)}".encode())
            h.update(p.detach().reshape(-1)[:64].float().cpu().numpy().tobytes())
    return "mem-" + h.hexdigest()[:16]



@contextmanager
def generating(trainer: Any) -> Iterator[Any]:
    """The trainer's model unwrapped for generation, in eval mode with left padding; the training
    mode, the padding side and the RNG state (a monitor pass must not shift training's) restored."""
    from trl.models.utils import unwrap_model_for_generation

    tok = trainer.processing_class
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    side = tok.padding_side
    with torch.random.fork_rng(devices=devices), \
            unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model:
        was_training = model.training
        model.eval()
        tok.padding_side = "left"
        try:
            yield model
        finally:
            tok.padding_side = side
            model.train(was_training)


def reference_model(trainer: Any) -> Any:
    """TRL's reference model when it can be run locally (beta > 0, no ZeRO-3 / FSDP sharding); with a
    LoRA policy the same network with its adapter disabled (exactly the start model, at any beta)."""
    dist = str(getattr(trainer.accelerator, "distributed_type", "NO"))
    if "DEEPSPEED" in dist or "FSDP" in dist:
        return None  # sharded: a forward would need every process in lockstep
    ref = getattr(trainer, "ref_model", None)
    if ref is None:
        from accelerate.utils import is_peft_model

        from offtarget.train.lora import AdapterDisabled

        policy = trainer.accelerator.unwrap_model(trainer.model)
        return AdapterDisabled(policy) if is_peft_model(policy) else None
    return trainer.accelerator.unwrap_model(ref)


def kl_rows(trainer: Any, model: Any, tok: Any, ref_mine: list[dict],
            chat_template: bool) -> tuple[list[tuple[str, float, int]], str]:
    """``(prompt, Σ_t KL_t, tokens)`` per start-model sample under ``model``, and the method
    (``exact`` with a reference model, else ``sampled``)."""
    live = Checkpoint("current", "", model, tok, "live")
    prompts = [r["prompt"] for r in ref_mine]
    completions = [r["completion_ids"] for r in ref_mine]
    ref_model = reference_model(trainer)
    if ref_model is not None:  # exact: Σ_v p_start (log p_start − log p) at each position
        start = Checkpoint("start", "", ref_model, tok, "ref")
        per_seq = [float(k.double().sum()) for k in forward_kl(start, live, prompts, completions, chat_template)]
    else:  # sampled: log p_start(y_t) − log p(y_t), y ~ start
        cur = completion_logprobs(live, prompts, completions, chat_template)
        per_seq = [sum(r["logprobs"]) - float(lp.sum()) for r, lp in zip(ref_mine, cur, strict=True)]
    rows = [(r["prompt"], k, len(c)) for r, k, c in zip(ref_mine, per_seq, completions, strict=True)]
    return rows, "exact" if ref_model is not None else "sampled"


def load_or_make_reference(trainer: Any, path: Path, start_fingerprint: str | None, fresh: bool,
                           problems: list[Problem], opts: MonitorOptions, chat_template: bool,
                           say: Callable[[str], None]) -> list[dict] | None:
    """The start model's samples of the in-distribution ``problems``: read from ``path`` when drawn
    from this start model, else drawn now (a fresh run) or refused (a resumed one)."""
    if path.exists():
        data = json.loads(path.read_text())
        drawn_from = data.get("start_fingerprint")
        if drawn_from == start_fingerprint:
            return data["samples"]
        if not fresh:
            raise OfftargetError(
                f"{path}: drawn from another start model ({drawn_from or 'unknown'}, this run starts from "
                f"{start_fingerprint}); resume with the run's own start model or use a new output directory")
        say(f"[offtarget monitor] {path} was drawn from another start model; drawing it again")
    elif not fresh:
        logger.warning("monitor: %s missing on resume; KL is not measured in this run", path)
        return None
    from accelerate.utils import gather_object

    acc = trainer.accelerator
    tok = trainer.processing_class
    ids = [p for p in problems if p.split != "ood"][acc.process_index :: acc.num_processes]
    params = SamplingParams(n=opts.monitor_samples, temperature=1.0, top_k=0,
                            max_new_tokens=opts.monitor_max_new_tokens, chat_template=chat_template)
    mine: list[dict] = []
    with generating(trainer) as model:
        if ids:
            start = Checkpoint("start", "", model, tok, "live")
            out = HFEngine(start).generate([p.prompt for p in ids], params, seed=opts.monitor_seed + 1, n=params.n)
            pairs = [(p.prompt, s.token_ids) for p, samples in zip(ids, out, strict=True)
                     for s in samples if s.token_ids]
            lps = completion_logprobs(start, [p for p, _ in pairs], [c for _, c in pairs], chat_template)
            mine = [{"prompt": p, "completion_ids": list(c), "logprobs": lp.tolist()}
                    for (p, c), lp in zip(pairs, lps, strict=True)]
    samples = gather_object(mine) if acc.num_processes > 1 else mine
    if acc.is_main_process:
        write_json_atomic(path, {"kind": "monitor_reference", "version": REFERENCE_VERSION,
                                 "start_fingerprint": start_fingerprint, "samples": samples})
    return samples


__all__ = ["REFERENCE_VERSION", "generating", "kl_rows", "load_or_make_reference", "model_fingerprint", "reference_model"]
