"""Teacher-forced scoring throughput against generation throughput, per token, same run.

Probes that need forward passes (KL; likelihood of a completion under another model) score
stored samples teacher-forced: one forward pass over prompt + completion gives every position's
distribution at once, where sampling needs one pass per token. So scoring should cost an order
of magnitude less per token. Each round, on the same samples:

- **generate**: :meth:`offtarget.models.hf_engine.HFEngine.generate` draws ``samples`` completions
  for each of ``problems`` prompts (``batch_sequences`` a call), tokens/s as in the sampling
  benchmark;
- **likelihood**: :func:`offtarget.models.scoring.completion_logprobs` re-scores those completions
  (log p of every token, one model);
- **kl**: :func:`offtarget.models.scoring.forward_kl` scores them under the reference and the
  tuned model (exact KL over the vocabulary: two forward passes per token).

Scoring rates count each completion token once. The benchmark also checks that the engine's
recorded log-probs equal the teacher-forced ones (the max absolute difference is reported).

    python benchmarks/run.py --only scoring
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.harness import BenchResult, Ratio, interleaved, median, rounds_dict


@dataclass
class ScoringBenchConfig:
    """Sizes of the scoring benchmark."""

    reference: str = "models/lab/base"
    """The KL reference π_ref."""
    model: str = "models/lab/sft"
    """The model whose samples are generated and scored."""
    problems: int = 64
    samples: int = 16
    max_new_tokens: int = 32
    batch_sequences: int = 256
    """Sequences per generate call (the audit default); scoring uses ScoringConfig's defaults."""


def run(cfg: ScoringBenchConfig, repeats: int, work: Path, threads: int) -> BenchResult:
    import torch

    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.loading import load_checkpoint
    from offtarget.models.sampling import SamplingParams
    from offtarget.models.scoring import completion_logprobs, forward_kl
    from offtarget.tasks import ArithmeticTask

    res = BenchResult("scoring", config=asdict(cfg))
    ref = load_checkpoint(cfg.reference, "base", device="cpu")
    tuned = load_checkpoint(cfg.model, "sft", device="cpu")
    task = ArithmeticTask()
    half = cfg.problems // 2
    prompts = [p.prompt for p in task.problems("test", cfg.problems - half, seed=0) + task.problems("ood", half, seed=0)]
    params = SamplingParams(n=cfg.samples, temperature=1.0, max_new_tokens=cfg.max_new_tokens)
    backend = HFEngine(tuned, cfg.batch_sequences)
    per_call = max(1, cfg.batch_sequences // cfg.samples)

    def sample(seed: int):
        out = []
        for i in range(0, len(prompts), per_call):
            out += backend.generate(prompts[i : i + per_call], params, seed=seed + i, n=cfg.samples)
        return out

    drawn = sample(0)
    flat_prompts = [p for p, row in zip(prompts, drawn) for _ in row]
    completions = [s.token_ids for row in drawn for s in row]
    recorded = [s.logprobs for row in drawn for s in row]
    n_tokens = sum(len(c) for c in completions)

    def generate() -> int:
        return sum(len(s.token_ids) for row in sample(1) for s in row)

    def likelihood() -> int:
        completion_logprobs(tuned, flat_prompts, completions)
        return n_tokens

    def kl() -> int:
        forward_kl(ref, tuned, flat_prompts, completions)
        return n_tokens

    rounds = interleaved({"generate": generate, "likelihood": likelihood, "kl": kl}, repeats)
    res.ratios = [
        Ratio.of("likelihood/generate", "scoring: teacher-forced log-probs vs generation, tokens/s", rounds,
                 "likelihood", "generate", goal=10.0),
        Ratio.of("kl/generate", "scoring: exact KL (2 models) vs generation, tokens/s", rounds, "kl", "generate",
                 goal=10.0),
    ]
    scored = completion_logprobs(tuned, flat_prompts, completions)
    diff = max((float((torch.tensor(r) - s).abs().max()) for r, s in zip(recorded, scored) if len(r)), default=0.0)
    res.measurements = {**rounds_dict(rounds, "tokens"), "scored_tokens": n_tokens,
                        "max_abs_recorded_minus_teacher_forced_logprob": diff}
    res.notes.append(
        f"{len(completions)} completions, {n_tokens} tokens; generation {median([r['generate'].rate for r in rounds]):,.0f}"
        f" tok/s, likelihood {median([r['likelihood'].rate for r in rounds]):,.0f} tok/s, "
        f"KL {median([r['kl'].rate for r in rounds]):,.0f} tok/s; recorded vs teacher-forced log-probs: "
        f"max |diff| {diff:.1e}"
    )
    return res
