"""Likelihood confidence on the real lab SFT model: the answer-span probability read from stored
samples equals a teacher-forced forward pass on the same tokens (this also checks the sampling
engine's recorded log-probs and the store's float32 round trip)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from offtarget.audit.evidence import Evidence
from offtarget.models.hf_engine import HFEngine
from offtarget.models.loading import load_checkpoint
from offtarget.models.sampling import SamplingParams, render_prompt
from offtarget.probes import calibration
from offtarget.store import GenerationStore
from offtarget.tasks import ArithmeticTask


@pytest.mark.slow
def test_stored_answer_span_probability_matches_teacher_forcing(kit, tmp_path):
    torch.set_num_threads(1)
    task = ArithmeticTask()
    problems = task.problems("test", 12, seed=3)
    ckpt = load_checkpoint(kit.TOKENIZER_DIR, "sft", device="cpu")
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=24)
    out = HFEngine(ckpt).generate([p.prompt for p in problems], params, seed=0, n=4)
    store = GenerationStore(tmp_path / "g.sqlite")
    store.put(ckpt.fingerprint, params.key(), [(p.id, j, s) for p, row in zip(problems, out) for j, s in enumerate(row)])
    got = store.get(ckpt.fingerprint, params.key(), [p.id for p in problems], 4)
    store.close()
    samples = [got[p.id] for p in problems]
    verdicts = [[task.verify(p, s.text) for s in row] for p, row in zip(problems, samples)]
    ev = Evidence("sft", kit.TOKENIZER_DIR, ckpt.fingerprint, problems, samples, verdicts)
    q = calibration.likelihood_confidence(ev, task, calibration.load_tokenizer(kit.TOKENIZER_DIR))

    tok, model = ckpt.tokenizer, ckpt.model
    checked = 0
    for i, (p, row) in enumerate(zip(problems, samples)):
        text, add_special = render_prompt(tok, p.prompt, params.chat_template)
        prompt_ids = tok(text, add_special_tokens=add_special).input_ids
        for j, s in enumerate(row):
            ids = torch.tensor([prompt_ids + list(s.token_ids)])
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
            forced = logp[len(prompt_ids) - 1:].gather(1, ids[0, len(prompt_ids):, None])[:, 0].numpy()
            np.testing.assert_allclose(np.asarray(s.logprobs), forced, atol=1e-4)
            span = calibration.answer_span(task, p, s.text, verdicts[i][j])
            if span is None or verdicts[i][j].abstained:
                assert np.isnan(q[i, j])
                continue
            a, b = calibration.token_span(tok, list(s.token_ids), s.text, span)
            assert q[i, j] == pytest.approx(math.exp(float(forced[a:b].sum())), abs=1e-4)
            checked += 1
    assert checked >= 10, "too few answered samples to check"
