"""Tasks: problems, strict verifiers, and loaders for users' own data.

    >>> from offtarget.tasks import get_task
    >>> get_task("arithmetic").problems("ood", 4)
"""

from __future__ import annotations

from offtarget.tasks.arithmetic import ArithmeticTask
from offtarget.tasks.problem import SPLITS, Problem, Task, Verdict

__all__ = ["SPLITS", "Problem", "Task", "Verdict", "ArithmeticTask", "get_task"]


def get_task(suite: str) -> Task:
    """A built-in suite by name, or a JSONL task file by path (see :mod:`offtarget.tasks.jsonl`)."""
    from offtarget.errors import OfftargetError

    if suite == "arithmetic":
        return ArithmeticTask()
    if suite.endswith(".jsonl"):
        from offtarget.tasks.jsonl import JsonlTask

        return JsonlTask.from_file(suite)
    raise OfftargetError(f"unknown suite {suite!r}: use 'arithmetic' or a path to a .jsonl task file")
