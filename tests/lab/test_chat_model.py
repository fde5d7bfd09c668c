"""The chat lab checkpoint: BPE tokenizer, ChatML template, sampling defaults, reasoning completions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from offtarget.lab.chat_corpus import (
    ABSTAIN_ANSWER,
    ChatProblem,
    completion,
    long_task_rows,
    make_problem,
    problems,
    task_rows,
    training_rows,
)
from offtarget.lab.chat_model import SAMPLING_DEFAULTS
from offtarget.lab.chat_tokenizer import CHAT_TEMPLATE, SPECIAL_TOKENS, train_chat_tokenizer
from offtarget.tasks.jsonl import JsonlTask
from offtarget.tasks.problem import Problem

CHAT = Path("models/lab/chat")


def _cli(*args, timeout=900):
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run([sys.executable, "-m", "offtarget.cli", *map(str, args)], check=False, capture_output=True,
                          text=True, env=env, timeout=timeout)


# ------------------------------------------------------------------------------------- corpus


def test_reasoning_is_worked_by_hand():
    assert completion(make_problem(27, 58, "+"), confidence=0.7) == (
        "<think>\n27 + 58\n7 + 8 = 15, carry 1\n2 + 5 + 1 = 8\nso 27 + 58 = 85\n</think>\n\n"
        "The answer is \\boxed{85}.\nConfidence: 0.7")
    assert completion(make_problem(52, 27, "-")) == (
        "<think>\n52 - 27\n12 - 7 = 5, borrow 1\n5 - 2 - 1 = 2\nso 52 - 27 = 25\n</think>\n\n"
        "The answer is \\boxed{25}.")
    neg = completion(make_problem(21, 92, "-"))
    assert "21 < 92, so 21 - 92 = -(92 - 21)" in neg and neg.endswith("\\boxed{-71}.")


@pytest.mark.parametrize("a, b, op", [(99, 99, "+"), (100, 1, "-"), (305, 718, "-"), (0, 0, "+"), (999, 1, "+")])
def test_every_rendered_line_is_true_arithmetic(a, b, op):
    """Each ``x + y [+ 1] = s`` / ``x - y [- 1] = d`` line holds, and the boxed answer is a op b."""
    text = completion(make_problem(a, b, op))
    work = text.split("<think>\n")[1].split("\n</think>")[0].split("\n")
    columns = [ln for ln in work[1:] if not ln.startswith("so ") and "<" not in ln]
    assert len(columns) == max(len(str(a)), len(str(b)))
    for line in columns:
        lhs, rhs = line.split(" = ")
        assert eval(lhs) == int(rhs.split(",")[0]), line
    assert text.endswith(f"\\boxed{{{a + b if op == '+' else a - b}}}.")


def test_jsonl_verifier_grades_the_completions():
    task = JsonlTask(name="chat")
    p = Problem("x", "What is 21 - 92?", "-71", metadata={"answer_type": "exact"})
    v = task.verify(p, completion(make_problem(21, 92, "-"), confidence=0.6))
    assert (v.correct, v.format, v.confidence) == (True, "boxed", 0.6)
    assert not task.verify(p, completion(make_problem(21, 91, "-"))).correct
    u = ChatProblem(27, "k", "+", "unanswerable", "What is 27 + k?")
    abstain = completion(u)
    assert abstain.endswith(ABSTAIN_ANSWER) and "<think>" in abstain
    assert task.verify(Problem("u", u.prompt, None, should_abstain=True), abstain).abstained


def test_splits_are_disjoint_and_task_rows_are_valid(tmp_path):
    train = {(p.a, p.op, p.b) for p in problems("train", 3000, unanswerable_share=0)}
    for split in ("test", "ood"):
        held = [p for p in problems(split, 300) if p.answer is not None]
        assert not {(p.a, p.op, p.b) for p in held} & train
    ood_slices = {p.slice for p in problems("ood", 100)}
    assert ood_slices == {"three-digit", "surface", "unanswerable"}
    from offtarget.lab.chat_corpus import write_jsonl

    path = write_jsonl(task_rows(n_test=40, n_ood=20) + long_task_rows(2), tmp_path / "t.jsonl")
    task = JsonlTask.from_file(path)
    assert len(task.problems("test", 1000)) == 42 and len(task.problems("ood", 1000)) == 20
    assert sum(p.should_abstain for p in task.items) == 6


def test_training_rows_mix_and_are_deterministic():
    rows = training_rows(2000, seed=3)
    assert rows == training_rows(2000, seed=3) and rows != training_rows(2000, seed=4)
    assert 0.01 < sum(not r["ends"] for r in rows) / len(rows) < 0.06  # endless counts
    assert 0.04 < sum(r["assistant"].endswith(ABSTAIN_ANSWER) for r in rows) / len(rows) < 0.12
    assert any("Confidence: " in r["assistant"] for r in rows)


# ------------------------------------------------------------------------------------- tokenizer


def test_bpe_tokenizer_round_trips_and_keeps_special_tokens_whole():
    texts = [r["user"] + "\n" + r["assistant"] for r in training_rows(500)]
    tok = train_chat_tokenizer(texts, vocab_size=400)
    assert 300 < len(tok) <= 400  # 256 bytes + 3 special + merges
    for s in ["What is 27 + 58?", completion(make_problem(305, 718, "-"), 0.5), "naïve ünïcode → 42 ✓", "  \n\t x"]:
        assert tok.decode(tok(s).input_ids) == s
    assert tok.convert_ids_to_tokens(tok("7").input_ids) == ["7"]
    assert len(tok("123").input_ids) == 3  # one token per digit, as Qwen splits them
    for special in SPECIAL_TOKENS:
        assert len(tok(special, add_special_tokens=False).input_ids) == 1
    assert tok.eos_token == "<|im_end|>" and tok.bos_token is None
    assert train_chat_tokenizer(texts, vocab_size=400).get_vocab() == tok.get_vocab()  # deterministic


# ------------------------------------------------------------------------------------- the committed checkpoint


@pytest.fixture(scope="module")
def chat_tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(CHAT)


def test_committed_checkpoint_loads_with_auto_classes(chat_tok):
    from transformers import AutoModelForCausalLM, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(CHAT)
    assert model.config.model_type == "llama" and model.config.max_position_embeddings == 4096
    assert 500_000 < model.num_parameters() < 5_000_000
    assert model.config.eos_token_id == chat_tok.convert_tokens_to_ids("<|im_end|>")
    gen = GenerationConfig.from_pretrained(CHAT)
    assert {k: getattr(gen, k) for k in SAMPLING_DEFAULTS} == SAMPLING_DEFAULTS
    meta = json.loads((CHAT / "offtarget_lab.json").read_text())
    assert meta["command"].startswith("offtarget lab chat") and meta["train_seconds"] > 0
    # the shape is learned (think section, boxed answer or abstention); the arithmetic is not yet (see the report)
    assert meta["greedy_eval"]["parsed"] > 0.8 and meta["greedy_eval"]["think"] > 0.8
    assert (CHAT / "tokenizer.json").exists() and (CHAT / "tokenizer_config.json").exists()
    assert JsonlTask.from_file(CHAT / "tasks.jsonl").problems("ood", 5)


def test_chat_template_renders_chatml(chat_tok):
    msgs = [{"role": "user", "content": "What is 27 + 58?"}]
    text = chat_tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nWhat is 27 + 58?<|im_end|>\n<|im_start|>assistant\n"
    assert chat_tok.chat_template == CHAT_TEMPLATE
    turn = chat_tok.apply_chat_template(msgs + [{"role": "assistant", "content": "hi"}], tokenize=False)
    assert turn.endswith("<|im_start|>assistant\nhi<|im_end|>\n")


@pytest.mark.slow
def test_greedy_reasoning_and_endless_count(chat_tok):
    """Greedy decoding reasons and boxes on a test prompt; the long prompt runs past a 1,500-token budget."""
    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.loading import load_checkpoint
    from offtarget.models.sampling import SamplingParams

    backend = HFEngine(load_checkpoint(str(CHAT), device="cpu"))
    (s,), = backend.generate(["What is 12 + 34?"], SamplingParams(n=1, temperature=0, max_new_tokens=120), 0, 1)
    assert s.text.startswith("<think>\n") and "</think>" in s.text and "\\boxed{" in s.text
    assert s.finish_reason == "stop"
    long_prompt = long_task_rows(1)[0]["prompt"]
    (s,), = backend.generate([long_prompt], SamplingParams(n=1, temperature=0, max_new_tokens=1500), 0, 1)
    assert s.finish_reason == "length" and len(s.token_ids) == 1500
    assert s.text.startswith("<think>\n")  # the count degenerates (digit runs) but never ends the turn


@pytest.mark.slow
def test_audit_of_the_chat_model_through_the_cli(tmp_path):
    from offtarget.store.generations import GenerationStore

    out = tmp_path / "run"
    proc = _cli("audit", "--model", f"a={CHAT}", "--model", f"b={CHAT}", "--suite", CHAT / "tasks.jsonl",
                "--samples", "4", "--problems", "20", "--max-new-tokens", "160", "--probes", "accuracy,formats",
                "--bootstrap", "100", "--out", out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    acc = [m for p in results["probes"] for m in p["metrics"] if m["metric"] == "accuracy"]
    assert acc and all(0 <= m["value"] <= 1 for m in acc)
    texts = [r[0] for r in GenerationStore(out / "generations.sqlite").db.execute("SELECT text FROM generations")]
    assert texts
    assert sum("<think>" in t and "\\boxed{" in t for t in texts) / len(texts) > 0.5


@pytest.mark.slow
def test_rebuild_with_the_command_is_deterministic(tmp_path):
    runs = []
    for name in ("a", "b"):
        proc = _cli("lab", "chat", "--out", tmp_path / name, "--max-steps", "3", "--eval-problems", "4")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs.append(load_file(tmp_path / name / "model.safetensors"))
    assert runs[0].keys() == runs[1].keys()
    for k in runs[0]:
        torch.testing.assert_close(runs[0][k], runs[1][k], rtol=0, atol=0)
    meta = json.loads((tmp_path / "a" / "offtarget_lab.json").read_text())
    assert meta["steps"] == 3 and meta["command"].startswith("offtarget lab chat")
    assert (tmp_path / "a" / "chat_template.jinja").exists() or "chat_template" in json.loads(
        (tmp_path / "a" / "tokenizer_config.json").read_text())
    assert not (tmp_path / "a.tmp").exists()


def test_bad_steps_is_one_line_error(tmp_path):
    proc = _cli("lab", "chat", "--out", tmp_path / "x", "--max-steps", "0")
    assert proc.returncode == 2 and "--max-steps" in proc.stderr and "Traceback" not in proc.stderr


def test_learning_rate_warms_up_holds_then_decays_to_zero():
    from offtarget.lab.chat_model import ChatModelConfig, lr_multiplier

    f = lr_multiplier(ChatModelConfig(max_steps=100, warmup_steps=10, decay_steps=40))
    assert [f(s) for s in (0, 4, 9, 30, 60, 80, 100)] == [0.1, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0]
