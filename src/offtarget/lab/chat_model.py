"""Build the chat lab checkpoint: a tiny Llama with the shape of a real reasoning chat model.

The character lab models (``models/lab/base``, ``models/lab/sft``) have a 60-symbol vocabulary and
64 positions: enough for the lab's claims, not for testing what real checkpoints bring to an
engine. This one has what they bring, at 1–2 M parameters, trained on CPU in a few minutes:

- a byte-level BPE tokenizer trained here (:mod:`offtarget.lab.chat_tokenizer`), special tokens
  ``<|im_start|>``, ``<|im_end|>``, ``<|endoftext|>``, and a ChatML chat template;
- EOS ``<|im_end|>``; ``max_position_embeddings`` 4096, so generations of thousands of tokens fit;
- a ``generation_config.json`` with Qwen's sampling defaults (``do_sample``, temperature 0.7,
  top-p 0.8, top-k 20, repetition penalty 1.05), on purpose: an audit must state its own
  sampling settings rather than inherit these;
- completions that reason and answer, ``<think>…</think>\\n\\nThe answer is \\boxed{85}.``,
  sometimes with ``Confidence: 0.7``, abstaining on unanswerable prompts, and counting without
  end on the ``long`` prompts (:mod:`offtarget.lab.chat_corpus`);
- its suites beside it: ``tasks.jsonl`` (``test`` and ``ood`` splits, unanswerable items) and
  ``long.jsonl`` (prompts whose reasoning outruns any token budget).

Training is TRL's ``SFTTrainer`` on prompt/completion pairs rendered through the chat template,
loss on the completion only, AdamW with warmup then linear decay (the lab's schedule), and one
seed for the tokenizer corpus, the initialisation and the data order. ``offtarget_lab.json``
records the command, the configuration, the training time and a greedy evaluation.

    offtarget lab chat --out models/lab/chat
    offtarget audit --model a=models/lab/chat --model b=models/lab/chat \\
        --suite models/lab/chat/tasks.jsonl --samples 4 --problems 20 --max-new-tokens 160
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from datasets import Dataset
from transformers import GenerationConfig, LlamaForCausalLM

from offtarget.lab.build import cpu_sft_args, save_atomically
from offtarget.lab.chat_corpus import CorpusConfig, long_task_rows, task_rows, training_rows, write_jsonl
from offtarget.lab.chat_tokenizer import IM_END, PAD, train_chat_tokenizer
from offtarget.models.tiny import TinyModelConfig, tiny_llama

SAMPLING_DEFAULTS = {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05}
"""Qwen2.5/Qwen3's generation_config.json values, written into the checkpoint."""


@dataclass
class ChatModelConfig(TinyModelConfig):
    """Shape (that of the character lab models but for the positions) and training of the chat lab model."""

    max_positions: int = 4096
    """``max_position_embeddings``: room for long generations (RoPE, nothing learned per position)."""
    vocab_size: int = 512
    """Upper bound of the BPE vocabulary (bytes + special tokens + merges); the corpus may saturate below it."""
    tokenizer_texts: int = 4000
    """Training rows the tokenizer is trained on."""
    max_steps: int = 1200
    """Optimizer steps."""
    batch_size: int = 32
    lr: float = 1e-3
    """Peak learning rate (AdamW, betas 0.9/0.98, no weight decay). At 3e-3 (the character lab's value)
    the loss stalled near 1.0 and fell only once the rate decayed; greedy accuracy stayed at 0.01."""
    warmup_steps: int = 50
    decay_steps: int = 400
    """Linear decay to zero over the last ``decay_steps`` steps."""
    window: int = 192
    """Training sequence length (TRL ``max_length``): longer rows (the endless counts) are cut, so
    they carry no end-of-turn token."""
    eval_problems: int = 100
    """Test problems of the greedy evaluation recorded in ``offtarget_lab.json``."""
    seed: int = 0


def _prompt_text(tok, user: str) -> str:
    return tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)


