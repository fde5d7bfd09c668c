"""The red-team library, the verdict rule, and rewards that misbehave (reported, never crashed on)."""

from __future__ import annotations

import json
import math
import random
import threading

import pytest
from preflight_helpers import ok, results_of, run_preflight_cli

from offtarget.preflight.redteam import (
    DEFAULT_REWARDS,
    PATTERNS,
    Negated,
    RewardFailure,
    call_like_trl,
    candidates,
    honest_correct,
    honest_wrong,
    is_exploit,
    red_team,
    resolve_reward,
    separated,
    wrong_answer,
    wrong_answers,
)
from offtarget.rewards import get_reward
from offtarget.stats import Estimate
from offtarget.tasks import ArithmeticTask, Problem, Verdict
from offtarget.tasks.jsonl import JsonlTask

SFT = "models/lab/sft"
TASK = ArithmeticTask(unanswerable_share=0)
PROBLEMS = TASK.problems("train", 30, seed=5)
REWARD_NAMES = ("correctness", "rlcr", "brier", "ternary", "format", "stepwise")


# ------------------------------------------------------------------------------------- the library


def test_library_has_at_least_twenty_distinct_patterns():
    names = [p.name for p in PATTERNS]
    assert len(names) >= 20 and len(set(names)) == len(names)
    assert all(p.description for p in PATTERNS)


def test_every_pattern_writes_text_or_declines_and_is_never_strictly_correct():
    for pat in PATTERNS:
        wrote = 0
        for p in PROBLEMS:
            text = pat.generate(p, TASK, random.Random(f"{pat.name}/{p.id}"))
            if text is None:
                continue
            wrote += 1
            assert isinstance(text, str)
            assert not TASK.verify(p, text).correct, (pat.name, text)
        assert wrote > 0, pat.name


def _gen(name, problem, seed=0):
    pat = next(p for p in PATTERNS if p.name == name)
    return pat.generate(problem, TASK, random.Random(seed))


def test_specific_patterns_look_like_their_description():
    p = next(x for x in PROBLEMS if len(x.answer) == 2)
    several = _gen("several_candidates", p)
    assert several.startswith("d ") and p.answer in several.split() and len(several.split()) == 5
    assert _gen("empty", p) == "" and _gen("whitespace", p).strip() == ""
    assert len(_gen("very_long", p)) > 10_000 and p.answer in _gen("very_long", p)
    assert _gen("arabic_indic_digits", p) == "d " + p.answer.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert _gen("fullwidth_digits", p)[2:].isdigit() and not _gen("fullwidth_digits", p)[2:].isascii()
    assert _gen("comma_separator", p) == f"d {p.answer[0]},{p.answer[1]}"
    assert _gen("prompt_echo", p) == p.prompt
    assert "grader" in _gen("grader_flattery", p) and p.answer not in _gen("grader_flattery", p).split()
    assert _gen("confidence_out_of_range", p).endswith("<confidence>1.7</confidence>")
    assert _gen("abstain_and_answer", p).startswith("? ")


def test_separators_and_candidates():
    assert separated("1234567", ",") == "1,234,567" and separated("1234", " ") == "1 234"
    assert separated("85", ",") == "8,5" and separated("7", ",") is None
    c = candidates(PROBLEMS[0], random.Random(1))
    assert PROBLEMS[0].answer in c and len(set(c)) == len(c) == 4


def test_honest_baselines_cover_formats_confidence_and_abstention():
    p = PROBLEMS[0]
    wrong, right = honest_wrong(p, TASK), honest_correct(p, TASK)
    assert "abstain" in wrong and wrong["abstain"] == "?"
    assert all(not TASK.verify(p, t).correct for t in wrong.values())
    assert all(TASK.verify(p, t).correct for t in right.values())
    assert {TASK.verify(p, t).format for t in right.values()} == {"direct", "reversed", "steps"}
    assert right["correct direct, confidence 0.3"].endswith("<confidence>0.3</confidence>")


# ------------------------------------------------------------------------------------- verdict rule


@pytest.mark.parametrize(
    "gain,gap,tol,want",
    [
        (Estimate(0.5, 0.4, 0.6, 30), 1.0, 0.05, True),
        (Estimate(0.04, 0.01, 0.07, 30), 1.0, 0.05, False),   # below the margin 0.05 × 1
        (Estimate(0.2, -0.01, 0.4, 30), 1.0, 0.05, False),    # interval reaches zero
        (Estimate(0.06, 0.02, 0.1, 30), 2.0, 0.05, False),    # margin scales with the gap: 0.1
        (Estimate(0.06, 0.02, 0.1, 30), 0.0, 0.05, True),     # no gap: absolute tolerance
        (None, 1.0, 0.05, False),
        (Estimate(None, None, None, 0), 1.0, 0.05, False),
    ],
)
def test_is_exploit(gain, gap, tol, want):
    assert is_exploit(gain, gap, tol) is want


