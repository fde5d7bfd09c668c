"""reasoning-gym suites: deterministic problems, harder OOD configs, grading by reasoning-gym's scorer."""

import pickle

import pytest

pytest.importorskip("reasoning_gym")

import reasoning_gym

from offtarget.errors import OfftargetError
from offtarget.rewards import get_reward, problem_to_row
from offtarget.tasks import get_task
from offtarget.tasks.reasoning_gym import OOD_CONFIGS, partial_credit


def _digits(problem):
    return problem.metadata["reasoning_gym"]["entry"]["metadata"]["num_digits"]


def test_problems_are_deterministic_in_seed():
    task = get_task("rg:basic_arithmetic")
    a = task.problems("test", 20, seed=1)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in get_task("rg:basic_arithmetic").problems("test", 20, seed=1)]
    assert [p.prompt for p in a] != [p.prompt for p in task.problems("test", 20, seed=2)]
    assert len({p.id for p in a + task.problems("train", 20, seed=1)}) == 40
    assert not {p.prompt for p in a} & {p.prompt for p in task.problems("train", 200, seed=1)}


@pytest.mark.parametrize("family, size", [
    ("basic_arithmetic", lambda p: _digits(p)),
    ("chain_sum", lambda p: _digits(p)),
    ("products", lambda p: _digits(p)),
    ("spell_backward", lambda p: len(p.answer)),
    ("word_sorting", lambda p: len(p.metadata["reasoning_gym"]["entry"]["metadata"]["sorted_words"])),
])
def test_ood_split_is_harder_than_test(family, size):
    task = get_task(f"rg:{family}")
    test, ood = task.problems("test", 40), task.problems("ood", 40)
    assert max(size(p) for p in test) < min(size(p) for p in ood) or (
        sum(map(size, ood)) / 40 > 1.5 * sum(map(size, test)) / 40
    )
    assert {p.split for p in ood} == {"ood"} and not any(p.should_abstain for p in test + ood)


def test_entry_is_carried_and_matches_reasoning_gym():
    p = get_task("rg:chain_sum").problems("ood", 1, seed=0)[0]
    info = p.metadata["reasoning_gym"]
    assert info["family"] == "chain_sum" and info["config"] == OOD_CONFIGS["chain_sum"]
    assert info["entry"]["question"] == p.prompt and info["entry"]["answer"] == p.answer
    ds = reasoning_gym.create_dataset("chain_sum", **info["config"], seed=0, size=1)
    assert ds.score_answer(p.answer, info["entry"]) == 1.0


@pytest.mark.parametrize("family", ["basic_arithmetic", "chain_sum", "spell_backward", "word_sorting"])
def test_correct_and_wrong_completions_agree_with_reasoning_gyms_scorer(family):
    task = get_task(f"rg:{family}")
    for p in task.problems("test", 5, seed=3):
        ds = reasoning_gym.create_dataset(family, seed=0, size=1, **p.metadata["reasoning_gym"]["config"])
        entry = p.metadata["reasoning_gym"]["entry"]
        right = task.verify(p, f"Let me work it out.\n<answer>{p.answer}</answer>")
        assert right.correct and right.answer == p.answer and right.format == "answer-tag"
        assert task.verify(p, f"Working...\nAnswer: {p.answer}").correct
        wrong = p.answer[:-1] + ("x" if family in ("spell_backward", "word_sorting") else "7" if p.answer[-1] != "7"
                                 else "8")
        v = task.verify(p, f"<answer>{wrong}</answer>")
        assert not v.correct and ds.score_answer(wrong, entry) < 1.0


def test_negative_answers_and_think_blocks():
    task = get_task("rg:basic_arithmetic")
    p = next(p for p in task.problems("test", 200) if p.answer.startswith("-"))
    assert task.verify(p, f"<think>maybe <answer>0</answer></think>\\boxed{{{p.answer}}}").correct
    assert not task.verify(p, f"<think>it is {p.answer}</think><answer>1</answer>").correct
    assert not task.verify(p, "no idea at all").correct


