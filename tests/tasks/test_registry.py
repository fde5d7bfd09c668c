"""Suite strings resolve through one registry; installed packages add suites by entry point."""

import json
import textwrap

import pytest

from offtarget.errors import OfftargetError
from offtarget.tasks import get_task, list_tasks, parse_suite
from offtarget.tasks.arithmetic import ArithmeticTask
from offtarget.tasks.jsonl import JsonlTask
from offtarget.tasks.reasoning_gym import ReasoningGymTask

PLUGIN = '''
from offtarget.tasks.problem import Problem, Verdict


class EchoTask:
    """Problems whose answer is their own index; ``width`` pads it."""

    formats = ("plain",)

    def __init__(self, variant="plain", width="1"):
        self.name = f"echo:{variant}"
        self.width = int(width)

    def problems(self, split, n, seed=0):
        return [Problem(id=f"echo/{split}/{i}", prompt=f"say {i}", answer=str(i).zfill(self.width), split=split)
                for i in range(n)]

    def verify(self, problem, completion):
        ok = completion.strip() == problem.answer
        return Verdict(completion.strip(), ok, False, "plain")


def not_a_task():
    return 42
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A real installed distribution: a package and its .dist-info with an entry_points.txt on sys.path."""
    site = tmp_path / "site"
    (site / "echo_tasks").mkdir(parents=True)
    (site / "echo_tasks" / "__init__.py").write_text(PLUGIN)
    info = site / "echo_tasks-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-tasks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [offtarget.tasks]
        echo = echo_tasks:EchoTask
        broken = echo_tasks:not_a_task
        missing = echo_tasks:nowhere
        """))
    monkeypatch.syspath_prepend(str(site))
    yield site


def test_entry_point_suite_from_an_installed_distribution(plugin):
    assert {"echo", "broken"} <= set(list_tasks())
    task = get_task("echo")
    assert task.name == "echo:plain" and task.problems("test", 3)[2].answer == "2"
    wide = get_task("echo:loud?width=3")
    assert wide.name == "echo:loud" and wide.problems("test", 2)[1].answer == "001"
    assert wide.verify(wide.problems("test", 2)[1], "001").correct


@pytest.mark.parametrize("suite, needle", [
    ("echo?colour=red", "unexpected keyword argument 'colour'"),
    ("broken", "returned a int, which lacks the Task protocol"),
    ("missing", "cannot load entry point echo_tasks:nowhere"),
])
def test_entry_point_mistakes_are_one_line_errors(plugin, suite, needle):
    with pytest.raises(OfftargetError, match=needle) as e:
        get_task(suite)
    assert "\n" not in str(e.value)


def test_builtin_names_resolve():
    assert isinstance(get_task("arithmetic"), ArithmeticTask)
    assert isinstance(get_task("rg:chain_sum"), ReasoningGymTask)
    assert get_task("reasoning-gym:chain_sum").name == "rg:chain_sum"
    assert {"arithmetic", "rg:FAMILY", "hf:NAME"} <= set(list_tasks())


def test_jsonl_and_yaml_suite_files(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"prompt": "1+1?", "answer": "2"}) + "\n")
    assert isinstance(get_task(str(f)), JsonlTask)
    y = tmp_path / "suite.yaml"
    y.write_text("suite: rg:chain_sum?max_digits=2\nood.min_digits: 5\nood.max_digits: 5\n")
    task = get_task(str(y))
    assert task.id_config == {"max_digits": 2} and task.ood_config["min_digits"] == 5
    (tmp_path / "bad.yaml").write_text("family: chain_sum\n")
    with pytest.raises(OfftargetError, match="needs a key 'suite'"):
        get_task(str(tmp_path / "bad.yaml"))
    (tmp_path / "clash.yaml").write_text("suite: rg:chain_sum?max_digits=2\nmax_digits: 3\n")
    with pytest.raises(OfftargetError, match=r"\['max_digits'\] given both"):
        get_task(str(tmp_path / "clash.yaml"))


def test_parse_suite_grammar():
    s = parse_suite("rg:chain_sum?max_digits=2&ood.max_digits=6")
    assert (s.name, s.argument, s.options) == ("rg", "chain_sum", {"max_digits": "2", "ood.max_digits": "6"})
    s = parse_suite("hf:json?data_files=data/qa.jsonl")  # a scheme wins over the file suffix in an option
    assert (s.name, s.argument) == ("hf", "json")
    assert parse_suite("runs/x/tasks.jsonl").name == ".jsonl"
    with pytest.raises(OfftargetError, match="given twice"):
        parse_suite("rg:chain_sum?max_digits=2&max_digits=3")


@pytest.mark.parametrize("suite", ["arithmetik", "nope:thing", "tasks.txt", ""])
def test_unknown_suite_lists_what_exists(suite):
    with pytest.raises(OfftargetError) as e:
        get_task(suite)
    msg = str(e.value)
    assert "\n" not in msg
    if suite:
        assert msg.startswith(f"unknown suite {suite!r}") and "arithmetic" in msg and "rg:FAMILY" in msg
        assert ".jsonl" in msg
