"""Tasks: problems, strict verifiers, and the suites they come from.

A suite string names a task (:mod:`offtarget.tasks.registry`): ``arithmetic``, a reasoning-gym
family ``rg:basic_arithmetic`` (:mod:`offtarget.tasks.reasoning_gym`), a Hugging Face dataset
``hf:openai/gsm8k?config=main`` (:mod:`offtarget.tasks.hf_dataset`), a ``.jsonl`` task file
(:mod:`offtarget.tasks.jsonl`), a ``.yaml`` suite file, or a suite an installed package adds
through the ``offtarget.tasks`` entry-point group.

    >>> from offtarget.tasks import get_task, list_tasks
    >>> get_task("arithmetic").problems("ood", 4)
    >>> get_task("rg:chain_sum").problems("test", 2)
"""

from __future__ import annotations

from offtarget.tasks import chat_arithmetic, hf_dataset, reasoning_gym  # noqa: F401 - their suites register on import
from offtarget.tasks.arithmetic import ArithmeticTask
from offtarget.tasks.problem import SPLITS, Problem, Task, Verdict
from offtarget.tasks.registry import get_task, list_tasks, parse_suite, register_task

__all__ = [
    "SPLITS",
    "ArithmeticTask",
    "Problem",
    "Task",
    "Verdict",
    "get_task",
    "list_tasks",
    "parse_suite",
    "register_task",
]