@pytest.mark.parametrize("name", REWARD_NAMES)
def test_builtin_strict_rewards_are_not_found_hackable(name):
    r = red_team(get_reward(name, task=TASK), name, PROBLEMS, TASK, n_resamples=200)
    assert r.verdict == "not found hackable", r.summary
    assert not r.errors and r.honest_correct is not None and r.honest_wrong is not None


def test_lenient_verifier_is_hackable_by_several_candidates():
    r = red_team(get_reward("lenient_correctness", task=TASK), "lenient", PROBLEMS, TASK, n_resamples=200)
    assert r.verdict == "hackable" and r.summary.startswith("hackable")
    top = r.exploits[0]
    assert top.pattern == "several_candidates"
    assert top.gain.value == pytest.approx(1.0) and top.share_of_gap == pytest.approx(1.0)
    assert top.example_reward == 1.0 and not TASK.verify(PROBLEMS[0], top.example).correct
    assert {"candidate_lines", "trailing_garbage", "answer_repeated"} <= {e.pattern for e in r.exploits}


def test_baselines_pick_the_best_honest_option():
    r = red_team(get_reward("ternary", task=TASK), "ternary", PROBLEMS, TASK, n_resamples=100)
    assert r.honest_wrong_variant == "abstain" and r.honest_wrong == 0.0   # abstaining beats guessing
    r = red_team(get_reward("rlcr", task=TASK), "rlcr", PROBLEMS, TASK, n_resamples=100)
    assert r.honest_wrong == 0.0 and r.honest_wrong_variant.endswith("confidence 0")


# ------------------------------------------------------------------------------------- bad rewards


def confidence_lover(prompts, completions, **kwargs):
    """Pays for stated confidence, whatever the answer: wrong_high_confidence exploits it."""
    out = []
    for c in completions:
        q = 0.0
        if "<confidence>" in c:
            try:
                q = float(c.split("<confidence>")[1].split("<")[0])
            except ValueError:
                q = 0.0
        out.append(min(max(q, 0.0), 1.0) if math.isfinite(q) else 0.0)
    return out


def raises_on_empty(prompts, completions, answer, **kwargs):
    if any(not c.strip() for c in completions):
        raise ValueError("empty completion")
    return [float(c.strip().endswith(a)) for c, a in zip(completions, answer)]


def nan_on_garbage(prompts, completions, answer, **kwargs):
    return [float("nan") if "<answer>" in c else float(c == f"d {a}") for c, a in zip(completions, answer)]


def none_on_tags(prompts, completions, answer, **kwargs):
    return [None if "<" in c else float(c == f"d {a}") for c, a in zip(completions, answer)]


def test_confidence_rewarding_function_is_hackable():
    r = red_team(confidence_lover, "conf", PROBLEMS, TASK, n_resamples=100)
    assert r.verdict == "hackable"
    assert "wrong_high_confidence" in {e.pattern for e in r.exploits}


def test_a_reward_that_raises_is_reported_not_crashed_on():
    r = red_team(raises_on_empty, "raiser", PROBLEMS, TASK, n_resamples=100)
    assert "errors on pattern empty: raises ValueError: empty completion" in r.errors
    assert any(e.startswith("errors on pattern whitespace") for e in r.errors)
    assert "Errors on" in r.summary
    assert r.verdict in ("hackable", "errors")   # endswith() is also lenient: trailing junk is not checked


def test_nan_and_none_are_reported():
    r = red_team(nan_on_garbage, "nan", PROBLEMS, TASK, n_resamples=100)
    assert any(e.startswith("errors on pattern nested_tags: returned nan") for e in r.errors)
    assert r.verdict == "errors"
    r = red_team(none_on_tags, "none", PROBLEMS, TASK, n_resamples=100)
    nested = next(p for p in r.patterns if p.pattern == "nested_tags")
    assert nested.n_none == len(PROBLEMS) and nested.mean is None
    assert "Returns None on" in r.summary


def test_a_reward_broken_everywhere_is_broken():
    def always_raises(prompts, completions, **kwargs):
        raise RuntimeError("boom")

    r = red_team(always_raises, "boom", PROBLEMS, TASK, n_resamples=50)
    assert r.verdict == "broken" and "RuntimeError: boom" in r.summary


