"""Training data: problem files, pass-rate measurement on the outcome reward, the prompt-token check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offtarget.errors import OfftargetError
from offtarget.models.sampling import Sample, SamplingParams
from offtarget.rewards import get_reward
from offtarget.tasks import ArithmeticTask, Problem
from offtarget.train.data import (
    apply_window,
    difficulty_summary,
    measure_outcomes,
    prompt_rows,
    read_problems,
    sft_rows,
    write_problems,
)

SFT = Path(__file__).resolve().parents[2] / "models" / "lab" / "sft"


class ScriptedEngine:
    """Returns fixed completions per prompt, cycling: a stand-in for HFEngine."""

    name = "scripted"

    def __init__(self, texts: dict[str, list[str]]) -> None:
        self.texts = texts

    def generate(self, prompts, params, seed, n):
        return [[Sample(self.texts[p][i % len(self.texts[p])], [1], [0.0], [0.0], "stop") for i in range(n)]
                for p in prompts]


def test_measure_outcomes_uses_the_outcome_reward_not_the_shaped_total():
    easy = Problem("e", "1+1=", "2", split="train")
    mid = Problem("m", "2+2=", "4", split="train")
    unans = Problem("u", "2+k=", None, split="train", slice="unanswerable", should_abstain=True)
    engine = ScriptedEngine({
        "1+1=": ["d 2<c>9"],
        "2+2=": ["d 4<c>9", "d 5<c>0"],  # the wrong one is perfectly calibrated: brier 1, correctness 0
        "2+k=": ["?"],
    })
    out = measure_outcomes(engine, [easy, mid, unans], get_reward("correctness"), 4, SamplingParams(n=4))
    assert out == {"e": [True] * 4, "m": [True, False, True, False], "u": [False] * 4}
    report = apply_window(out, 0.1, 0.9)
    assert (report.kept, report.too_easy, report.too_hard) == (["m"], ["e"], ["u"])
    summary = difficulty_summary(report, 4, applied=True)
    assert summary["counts"]["kept"] == 1 and summary["dropped"]["too_hard"]["ids"] == ["u"]
    assert "pass rate below" in summary["dropped"]["too_hard"]["reason"]
    # the ternary reward counts abstaining on an unanswerable item as success (value > 0)
    out = measure_outcomes(engine, [unans], get_reward("ternary"), 2, SamplingParams(n=2))
    assert out == {"u": [True, True]}


def test_problem_files_round_trip_and_errors(tmp_path):
    problems = ArithmeticTask().problems("train", 5, seed=3)
    path = tmp_path / "p.jsonl"
    write_problems(path, problems)
    assert read_problems(path) == problems
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "a", "prompt": "1+1="}) + "\n")
    with pytest.raises(OfftargetError, match=r"bad.jsonl:1: missing field\(s\) \['answer'\]"):
        read_problems(bad)
    bad.write_text("{not json\n")
    with pytest.raises(OfftargetError, match="not valid JSON"):
        read_problems(bad)


def test_sft_rows_validation(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"prompt": "1+1=", "completion": "d 2"}\n{"prompt": "1+2="}\n')
    with pytest.raises(OfftargetError, match=":2: each line needs"):
        sft_rows(path)


def test_rows_carry_the_reward_columns():
    p = ArithmeticTask().problems("train", 1, seed=0)[0]
    row = prompt_rows([p], conversational=False)[0]
    assert row["prompt"] == p.prompt and row["answer"] == p.answer and json.loads(row["metadata"]) == p.metadata


def _trainer(tmp_path, rows, tokenizer_template=None):
    pytest.importorskip("trl")
    from datasets import Dataset
    from trl import GRPOConfig

    from offtarget.models.loading import load_checkpoint
    from offtarget.train.grpo import OfftargetGRPOTrainer

    ckpt = load_checkpoint(str(SFT), device="cpu")
    if tokenizer_template:
        ckpt.tokenizer.chat_template = tokenizer_template
    args = GRPOConfig(output_dir=str(tmp_path / "o"), per_device_train_batch_size=8, num_generations=8,
                      use_cpu=True, bf16=False, report_to="none", beta=0.0, save_strategy="no")
    return OfftargetGRPOTrainer(model=ckpt.model, reward_funcs=[get_reward("correctness")], args=args,
                                train_dataset=Dataset.from_list(rows), processing_class=ckpt.tokenizer)


@pytest.mark.slow
def test_trl_feeds_the_same_prompt_tokens_as_the_sampler(tmp_path):
    from offtarget.train.data import check_prompt_tokens, uses_chat_template

    problems = ArithmeticTask().problems("train", 4, seed=0)
    rows = prompt_rows(problems, conversational=False)
    trainer = _trainer(tmp_path, rows)
    assert not uses_chat_template(trainer.processing_class, True)
    check_prompt_tokens(trainer, rows, chat_template=True)  # the lab tokenizer adds <bos> on both paths
    ids = trainer._tokenize_prompts([rows[0]["prompt"]])[0][0]
    assert ids[0] == trainer.processing_class.bos_token_id

    # a chat template on one side only is caught
    template = "{% for m in messages %}[{{ m['content'] }}]{% endfor %}"
    trainer = _trainer(tmp_path, rows, tokenizer_template=template)
    with pytest.raises(OfftargetError, match="prompt tokens differ"):
        check_prompt_tokens(trainer, rows, chat_template=True)
    conv = prompt_rows(problems, conversational=uses_chat_template(trainer.processing_class, True))
    check_prompt_tokens(trainer, conv, chat_template=True)  # conversational rows: both use the template
