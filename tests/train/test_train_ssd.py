"""`offtarget train ssd` and `train filter-refinements` end to end on the lab's toy checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from offtarget.cli import app
from offtarget.errors import OfftargetError

ROOT = Path(__file__).resolve().parents[2]
SFT = ROOT / "models" / "lab" / "sft"
QUIET = ["--device", "cpu", "--no-progress", "--save-steps", "0", "--logging-steps", "1"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("cls_name", ["SSDRunConfig", "RefinementFilterConfig"])
def test_every_field_has_a_docstring(cls_name):
    from dataclasses import fields

    from offtarget.train.config import field_docs
    from offtarget.train.refinement_filter import RefinementFilterConfig
    from offtarget.train.ssd import SSDRunConfig

    cls = {"SSDRunConfig": SSDRunConfig, "RefinementFilterConfig": RefinementFilterConfig}[cls_name]
    docs = field_docs(cls)
    assert [f.name for f in fields(cls) if not docs.get(f.name)] == []


def test_ssd_config_yaml_flags_and_errors(tmp_path):
    from offtarget.train.config import load_config
    from offtarget.train.ssd import SSDRunConfig

    yml = tmp_path / "ssd.yaml"
    yml.write_text("keep: majority\nsamples: 8\n")
    cfg = load_config(SSDRunConfig, yml, {"model": str(SFT), "samples": 2})
    assert (cfg.keep, cfg.samples, cfg.steps) == ("majority", 2, 300)  # flag > YAML > default
    cfg.validate()
    assert cfg.learning_rate == 1e-3  # the toy's SFT rate, as train sft sets it
    for bad, match in [({"keep": "best"}, "--keep"), ({"formats": ["steps"]}, "--formats"),
                       ({"temperature": 0.0}, "greedy"), ({"samples": 0}, "--samples")]:
        with pytest.raises(OfftargetError, match=match):
            load_config(SSDRunConfig, None, {"model": str(SFT), **bad}).validate()
    res = invoke("train", "ssd", "--help")
    assert res.exit_code == 0 and "--keep" in res.output and "--data" not in res.output


def test_filter_config_errors(tmp_path):
    from offtarget.train.config import load_config
    from offtarget.train.refinement_filter import RefinementFilterConfig

    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "1+1=", "completion": "d 2"}\n')
    for bad, match in [({}, "--student"), ({"student": str(SFT), "data": str(tmp_path / "no.jsonl")}, "--data"),
                       ({"student": str(SFT), "data": str(data), "low_quantile": 1.5}, "--low-quantile")]:
        with pytest.raises(OfftargetError, match=match):
            load_config(RefinementFilterConfig, None, bad).validate()


def test_ssd_keeps_exactly_what_the_verifier_accepts_and_trains(tmp_path):
    from offtarget.models.loading import fingerprint
    from offtarget.store import GenerationStore
    from offtarget.tasks import ArithmeticTask
    from offtarget.train.data import training_problems

    out = tmp_path / "ssd"
    res = invoke("train", "ssd", "--model", str(SFT), "--out", str(out), "--problems", "6", "--samples", "4",
                 "--steps", "2", "--batch-size", "4", *QUIET)
    assert res.exit_code == 0, res.output
    task = ArithmeticTask()
    problems = {p.id: p for p in training_problems(task, 6, 0)}
    rows = jsonl(out / "ssd_data.jsonl")
    stats = json.loads((out / "ssd_stats.json").read_text())
    # every kept row is one the task's verifier accepts ...
    assert rows and all(task.verify(problems[r["problem_id"]], r["completion"]).correct for r in rows)
    # ... and every accepted, untruncated sample in the store was kept
    store = GenerationStore(out / "generations.sqlite")
    got = store.get(fingerprint(SFT), stats["sampling"]["key"], [p.store_key for p in problems.values()], 4)
    store.close()
    accepted = [(p.id, s.text) for p in problems.values() for s in got[p.store_key]
                if s.finish_reason == "stop" and task.verify(p, s.text).correct]
    assert sorted((r["problem_id"], r["completion"]) for r in rows) == sorted(accepted)
    covered = {r["problem_id"] for r in rows}
    assert (stats["problems"], stats["samples"], stats["kept"]) == (6, 24, len(rows))
    assert stats["kept_share"] == pytest.approx(len(rows) / 24) and stats["coverage"] == pytest.approx(len(covered) / 6)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["train_rows"] == len(rows) and summary["ssd"]["kept"] == len(rows)
    assert (out / "final" / "model.safetensors").is_file()

    # --resume reuses the kept data (no new samples) and trains on to the new --steps
    res = invoke("train", "ssd", "--out", str(out), "--resume", "--steps", "3")
    assert res.exit_code == 0, res.output
    assert jsonl(out / "ssd_data.jsonl") == rows
    assert json.loads((out / "summary.json").read_text())["steps"] == 3


def test_ssd_with_nothing_kept_stops_before_training(tmp_path):
    out = tmp_path / "none"
    # one token per sample: every sample is cut at --max-new-tokens, so nothing survives
    res = invoke("train", "ssd", "--model", str(SFT), "--out", str(out), "--problems", "3", "--samples", "2",
                 "--max-new-tokens", "1", "--steps", "1", *QUIET)
    assert isinstance(res.exception, OfftargetError), res.output
    assert "nothing kept: 0 of 6 samples" in str(res.exception)
    assert json.loads((out / "ssd_stats.json").read_text())["truncated"] == 6
    assert not (out / "final").exists() and not (out / "ssd_data.jsonl").exists()


def reference_mean_logprob(prompt: str, completion: str) -> float:
    """log p(completion + EOS | prompt) per token, straight from one forward pass of the model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(SFT)
    model = AutoModelForCausalLM.from_pretrained(SFT).eval()
    assert not getattr(tok, "chat_template", None)  # the sampler feeds the raw prompt to this model
    p = tok(prompt)["input_ids"]
    c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logits = model(torch.tensor([p + c])).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    return float(sum(logp[len(p) - 1 + t, c[t]] for t in range(len(c))) / len(c))


