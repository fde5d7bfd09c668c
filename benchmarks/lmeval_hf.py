"""lm-evaluation-harness's Hugging Face backend on the sampling benchmark's prompts (one round).

Runs under an interpreter that has ``lm_eval``, never the project's venv (lm-eval is not a
dependency of offtarget). A throwaway venv that borrows the project's torch and transformers,
so that the lab model's char tokenizer (transformers 5) loads, and installs only lm-eval::

    .venv/bin/python -m venv /tmp/lmeval-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/lmeval-venv/lib/python3.11/site-packages/zz_offtarget.pth
    /tmp/lmeval-venv/bin/pip install lm-eval
    OFFTARGET_LMEVAL_PYTHON=/tmp/lmeval-venv/bin/python make bench

The task is a ``generate_until`` task over a local JSONL file with ``repeats: N`` (lm-eval then
sends every prompt N times to ``generate_until``), T = 1, top-k off, ``max_gen_toks`` and
``until: [<eos>]``, the model loaded by ``HFLM`` with ``add_bos_token=True`` so the prompt tokens are
the engine's. It is run through ``lm_eval.simple_evaluate``; the time reported is that of
``HFLM.generate_until`` (its batching, generation and decoding), and the tokens are counted
from the ids its ``_model_generate`` returns, up to and including the first EOS. Prints one
JSON line.

    /tmp/lmeval-venv/bin/python benchmarks/lmeval_hf.py --model models/lab/sft --prompts p.jsonl --repeats 16
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

TASK = """task: offtarget_bench_sampling
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{prompt}}}}"
doc_to_target: ""
repeats: {repeats}
generation_kwargs:
  until: ["<eos>"]
  do_sample: true
  temperature: 1.0
  top_k: 0
  max_gen_toks: {max_gen_toks}
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True, help="JSONL file, one {'prompt': ...} per line")
    ap.add_argument("--repeats", type=int, default=16)
    ap.add_argument("--max-gen-toks", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="/tmp/offtarget-lmeval")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    import torch

    torch.set_num_threads(args.threads)
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "offtarget_bench_sampling.yaml").write_text(
        TASK.format(data=Path(args.prompts).resolve(), repeats=args.repeats, max_gen_toks=args.max_gen_toks)
    )
    lm = HFLM(pretrained=args.model, device="cpu", batch_size=args.batch_size, add_bos_token=True)
    eos = lm.eot_token_id
    counts = {"tokens": 0, "sequences": 0, "requests": 0, "seconds": 0.0}

    model_generate = lm._model_generate

    def counting_generate(context, max_length, stop, **kw):
        out = model_generate(context=context, max_length=max_length, stop=stop, **kw)
        gen = out[:, context.shape[1] :]
        is_end = gen == eos
        first = torch.where(is_end.any(1), is_end.int().argmax(1) + 1, torch.full_like(is_end[:, 0], gen.shape[1],
                                                                                     dtype=torch.long))
        counts["tokens"] += int(first.sum())
        counts["sequences"] += gen.shape[0]
        return out

    lm._model_generate = counting_generate
    generate_until = lm.generate_until

    def timed_generate_until(requests, *a, **kw):
        t0 = time.perf_counter()
        out = generate_until(requests, *a, **kw)
        counts["seconds"] += time.perf_counter() - t0
        counts["requests"] += len(requests)
        return out

    lm.generate_until = timed_generate_until
    t0 = time.perf_counter()
    lm_eval.simple_evaluate(model=lm, tasks=["offtarget_bench_sampling"], task_manager=TaskManager(include_path=str(work)),
                            random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0)
    total = time.perf_counter() - t0
    print(json.dumps({"generate_seconds": counts["seconds"], "evaluate_seconds": total, "tokens": counts["tokens"],
                      "sequences": counts["sequences"], "requests": counts["requests"],
                      "lm_eval_version": getattr(lm_eval, "__version__", "?")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
