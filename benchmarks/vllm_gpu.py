"""The vLLM engine on one GPU at a real model size, in under 10 minutes and with no downloads.

Builds a randomly initialised model of the Qwen2-1.5B shape (28 layers, hidden 1536, 12 heads /
2 KV heads, FFN 8960, vocabulary 151,936) with a local word-level tokenizer of the same size,
saves it in bfloat16 under ``--work``, then runs :mod:`benchmarks.vllm_engine` on it twice:

1. offtarget on vLLM vs vLLM's own ``generate`` (256 prompts × 8 samples × 512 new tokens): the
   overhead ratio at a size where the GPU, not Python, should dominate;
2. vLLM vs the HF engine on a smaller set (32 prompts × 8 × 256), both on the GPU.

A random model emits EOS about once in 151,936 steps, so nearly every sample runs to ``max_new_tokens``:
the figures are decode throughput at full length. ``--shape tiny`` builds a 2-layer model of
the same vocabulary for a dry run on CPU (``.venv-vllm``).

    python benchmarks/vllm_gpu.py                       # on a GPU machine with `pip install offtarget[vllm]`
    .venv-vllm/bin/python benchmarks/vllm_gpu.py --shape tiny --problems 8 --samples 2 --max-new-tokens 16
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = {
    "qwen2-1.5b": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                   "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
                   "max_position_embeddings": 4096},
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
             "num_key_value_heads": 1, "vocab_size": 151936, "max_position_embeddings": 1024},
}


def build(path: Path, shape: str) -> Path:
    """A random-init Qwen2-architecture checkpoint and a word-level tokenizer of its vocabulary."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    if (path / "config.json").exists():
        return path
    spec = SHAPES[shape]
    chars = list("0123456789+-*/=()<>.,:;?!abcdefghijklmnopqrstuvwxyz ")
    specials = ["<pad>", "<bos>", "<eos>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + chars)}
    for i in range(len(vocab), spec["vocab_size"]):
        vocab[f"<w{i}>"] = i
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("<w\\d+>|."), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>",
                                  unk_token="<unk>")
    cfg = Qwen2Config(**spec, bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=True,
                      torch_dtype="bfloat16")
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="qwen2-1.5b")
    ap.add_argument("--work", default="benchmarks/_work/vllm_gpu")
    ap.add_argument("--problems", type=int, default=256)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--hf-problems", type=int, default=32)
    ap.add_argument("--hf-max-new-tokens", type=int, default=256)
    ap.add_argument("--engine-args", default='{"gpu_memory_utilization": 0.85}')
    args = ap.parse_args(argv)

    from benchmarks.vllm_engine import main as bench

    t0 = time.time()
    path = build(Path(args.work) / args.shape, args.shape)
    built = time.time() - t0
    dtype = "bfloat16"
    common = ["--model", str(path), "--dtype", dtype, "--engine-args", args.engine_args, "--repeats", "2",
              "--prompt-len", "64"]
    overhead = bench(common + ["--problems", str(args.problems), "--samples", str(args.samples),
                               "--max-new-tokens", str(args.max_new_tokens), "--no-hf"])
    versus_hf = bench(common + ["--problems", str(args.hf_problems), "--samples", str(args.samples),
                                "--max-new-tokens", str(args.hf_max_new_tokens)])
    result = {"shape": args.shape, "build_s": round(built, 1), "overhead": overhead, "versus_hf": versus_hf,
              "total_s": round(time.time() - t0, 1)}
    out = Path(args.work) / f"results-{args.shape}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":  # required: vLLM starts its engine with multiprocessing spawn
    main()