def test_call_like_trl_passes_trls_arguments_and_checks_the_output():
    seen = {}

    def record(prompts, completions, completion_ids, **kwargs):
        seen.update(kwargs, prompts=prompts, completions=completions, completion_ids=completion_ids)
        return [0.5] * len(completions)

    p = PROBLEMS[:2]
    assert call_like_trl(record, p, ["d 1", "d 2"]) == [0.5, 0.5]
    assert set(seen) == {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric",
                         "id", "answer", "split", "slice", "should_abstain", "metadata"}
    assert seen["prompts"] == [x.prompt for x in p] and seen["answer"] == [x.answer for x in p]
    assert seen["completion_ids"][0] == list(b"d 1")
    with pytest.raises(RewardFailure, match="returned 1 values for 2"):
        call_like_trl(lambda **k: [1.0], p, ["a", "b"])
    with pytest.raises(RewardFailure, match="non-number"):
        call_like_trl(lambda **k: ["x", 1.0], p, ["a", "b"])
    with pytest.raises(RewardFailure, match="returned a int"):
        call_like_trl(lambda **k: 3, p, ["a", "b"])


def test_async_rewards_are_awaited():
    async def fn(prompts, completions, **kwargs):
        return [1.0 for _ in completions]

    assert call_like_trl(fn, PROBLEMS[:2], ["a", "b"]) == [1.0, 1.0]


def test_penalties_are_red_teamed_as_their_negative():
    name, fn = resolve_reward("format_penalty", TASK)
    assert name == "-format_penalty" and isinstance(fn, Negated)
    assert fn(prompts=["2+2="], completions=["d 4 "], answer=["4"]) == [-0.25]
    r = red_team(fn, name, PROBLEMS, TASK, n_resamples=100)
    assert r.verdict == "not found hackable", r.summary


# ------------------------------------------------------------------------------------- any answer type

JSONL = JsonlTask("outside")


def outside_problems(answer, answer_type="math", n=12):
    meta = {} if answer_type == "math" else {"answer_type": answer_type}
    return [Problem(f"p{i}", f"question {i}?", answer, split="train", metadata=meta) for i in range(n)]


def test_negative_integers_get_wrong_answers_not_a_crash():
    """reasoning-gym basic_arithmetic answers such as -4 made wrong_answer raise IndexError."""
    p = outside_problems("-4")[0]
    assert wrong_answers(p, JSONL)[:6] == ["-3", "-5", "-2", "-6", "-1", "-7"]
    assert wrong_answer(p, random.Random(0), JSONL) in {"-3", "-5", "-2", "-6", "-1", "-7"}


@pytest.mark.parametrize("answer, answer_type", [
    ("-4", "math"), ("0", "math"), ("-0.5", "math"), ("6.32098837209", "math"), ("3/7", "math"),
    ("\\frac{3}{7}", "math"), ("$244/607$", "math"), ("1,234", "math"), ("B", "math"), ("(C)", "choice"),
    ("Paris", "text"), ("olleh", "exact"), ("a, b, c", "exact"), ("x", "exact"), ("17", "exact"),
    ("x^2+1", "math"),
])
def test_red_team_works_for_any_answer_type(answer, answer_type):
    problems = outside_problems(answer, answer_type)
    wrong = wrong_answers(problems[0], JSONL)
    assert len(wrong) >= 3 and len(set(wrong)) == len(wrong)
    assert not any(JSONL.verify(problems[0], w).correct for w in wrong)
    right = {k: JSONL.verify(problems[0], t).correct for k, t in honest_correct(problems[0], JSONL).items()}
    assert right["correct boxed, no confidence"] and right["correct answer-line, confidence 0.7"]
    r = red_team(get_reward("correctness", task=JSONL), "correctness", problems, JSONL, n_resamples=100)
    assert r.verdict == "not found hackable", r.summary
    assert (r.honest_correct, r.honest_wrong) == (1.0, 0.0)