def test_partial_credit_reward_is_reasoning_gyms_score():
    task = get_task("rg:spell_backward")
    problems = task.problems("train", 4, seed=0)
    p = problems[0]
    half = p.answer[: len(p.answer) // 2]
    entry = p.metadata["reasoning_gym"]["entry"]
    ds = reasoning_gym.create_dataset("spell_backward", seed=0, size=1, **p.metadata["reasoning_gym"]["config"])
    assert partial_credit(p, f"<answer>{half}</answer>") == pytest.approx(ds.score_answer(half, entry))
    assert 0 < partial_credit(p, f"<answer>{half}</answer>") < 1
    fn = pickle.loads(pickle.dumps(get_reward("reasoning_gym", task="rg:spell_backward")))
    rows = [problem_to_row(q) for q in [p, p, *problems[1:3]]]  # what GRPO hands a reward: Problems as columns
    cols = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
    got = fn([r["prompt"] for r in rows], [f"<answer>{p.answer}</answer>", f"<answer>{half}</answer>",
                                            "I don't know", ""], **cols)
    assert got[0] == 1.0 and got[1] == pytest.approx(ds.score_answer(half, entry)) and got[2:] == [0.0, 0.0]
    assert get_reward("reasoning_gym")(["2+2="], ["d 4"], answer=["4"]) == [None]  # not a reasoning-gym row


def test_options_override_configs_and_bad_options_are_one_line():
    task = get_task("rg:chain_sum?max_digits=2&ood.min_digits=5&ood.max_digits=5")
    assert max(_digits(p) for p in task.problems("test", 30)) <= 2
    assert {_digits(p) for p in task.problems("ood", 10)} == {5}
    assert get_task("rg:gcd").problems("ood", 5) == []  # a family without an OOD mapping: no ood split
    assert len(get_task("rg:gcd?ood.max_value=100000").problems("ood", 3)) == 3
    for suite, needle in [
        ("rg:chain_sums", "no family 'chain_sums'"),
        ("rg:chain_sum?max_digit=2", "unknown option 'max_digit'"),
        ("rg:chain_sum?max_digits=two", "must be a int"),
        ("rg:chain_sum?min_digits=5&max_digits=2", "reasoning-gym rejects the config"),
        ("rg", "name a reasoning-gym family"),
    ]:
        with pytest.raises(OfftargetError, match=needle) as e:
            get_task(suite)
        assert "\n" not in str(e.value)


def test_strict_verdict_needs_an_exact_one_where_the_scorer_rounds():
    """spell_backward's scorer docks 0.2 for text after a right prefix only when its float sum is exactly
    1.0; with 1/6 steps it is 0.9999999999999999, so a repeated answer nearly earns full credit. The
    reward passes that on (the preflight red-team reports it); the strict verdict does not count it."""
    task = get_task("rg:spell_backward")
    p = next(p for p in task.problems("train", 50) if len(p.answer) == 6)
    repeated = "Answer: " + " ".join([p.answer] * 3)
    assert 0.99 < partial_credit(p, repeated) < 1.0
    assert not task.verify(p, repeated).correct


def test_unclosed_think_is_no_answer_and_honest_renderings_verify():
    task = get_task("rg:chain_sum")
    p = task.problems("test", 1)[0]
    assert not task.verify(p, f"<think>so <answer>{p.answer}</answer> I guess").correct
    for fmt in task.formats:
        assert task.verify(p, task.render_answer(p, fmt, p.answer)).correct, fmt


def test_module_doctests():
    import doctest

    from offtarget.tasks import hf_dataset, registry
    from offtarget.tasks import reasoning_gym as rg_module

    for module in (registry, rg_module, hf_dataset):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
    assert doctest.testmod(rg_module).attempted >= 3
