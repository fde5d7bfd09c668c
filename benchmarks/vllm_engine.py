"""offtarget on vLLM against vLLM's own ``generate`` and against the HF engine, ratios in one run.

Every variant draws ``samples`` completions of each of the same ``problems`` prompts (T = 1,
top-k off, ``max_new_tokens``) and is scored in generated tokens per second:

- **vllm-raw**: ``LLM.generate`` on the token prompts with the very ``vllm.SamplingParams`` the
  engine builds (n, seed, stop ids, top-k log-probs), nothing else: vLLM's own cost.
- **offtarget-vllm**: :func:`offtarget.store.fill` with
  :class:`~offtarget.models.vllm_engine.VLLMEngine` into a fresh run store, exactly what
  ``offtarget audit --engine vllm`` does (prompt rendering, samples with log-probs and entropies,
  one SQLite transaction per batch). ``batch_sequences`` covers the whole set, so both variants
  hand vLLM the same single batch. Goal: at least 0.9 of vllm-raw (overhead ≤ 10 %).
- **hf**: the same ``fill`` with :class:`~offtarget.models.hf_engine.HFEngine` (reported: what
  vLLM buys over the HF engine on this machine).

Both vLLM variants share one ``LLM``; rounds are interleaved (raw, offtarget, hf, raw, ...) and
the ratios are medians over rounds. Run inside the vLLM environment:

    make bench-vllm            # = .venv-vllm/bin/python benchmarks/vllm_engine.py
    .venv-vllm/bin/python benchmarks/vllm_engine.py --model models/lab/sft --problems 64 --samples 8 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models/lab/sft"))
    ap.add_argument("--problems", type=int, default=64)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--no-hf", action="store_true", help="skip the HF engine (large models)")
    ap.add_argument("--engine-args", default="{}", help="JSON passed to vllm.LLM, e.g. '{\"tensor_parallel_size\": 2}'")
    ap.add_argument("--prompt-len", type=int, default=0,
                    help="pad prompts to about this many characters (synthetic long prompts; 0: the task's)")
    ap.add_argument("--out", default=None, help="write the results JSON here")
    args = ap.parse_args(argv)

    from offtarget.models.sampling import SamplingParams
    from offtarget.models.vllm_engine import VLLMEngine
    from offtarget.store import GenerationStore, fill
    from offtarget.tasks import ArithmeticTask

    task = ArithmeticTask()
    half = args.problems // 2
    problems = task.problems("test", args.problems - half, seed=0) + task.problems("ood", half, seed=0)
    if args.prompt_len:
        from dataclasses import replace

        problems = [replace(p, prompt=(p.prompt * (args.prompt_len // max(1, len(p.prompt)) + 1))[-args.prompt_len:])
                    for p in problems]
    params = SamplingParams(n=args.samples, temperature=1.0, max_new_tokens=args.max_new_tokens)
    t0 = time.time()
    engine = VLLMEngine(args.model, dtype=args.dtype, engine_args=json.loads(args.engine_args))
    start_s = time.time() - t0
    prompts = [p.prompt for p in problems]
    reqs = engine.prompts(prompts, params.chat_template)
    everything = len(problems) * args.samples

    def vllm_raw() -> int:
        from offtarget.models.engines import request_seed

        sps = [engine.sampling_params(params, args.samples, request_seed(0, i)) for i in range(len(reqs))]
        outs = engine.llm.generate(reqs, sps, use_tqdm=False)
        return sum(len(o.token_ids) for out in outs for o in out.outputs)

    def filled(engine, batch: int):
        def run() -> int:
            with tempfile.TemporaryDirectory() as d:
                store = GenerationStore(Path(d) / "g.sqlite")
                fill(store, engine, "bench", problems, params, seed=0, max_batch_sequences=batch)
                n = sum(len(s.token_ids) for row in store.get("bench", params.key(), [p.id for p in problems],
                                                              args.samples).values() for s in row)
                store.close()
                return n
        return run

    variants = {"vllm-raw": vllm_raw, "offtarget-vllm": filled(engine, everything)}
    hf_engine = None
    if not args.no_hf:
        from offtarget.models.hf_engine import HFEngine
        from offtarget.models.loading import load_checkpoint

        hf_engine = HFEngine(load_checkpoint(args.model, device="auto", dtype=args.dtype))
        variants["hf"] = filled(hf_engine, 256)
    vllm_raw()  # warm-up: vLLM's first call compiles and allocates
    rounds: list[dict[str, float]] = []
    for _ in range(args.repeats):
        row = {}
        for name, fn in variants.items():
            t = time.perf_counter()
            tokens = fn()
            row[name] = tokens / (time.perf_counter() - t)
        rounds.append(row)
        print("  ".join(f"{k} {v:,.0f} tok/s" for k, v in row.items()), flush=True)
    engine.close()

    def ratio(a: str, b: str) -> dict:
        rs = [r[a] / r[b] for r in rounds]
        return {"median": statistics.median(rs), "min": min(rs), "max": max(rs)}

    result = {
        "model": args.model, "problems": len(problems), "samples": args.samples,
        "max_new_tokens": args.max_new_tokens, "engine_start_s": round(start_s, 1),
        "tokens_per_s": {k: statistics.median(r[k] for r in rounds) for k in variants},
        "offtarget_vllm_over_vllm_raw": ratio("offtarget-vllm", "vllm-raw"),
    }
    if "hf" in variants:
        result["vllm_over_hf"] = ratio("offtarget-vllm", "hf")
    ok = result["offtarget_vllm_over_vllm_raw"]["median"] >= 0.9
    result["overhead_goal_met"] = ok
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":  # required: vLLM starts its engine with multiprocessing spawn
    sys.exit(0 if main()["overhead_goal_met"] else 1)
