"""Fixtures for the reward tests (helpers live in ``reward_helpers``)."""

from __future__ import annotations

import pytest
from reward_helpers import call_like_trl

from offtarget.tasks import ArithmeticTask


@pytest.fixture
def task() -> ArithmeticTask:
    return ArithmeticTask()


@pytest.fixture
def call():
    return call_like_trl
