"""The evidence layer: what probes read about each checkpoint, from any source.

A checkpoint's evidence is its completions on the audit's problems, verified by offtarget's
own task verifier, with whatever token-level record the source has. Sources: offtarget's
sampling engines (a checkpoint directory), lm-evaluation-harness ``samples_*.jsonl``, Inspect
AI ``.eval`` logs, and plain JSONL of completions (:mod:`offtarget.evidence.source`).

    offtarget audit --suite arithmetic --splits test --problems 1000 \\
        --model base=lmeval:logs/base_samples.jsonl --model sft=inspect:logs/sft.eval@models/lab/sft

    >>> from offtarget.evidence import parse_model_spec, read_log
    >>> spec = parse_model_spec("lmeval:../shared/fixtures/eval-logs/sft_samples_offtarget_arith30.jsonl")
    >>> len(read_log(spec.kind, spec.path).rows)
    120
"""

from offtarget.evidence.checkpoint import Evidence
from offtarget.evidence.records import SOURCES, LogEvidence, LogRow, LogSampling
from offtarget.evidence.source import ModelSpec, parse_model_spec, read_log

__all__ = ["SOURCES", "Evidence", "LogEvidence", "LogRow", "LogSampling", "ModelSpec", "parse_model_spec",
           "read_log"]