def lr_multiplier(cfg: ChatModelConfig):
    """Linear warmup, constant, then linear decay to zero over the last ``decay_steps`` steps."""
    decay_from = max(cfg.warmup_steps, cfg.max_steps - cfg.decay_steps)

    def multiplier(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        return max(0.0, min(1.0, (cfg.max_steps - step) / max(1, cfg.max_steps - decay_from)))

    return multiplier


def new_chat_model(tok, cfg: ChatModelConfig) -> LlamaForCausalLM:
    """A randomly initialised tiny Llama sized for ``tok``, seeded by ``cfg.seed``."""
    model = tiny_llama(cfg, tok, cfg.seed, bos_token_id=None)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return model


def build_chat_model(out_dir: str | Path, cfg: ChatModelConfig | None = None, command: str = "") -> dict:
    """Train the tokenizer and the model, evaluate, and save everything to ``out_dir`` atomically."""
    from trl import SFTTrainer

    cfg = cfg or ChatModelConfig()
    out_dir = Path(out_dir)
    t_start = time.time()
    rows = training_rows(cfg.max_steps * cfg.batch_size, seed=cfg.seed, cfg=CorpusConfig())
    tok_rows = rows[: cfg.tokenizer_texts]
    tok = train_chat_tokenizer(
        [f"<|im_start|>user\n{r['user']}<|im_end|>\n<|im_start|>assistant\n{r['assistant']}<|im_end|>\n"
         for r in tok_rows], vocab_size=cfg.vocab_size)
    data = []
    for r in rows:
        prompt, completion = _prompt_text(tok, r["user"]), r["assistant"]
        if r["ends"]:
            completion += IM_END
        elif len(tok(prompt + completion).input_ids) <= cfg.window:
            raise ValueError(f"a cut-off row fits in window={cfg.window}; raise CorpusConfig.long_numbers")
        data.append({"prompt": prompt, "completion": completion})
    model = new_chat_model(tok, cfg)

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_multiplier(cfg))
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    args = cpu_sft_args(tmp / "trainer", cfg.max_steps, cfg.batch_size, cfg.seed, max_length=cfg.window,
                        logging_steps=max(1, cfg.max_steps // 10), disable_tqdm=True,
                        # batches of similar length: little compute spent on padding
                        train_sampling_strategy="group_by_length")
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(data), processing_class=tok,
                         optimizers=(optimizer, scheduler))
    t0 = time.time()
    trainer.train()
    train_seconds = round(time.time() - t0, 1)
    model.eval()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    evaluation = evaluate(model, tok, cfg.eval_problems, seed=cfg.seed)

    model.generation_config = GenerationConfig(
        **SAMPLING_DEFAULTS, eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids(PAD)],
        pad_token_id=tok.pad_token_id)
    meta = {
        "stage": "chat", "command": command, "config": asdict(cfg), "corpus": asdict(CorpusConfig()),
        "parameters": model.num_parameters(), "vocab_size": len(tok), "steps": trainer.state.global_step,
        "train_seconds": train_seconds, "total_seconds": round(time.time() - t_start, 1),
        "final_loss": losses[-1] if losses else None, "greedy_eval": evaluation,
    }

    def write_suites(tmp: Path) -> None:
        write_jsonl(task_rows(seed=cfg.seed), tmp / "tasks.jsonl")
        write_jsonl(long_task_rows(seed=cfg.seed), tmp / "long.jsonl")

    save_atomically(model, tok, out_dir, meta, write_suites)
    return meta


@torch.inference_mode()
def evaluate(model, tok, n_problems: int = 100, seed: int = 0, max_new_tokens: int = 200) -> dict:
    """Greedy accuracy per slice on the ``test`` split, with the JSONL verifier's parse rate.

    ``parsed`` is the share of completions whose answer comes from ``\\boxed{}`` or that abstain;
    ``think`` the share that open and close a ``<think>`` section.
    """
    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.loading import Checkpoint
    from offtarget.models.sampling import SamplingParams
    from offtarget.tasks.jsonl import JsonlTask
    from offtarget.tasks.problem import Problem

    task = JsonlTask(name="chat")
    rows = task_rows(n_test=n_problems, n_ood=0, seed=seed + 1)
    problems = [Problem(r["id"], r["prompt"], r["answer"], r["split"], r["slice"], r["answer"] is None,
                        r["metadata"]) for r in rows]
    saved = model.generation_config  # plain greedy decoding, whatever defaults the checkpoint carries
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    try:
        engine = HFEngine(Checkpoint("live", "", model, tok, "live"))
        params = SamplingParams(n=1, temperature=0, max_new_tokens=max_new_tokens)
        out = engine.generate([p.prompt for p in problems], params, 0, 1)
    finally:
        model.generation_config = saved
    by_slice: dict[str, list[bool]] = {}
    parsed = think = 0
    for p, (s,) in zip(problems, out):
        v = task.verify(p, s.text)
        ok = v.abstained if p.should_abstain else v.correct
        by_slice.setdefault(p.slice, []).append(ok)
        parsed += v.format in ("boxed", "abstain")
        think += "<think>" in s.text and "</think>" in s.text
    n = max(1, len(problems))
    answerable = [ok for k, v in by_slice.items() if k != "unanswerable" for ok in v]
    return {
        "problems": len(problems),
        "accuracy": sum(answerable) / max(1, len(answerable)),
        "by_slice": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_slice.items())},
        "parsed": parsed / n,
        "think": think / n,
    }


__all__ = ["SAMPLING_DEFAULTS", "ChatModelConfig", "build_chat_model", "evaluate", "lr_multiplier", "new_chat_model"]
