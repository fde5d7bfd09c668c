"""Rewards by name, users' own rewards by 'module:function', and picklable reward objects."""

from __future__ import annotations

import pickle

import pytest
from reward_helpers import ADD, UNANS

from offtarget.errors import OfftargetError
from offtarget.rewards import get_reward, list_rewards, load_reward, register_reward
from offtarget.rewards import registry as registry_module
from offtarget.tasks import ArithmeticTask

NAMES = [
    "brier",
    "correctness",
    "format",
    "format_penalty",
    "lenient_correctness",
    "reasoning_gym",
    "rlcr",
    "stepwise",
    "ternary",
]


def test_builtin_names():
    assert list_rewards() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_builtin_builds_names_itself_and_scores(call, name):
    fn = get_reward(name)
    assert fn.__name__ == name
    got = call(fn, [ADD, ADD, UNANS], ["d 85<c>9", "junk", "?"])
    assert all(r is None or isinstance(r, float) for r in got.rewards)
    assert got.metrics and all(k.startswith(f"{name}/") for k in got.metrics)


@pytest.mark.parametrize("name", NAMES)
def test_rewards_pickle(name):
    fn = get_reward(name)
    again = pickle.loads(pickle.dumps(fn))
    assert again.__name__ == name
    assert again(["27+58="], ["d 85<c>9"], answer=["85"], metadata=['{"a": 27, "b": 58}']) == fn(
        ["27+58="], ["d 85<c>9"], answer=["85"], metadata=['{"a": 27, "b": 58}']
    )


def test_task_by_name_or_object():
    assert isinstance(get_reward("correctness", task="arithmetic").task, ArithmeticTask)
    assert (
        get_reward("correctness", task=ArithmeticTask(unanswerable_share=0.5)).task.unanswerable_share == 0.5
    )


def test_kwargs_reach_the_factory(call):
    fn = get_reward("ternary", abstain=-0.5, name="truth")
    assert fn.__name__ == "truth"
    assert call(fn, [ADD], ["?"]).rewards == [-0.5]


def test_unknown_name_lists_the_choices():
    with pytest.raises(OfftargetError, match="unknown reward 'brir'.*brier, correctness") as e:
        get_reward("brir")
    assert "\n" not in str(e.value)


def test_unknown_kwarg_is_a_user_error():
    with pytest.raises(OfftargetError, match="reward 'rlcr'.*weight"):
        get_reward("rlcr", weight=2.0)


def test_register_and_clash():
    try:

        @register_reward("_test_constant")
        def constant(value: float = 1.0):
            return lambda prompts, completions, **kw: [value] * len(prompts)

        assert "_test_constant" in list_rewards()
        assert get_reward("_test_constant", value=2.0)(["a"], ["b"]) == [2.0]
        with pytest.raises(ValueError, match="already registered"):
            register_reward("_test_constant")(lambda: None)
    finally:
        registry_module.REWARDS.remove("_test_constant")


USER_MODULE = """
def length_penalty(prompts, completions, **kwargs):
    return [-len(c) / 10 for c in completions]

NOT_CALLABLE = 3
"""


def test_load_reward_from_a_module(tmp_path, monkeypatch):
    (tmp_path / "user_rewards_mod.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = load_reward("user_rewards_mod:length_penalty")
    assert fn(["p"], ["abcde"]) == [-0.5]


def test_load_reward_from_a_file(tmp_path):
    path = tmp_path / "my_rewards.py"
    path.write_text(USER_MODULE)
    assert load_reward(f"{path}:length_penalty")(["p"], ["ab"]) == [-0.2]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:fn", "no module named 'no_such_module_xyz'"),
        ("offtarget.rewards:no_such_fn", "has no attribute 'no_such_fn'"),
        ("offtarget.rewards:COLUMNS", "not a callable"),
        ("justaname", "expected 'module:function'"),
        (":fn", "expected 'module:function'"),
        ("offtarget.rewards:", "expected 'module:function'"),
        ("missing/file.py:fn", "does not exist"),
    ],
)
def test_load_reward_errors_are_one_line(spec, message):
    with pytest.raises(OfftargetError, match=message) as e:
        load_reward(spec)
    assert "\n" not in str(e.value)


def test_load_reward_reports_a_broken_import(tmp_path, monkeypatch):
    (tmp_path / "broken_rewards_mod.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(OfftargetError, match="importing broken_rewards_mod failed.*no_such_dependency_xyz"):
        load_reward("broken_rewards_mod:fn")
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(OfftargetError, match="RuntimeError: boom"):
        load_reward(f"{bad}:fn")
