"""The dataset schema that carries a :class:`~offtarget.tasks.Problem` through TRL to a reward function.

TRL's ``GRPOTrainer`` passes every dataset column to each reward function as a keyword list
(one value per completion, already repeated ``num_generations`` times). A GRPO training row is
therefore the Problem itself, flattened into Arrow-friendly columns:

=================  ======================  ==================================================
column             type                    meaning
=================  ======================  ==================================================
``prompt``         str                     ``Problem.prompt`` (TRL reads and tokenizes it)
``id``             str                     ``Problem.id``
``answer``         str or None             reference answer; None = the right move is to abstain
``split``          str                     ``train`` / ``test`` / ``ood``
``slice``          str                     sub-population label, e.g. ``carries=1``
``should_abstain`` bool                    True on unanswerable items
``metadata``       str                     ``json.dumps(Problem.metadata, sort_keys=True)``
=================  ======================  ==================================================

``metadata`` is a JSON string, not a struct, because Arrow unifies struct fields across rows (a
row without ``a`` would get ``a: None``) and because tasks put arbitrary values there.

    >>> from offtarget.tasks import ArithmeticTask
    >>> rows = [problem_to_row(p) for p in ArithmeticTask().problems("train", 4)]
    >>> cols = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
    >>> problems_from_columns([r["prompt"] for r in rows], **cols)[0] == ArithmeticTask().problems("train", 4)[0]
    True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from offtarget.errors import OfftargetError
from offtarget.tasks.problem import Problem

COLUMNS = ("prompt", "id", "answer", "split", "slice", "should_abstain", "metadata")
"""Every column a GRPO row carries, in this order."""


def problem_to_row(problem: Problem) -> dict[str, Any]:
    """One dataset row for ``problem`` (see the module docstring for the schema)."""
    return {
        "prompt": problem.prompt,
        "id": problem.id,
        "answer": problem.answer,
        "split": problem.split,
        "slice": problem.slice,
        "should_abstain": bool(problem.should_abstain),
        "metadata": json.dumps(problem.metadata, sort_keys=True),
    }


def message_text(message: Any) -> str:
    """The text of one chat message (``content`` as a string or as a list of typed parts)."""
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        content = message.get("content", "")
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        if isinstance(content, list):  # [{"type": "text", "text": ...}, {"type": "image"}, ...]
            return "".join(
                part.get("text") or "" if isinstance(part, dict) else str(part) for part in content
            )
        return str(content)
    raise TypeError(f"cannot read text from a chat message of type {type(message).__name__}")


def completion_text(completion: Any) -> str:
    """The text to verify: a plain completion, or the last assistant turn of a conversational one.

    TRL hands conversational completions over as ``[{"role": "assistant", "content": ...}]``
    (several messages when tools were called); the final answer lives in the last assistant turn.
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return message_text(completion)
    if isinstance(completion, Sequence):
        messages = list(completion)
        if not messages:
            return ""
        assistant = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
        return message_text(assistant[-1] if assistant else messages[-1])
    raise TypeError(f"cannot read text from a completion of type {type(completion).__name__}")


def prompt_text(prompt: Any) -> str:
    """A prompt as text: itself, or the last user turn of a conversational prompt."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence) and not isinstance(prompt, str):
        messages = [m for m in prompt if isinstance(m, dict)]
        user = [m for m in messages if m.get("role") == "user"]
        chosen = user[-1] if user else (messages[-1] if messages else None)
        return message_text(chosen)
    return message_text(prompt)


def _metadata(raw: Any, row: int) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            raise OfftargetError(
                f"dataset column 'metadata' row {row} is not valid JSON ({e.msg}); "
                "build rows with offtarget.rewards.problem_to_row"
            ) from None
        if not isinstance(value, dict):
            raise OfftargetError(
                f"dataset column 'metadata' row {row} must hold a JSON object, got {type(value).__name__}"
            )
        return value
    raise OfftargetError(
        f"dataset column 'metadata' row {row} must be a JSON string, got {type(raw).__name__}"
    )


def problems_from_columns(prompts: Sequence[Any], **columns: Any) -> list[Problem]:
    """Rebuild one :class:`Problem` per completion from TRL's reward-function arguments.

    ``prompts`` is TRL's ``prompts`` list; ``columns`` the remaining keyword arguments (extra
    keys such as ``trainer_state`` or ``log_metric`` are ignored). Only ``answer`` is required;
    missing optional columns default to ``id=f"row{i}"``, ``split="train"``, ``slice="all"``,
    ``should_abstain = answer is None`` and empty metadata.
    """
    n = len(prompts)
    if "answer" not in columns:
        raise OfftargetError(
            "reward functions need the dataset column 'answer' (None for unanswerable rows); "
            "build rows with offtarget.rewards.problem_to_row"
        )
    for name in COLUMNS[1:]:
        if name in columns and columns[name] is not None and len(columns[name]) != n:
            raise OfftargetError(f"dataset column {name!r} has {len(columns[name])} values for {n} prompts")

    def col(name: str, i: int) -> Any:
        values = columns.get(name)
        return None if values is None else values[i]

    problems = []
    for i, prompt in enumerate(prompts):
        answer = col("answer", i)
        should_abstain = col("should_abstain", i)
        problems.append(
            Problem(
                id=str(col("id", i)) if col("id", i) is not None else f"row{i}",
                prompt=prompt_text(prompt),
                answer=None if answer is None else str(answer),
                split=col("split", i) or "train",
                slice=col("slice", i) or "all",
                should_abstain=bool(should_abstain) if should_abstain is not None else answer is None,
                metadata=_metadata(col("metadata", i), i),
            )
        )
    return problems
