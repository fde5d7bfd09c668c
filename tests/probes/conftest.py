"""Hand-built evidence for probe tests: problems, completions and a minimal audit context.

Token ids come from the lab's character tokenizer (one id per character, then ``<eos>``), so the
likelihood confidence can be located with the real tokenizer of ``models/lab/sft``. Tests get
these helpers through the ``kit`` fixture (the suite runs with ``--import-mode=importlib``, so a
helper module cannot be imported by name).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from offtarget.audit.evidence import Evidence
from offtarget.models.char_tokenizer import build_char_tokenizer
from offtarget.probes.context import AuditContext
from offtarget.probes.settings import ProbeSettings
from offtarget.store import StoredSample
from offtarget.tasks import ArithmeticTask, Problem

LAB = Path(__file__).resolve().parents[2] / "models" / "lab"
TOKENIZER_DIR = str(LAB / "sft")
TOK = build_char_tokenizer()
TASK = ArithmeticTask()


def answerable(a: int, b: int, split: str = "test", slice_: str = "all") -> Problem:
    return Problem(f"{split}/{slice_}/{a}+{b}", f"{a}+{b}=", str(a + b), split, slice_, metadata={"a": a, "b": b})


def unanswerable(i: int, split: str = "test") -> Problem:
    return Problem(f"{split}/u{i}", f"{i}+k=", None, split, "unanswerable", should_abstain=True)


def sample(text: str, logprob=lambda k: -0.01 * (k + 1), entropy: float = 0.5, finish: str = "stop",
           pid: str = "", index: int = 0) -> StoredSample:
    """Token k gets log-prob ``logprob(k)``; every token has entropy ``entropy``."""
    ids = TOK(text, add_special_tokens=False).input_ids + ([TOK.eos_token_id] if finish == "stop" else [])
    return StoredSample(text, ids, [logprob(k) for k in range(len(ids))], [entropy] * len(ids), finish,
                        problem_id=pid, sample_index=index)


def evidence(name: str, problems: list[Problem], texts: list[list[str]], greedy: list[str] | None = None,
             entropies: list[list[float]] | None = None, finish: list[list[str]] | None = None,
             path: str = TOKENIZER_DIR) -> Evidence:
    """Evidence of one checkpoint from completions per problem (verified by the arithmetic task)."""
    samples = [
        [sample(t, entropy=entropies[i][j] if entropies else 0.5, finish=finish[i][j] if finish else "stop",
                pid=p.id, index=j) for j, t in enumerate(row)]
        for i, (p, row) in enumerate(zip(problems, texts))
    ]
    verdicts = [[TASK.verify(p, s.text) for s in row] for p, row in zip(problems, samples)]
    g_samples = g_verdicts = None
    if greedy is not None:
        g_samples = [sample(t, pid=p.id) for p, t in zip(problems, greedy)]
        g_verdicts = [TASK.verify(p, s.text) for p, s in zip(problems, g_samples)]
    return Evidence(name, path, name, problems, samples, verdicts, g_samples, g_verdicts)


def context(*evidences: Evidence, bootstrap: int = 200, **cfg) -> AuditContext:
    """An audit context whose reference is the first evidence."""
    models = {ev.name: ev.path for ev in evidences}
    return AuditContext(ProbeSettings(bootstrap=bootstrap, **cfg), TASK, {ev.name: ev for ev in evidences},
                        models=models)


def row(result, metric: str, group: str, checkpoint: str):
    """The metric row, or ``None`` if the probe did not report it."""
    return next((m for m in result.metrics
                 if m.metric == metric and m.group == group and m.checkpoint == checkpoint), None)


def value(result, metric: str, group: str, checkpoint: str) -> float | None:
    r = row(result, metric, group, checkpoint)
    assert r is not None, f"{metric} on {group} for {checkpoint} not reported"
    return r.value


@pytest.fixture(scope="session")
def kit():
    """This module: ``kit.evidence(...)``, ``kit.context(...)``, ``kit.value(...)``, ..."""
    return SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith("_")})