def test_filter_refinements_band_decision_by_reference(tmp_path):
    data = tmp_path / "refined.jsonl"
    rows = [{"prompt": "27+58=", "completion": "d 85<c>9", "id": "plain"},
            {"prompt": "33+41=", "completion": "s 04 07 = 74<c>9", "id": "steps"},
            {"prompt": "27+58=", "completion": "r 0000000000", "id": "odd"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    want = reference_mean_logprob(rows[1]["prompt"], rows[1]["completion"])

    def run(out, *flags):
        res = invoke("train", "filter-refinements", "--student", str(SFT), "--data", str(data), "--out", str(out),
                     "--device", "cpu", *flags)
        assert res.exit_code == 0, res.output
        return (jsonl(out / "kept.jsonl"), jsonl(out / "dropped.jsonl"), json.loads((out / "filter_stats.json").read_text()))

    kept, dropped, stats = run(tmp_path / "a", "--min-logprob", str(want - 1e-4))
    got = {r["id"]: r["student_logprob"] for r in kept + dropped}
    assert got["steps"] == pytest.approx(want, abs=1e-5)
    assert "steps" in [r["id"] for r in kept]
    assert all(r["student_logprob"] >= want - 1e-4 for r in kept)
    assert all(r["reason"] == "too_unlikely" and r["student_logprob"] < want - 1e-4 for r in dropped)
    assert stats["band"] == {"low": want - 1e-4, "high": None, "source": "absolute", "low_quantile": None,
                             "high_quantile": None}
    assert stats["counts"]["total"] == 3 and stats["counts"]["kept"] == len(kept)

    kept, dropped, _ = run(tmp_path / "b", "--min-logprob", str(want + 1e-4))
    assert "steps" in [r["id"] for r in dropped] and "steps" not in [r["id"] for r in kept]

    # default band: the 10 % quantile of the student's own samples on these prompts
    kept, dropped, stats = run(tmp_path / "c", "--reference-samples", "4", "--max-new-tokens", "24")
    low = stats["band"]["low"]
    assert stats["band"]["source"] == "student-quantiles" and stats["band"]["low_quantile"] == 0.1
    assert stats["reference_logprobs"]["n"] == 8
    assert stats["reference_logprobs"]["min"] <= low <= stats["reference_logprobs"]["quantiles"]["0.25"]
    assert all(r["student_logprob"] >= low for r in kept) and all(r["student_logprob"] < low for r in dropped)
    assert "odd" in [r["id"] for r in dropped]  # ten zeros in reversed form: far outside what the student writes


def test_ssd_on_a_chat_model_trains_through_its_template(tmp_path):
    """Samples drawn through the chat template are trained through it: TRL's prompt tokens = the sampler's."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from offtarget.models.loading import load_checkpoint
    from offtarget.models.scoring import encode_prompt
    from offtarget.train.ssd import training_rows

    chat = ROOT / "models" / "lab" / "chat"
    train = tmp_path / "train.jsonl"
    train.write_text("".join((chat / "tasks.jsonl").read_text().splitlines(keepends=True)[:4]))
    out = tmp_path / "ssd"
    res = invoke("train", "ssd", "--model", str(chat), "--task", str(chat / "tasks.jsonl"), "--train-file", str(train),
                 "--out", str(out), "--samples", "2", "--max-new-tokens", "24", "--keep", "all", "--keep-truncated",
                 "--steps", "1",
                 "--batch-size", "4", *QUIET)
    assert res.exit_code == 0, res.output
    assert (out / "final" / "model.safetensors").is_file()
    row = {k: jsonl(out / "ssd_data.jsonl")[0][k] for k in ("prompt", "completion")}
    ckpt = load_checkpoint(str(chat), device="cpu")
    trainer = SFTTrainer(model=ckpt.model, processing_class=ckpt.tokenizer,
                         args=SFTConfig(output_dir=str(tmp_path / "t"), use_cpu=True, report_to=[]),
                         train_dataset=Dataset.from_list(training_rows([row], ckpt.tokenizer, True)))
    item = trainer.train_dataset[0]
    prompt_len = next(i for i, label in enumerate(item["labels"]) if label != -100)  # completion-only loss
    assert item["input_ids"][:prompt_len] == encode_prompt(ckpt.tokenizer, row["prompt"], True)
    completion = ckpt.tokenizer.decode(item["input_ids"][prompt_len:])
    assert completion.startswith(row["completion"]) and "<|im_end|>" in completion
