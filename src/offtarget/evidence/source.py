"""Where a checkpoint's evidence comes from: ``--model NAME=SPEC``.

``SPEC`` is a checkpoint directory (offtarget samples it), or a log with a source prefix:

    lmeval:PATH/samples_TASK_TIME.jsonl     lm-evaluation-harness --log_samples output
    inspect:PATH.eval  (or PATH.json)       an Inspect AI log
    completions:PATH.jsonl                  plain JSONL of completions

A log may carry its checkpoint after ``@`` — ``inspect:run.eval@models/lab/sft`` — so the
probes that need the model (KL, likelihood confidence, weights) run and the log's completions
are re-scored by it; without one those probes are reported unavailable.

    >>> parse_model_spec("inspect:run.eval@models/lab/sft")
    ModelSpec(kind='inspect', path='run.eval', checkpoint='models/lab/sft')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from offtarget.errors import OfftargetError
from offtarget.evidence.records import SOURCES, LogEvidence


@dataclass(frozen=True)
class ModelSpec:
    """One ``--model`` value, parsed."""

    kind: str
    """``checkpoint`` (a model directory to sample) or one of the log sources."""
    path: str
    """The checkpoint directory or the log file."""
    checkpoint: str | None = None
    """For a log: the checkpoint that wrote it, when given after ``@``."""

    @property
    def is_log(self) -> bool:
        return self.kind != "checkpoint"

    @property
    def model_path(self) -> str | None:
        """The directory of the model itself, if there is one."""
        return self.path if self.kind == "checkpoint" else self.checkpoint


def resolve_spec(spec: str) -> str:
    """A ``--model`` value with its checkpoint part resolved (known model names, ``.gguf`` files, see
    :func:`offtarget.models.registry.resolve_model_path`); log paths stay as given."""
    from offtarget.models.registry import resolve_model_path

    kind, sep, rest = spec.partition(":")
    if not sep or kind not in SOURCES:
        return resolve_model_path(spec)
    path, at, ckpt = rest.rpartition("@")
    if not at or Path(rest).exists() or not ckpt:
        return spec
    return f"{kind}:{path}@{resolve_model_path(ckpt)}"


def parse_model_spec(spec: str) -> ModelSpec:
    """``kind:PATH[@CHECKPOINT]`` for a log, anything else is a checkpoint path."""
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in SOURCES:
        return ModelSpec("checkpoint", spec)
    path, at, ckpt = rest.rpartition("@")
    if not at or Path(rest).exists():
        path, ckpt = rest, None
    if not path:
        raise OfftargetError(f"--model {spec!r}: no log path after '{kind}:'; e.g. {kind}:PATH")
    if ckpt is not None and not (Path(ckpt) / "config.json").is_file():
        raise OfftargetError(f"--model {spec!r}: {ckpt} after '@' is not a checkpoint directory (no config.json)")
    return ModelSpec(kind, path, ckpt)


def read_log(kind: str, path: str, checkpoint_name: str | None = None) -> LogEvidence:
    """Read one log of a known source kind."""
    if not Path(path).is_file():
        raise OfftargetError(f"{kind} log {path}: file not found; check the path after '{kind}:'")
    if kind == "lmeval":
        from offtarget.evidence.lmeval import read
        return read(path)
    if kind == "inspect":
        from offtarget.evidence.inspect_log import read
        return read(path)
    if kind == "completions":
        from offtarget.evidence.completions_jsonl import read
        return read(path, checkpoint_name)
    raise OfftargetError(f"unknown evidence source {kind!r}: use one of {', '.join(SOURCES)}")