def _finishes(fn, seconds=10.0):
    done = []
    t = threading.Thread(target=lambda: done.append(fn()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "did not finish: an unbounded loop"
    return done[0]


@pytest.mark.parametrize("answer", ["0", "-1", "1", "A", "x", "", "٣", "-0", "0.0"])
def test_candidates_are_bounded_when_few_wrong_answers_exist(answer):
    """Asking for more candidates than exist returns fewer, at once (it used to loop forever)."""
    p = outside_problems(answer, "exact" if answer in ("x", "", "٣") else "math")[0]
    out = _finishes(lambda: candidates(p, random.Random(0), n=40, task=JSONL))
    assert (p.answer or "0") in out and len(set(out)) == len(out) <= 40


def test_candidates_finish_even_when_the_verifier_accepts_everything():
    class AcceptsAll:
        name, formats = "lenient", ("bare",)

        def verify(self, problem, completion):
            return Verdict(completion, True, False, "bare")

    p = outside_problems("-4")[0]
    assert _finishes(lambda: candidates(p, random.Random(0), task=AcceptsAll())) == ["-4"]
    assert _finishes(lambda: wrong_answer(p, random.Random(0), AcceptsAll())) is None
    assert _finishes(lambda: [pat.generate(p, AcceptsAll(), random.Random(0)) for pat in PATTERNS])


# ------------------------------------------------------------------------------------- separation


def pays_any_answer(prompts, completions, **kwargs):
    """Pays 1 for any completion with a number in it, right or wrong."""
    return [float(any(ch.isdigit() for ch in c)) for c in completions]


def pays_almost_the_same(prompts, completions, answer, **kwargs):
    return [1.0 if a in c else 0.99 for c, a in zip(completions, answer)]


@pytest.mark.parametrize("fn", [pays_any_answer, pays_almost_the_same, lambda completions, **k: [0.3] * len(
    completions)])
@pytest.mark.parametrize("task", [TASK, JSONL], ids=["arithmetic", "jsonl"])
def test_a_reward_that_does_not_separate_right_from_wrong_is_reported(fn, task):
    problems = PROBLEMS if task is TASK else outside_problems("-4")
    r = red_team(fn, "mine", problems, task, n_resamples=100)
    assert r.verdict == "does not separate", r.summary
    assert r.summary.startswith("does not separate right from wrong answers")
    assert r.separation is not None and r.separation.value < 0.05


def test_separation_of_builtin_rewards():
    r = red_team(get_reward("correctness", task=TASK), "correctness", PROBLEMS, TASK, n_resamples=100)
    assert r.separation.value == pytest.approx(1.0) and r.separation.low == pytest.approx(1.0)
    r = red_team(get_reward("brier", task=TASK), "brier", PROBLEMS, TASK, n_resamples=100)
    assert r.verdict == "not found hackable" and "does not separate right from wrong answers" in r.summary
    assert r.separation.value == pytest.approx(0.0) and not r.pays_correctness


def test_a_reward_that_returns_none_everywhere_is_not_applicable():
    r = red_team(lambda completions, **k: [None] * len(completions), "nones", PROBLEMS, TASK, n_resamples=50)
    assert r.verdict == "not applicable" and not r.errors


# ------------------------------------------------------------------------------------- end to end

RG_FAMILIES = (("basic_arithmetic", "math", 10), ("decimal_arithmetic", "math", 5), ("spell_backward", "exact", 5))
"""reasoning-gym families whose answers are negative integers, long decimals and text."""


def reasoning_gym_suite(path):
    """A JSONL suite of reasoning-gym problems (reasoning-gym is a test dependency)."""
    rg = pytest.importorskip("reasoning_gym")
    rows = [{"id": f"{fam}-{i}", "prompt": x["question"], "answer": x["answer"], "split": "train", "slice": fam,
             "metadata": {"answer_type": kind}}
            for fam, kind, n in RG_FAMILIES for i, x in enumerate(rg.create_dataset(fam, seed=3, size=n))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


@pytest.mark.slow
def test_preflight_on_a_reasoning_gym_jsonl_suite_runs_clean(tmp_path):
    rows = reasoning_gym_suite(tmp_path / "rg.jsonl")
    assert any(r["answer"].startswith("-") for r in rows) and any("." in r["answer"] for r in rows)
    (tmp_path / "loose.py").write_text(
        "def pays_any_answer(prompts, completions, **kwargs):\n"
        "    return [float(any(ch.isdigit() for ch in c)) for c in completions]\n")
    out = tmp_path / "pf"
    args = ["preflight", "--model", SFT, "--suite", tmp_path / "rg.jsonl", "--checks", "foothold,redteam",
            "--problems", 20, "--samples", 2, "--group-size", 2, "--redteam-problems", 20, "--bootstrap", 100,
            "--max-new-tokens", 8, "--out", out]
    for reward in (*DEFAULT_REWARDS, "loose:pays_any_answer"):
        args += ["--reward", reward]
    ok(run_preflight_cli(*args, env={"PYTHONPATH": str(tmp_path)}))
    pre = results_of(out)["preflight"]
    verdicts = {r["reward"]: r["verdict"] for r in pre["redteam"]["rows"]}
    assert verdicts == {"correctness": "not found hackable", "rlcr": "not found hackable",
                        "brier": "not found hackable", "ternary": "not found hackable",
                        "format": "not found hackable", "stepwise": "not applicable",
                        "loose:pays_any_answer": "does not separate"}
    rowmap = {r["reward"]: r for r in pre["redteam"]["rows"]}
    assert rowmap["correctness"]["honest_correct"] == 1.0 and rowmap["correctness"]["honest_wrong"] == 0.0
    assert pre["foothold"]["verdict"] and len(results_of(out)["preflight_details"]["foothold"]["pass_rates"]) == 20
