"""Two-phase entropy: the stated token classifier and the planning/execution entropy means, by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from offtarget.errors import OfftargetError
from offtarget.probes import two_phase_entropy as tpe


def _with_entropies(ev, per_sample):
    """Replace each sample's per-token entropies by ``per_sample(text, n_tokens)``."""
    samples = [[dataclasses.replace(s, entropies=per_sample(s.text, len(s.token_ids))) for s in row]
               for row in ev.samples]
    return dataclasses.replace(ev, samples=samples, arrays={})


def _entropies(plan: float, execute: float):
    def f(text, n):
        # char tokenizer: one token per character, then <eos> (entropy 9, never counted)
        return [plan if c in "so" else execute if c in "0123456789+=" else 9.0 for c in text] + [9.0] * (n - len(text))
    return f


@pytest.fixture(scope="module")
def result(kit):
    problems = [kit.answerable(12, 3 + i) for i in range(5)]
    texts = [[f"so 12+{3 + i}={15 + i}", f"d {15 + i}"] for i in range(5)]
    rl = _with_entropies(kit.evidence("rl", problems, texts), _entropies(2.0, 0.5))
    base = _with_entropies(kit.evidence("base", problems, texts), _entropies(1.0, 0.25))
    return tpe.run(kit.context(base, rl))


def test_classifier_is_the_stated_rule():
    planning = tpe.load_patterns()
    got = tpe.classify(["Wait", ",", " let", " me", " check", ":", " 7", "×", "6", " is", " 42"], planning)
    assert got.tolist() == [1, 0, 1, 1, 1, 0, 2, 2, 2, 0, 2]
    # a digit makes a token execution even inside a planning phrase; "so" inside "also" is not a phrase
    assert tpe.classify(["so", " 1", " also"], planning).tolist() == [1, 2, 0]


def test_phase_means_by_hand():
    plan, execute, share = tpe.phase_means([2.0, 1.0, 0.3, 0.5, 9.0], [1, 1, 0, 2, 0])
    assert (plan, execute, share) == (1.5, 0.5, 0.4)
    assert np.isnan(tpe.phase_means([0.5], [2])[0])


def test_entropy_by_phase(kit, result):
    # sample 1 "so 12+3=15": 2 planning tokens (s, o), 7 execution, 11 tokens with <eos>; sample 2 "d 15":
    # 2 execution tokens, no planning (left out of the planning mean), share 0
    assert kit.value(result, "planning_token_entropy", "test", "rl") == pytest.approx(2.0)
    assert kit.value(result, "execution_token_entropy", "test", "rl") == pytest.approx(0.5)
    assert kit.value(result, "planning_token_entropy", "test", "base") == pytest.approx(1.0)
    assert kit.value(result, "planning_token_share", "test", "rl") == pytest.approx((2 / 11 + 0) / 2)
    c = next(c for c in result.comparisons if c.metric == "planning_token_entropy" and c.group == "test")
    assert c.diff == pytest.approx(1.0) and c.higher_is_better is None


def test_own_patterns_file(tmp_path, kit):
    f = tmp_path / "p.txt"
    f.write_text("# only 'add'\n\\badd\\b\n")
    assert tpe.classify(["so", " add"], tpe.load_patterns(str(f))).tolist() == [0, 1]
    bad = tmp_path / "bad.txt"
    bad.write_text("(unclosed\n")
    with pytest.raises(OfftargetError, match="bad.txt:1: not a regular expression"):
        tpe.load_patterns(str(bad))


def test_token_pieces_match_one_by_one_decoding_and_decode_each_id_once(kit):
    from offtarget.probes.calibration import load_tokenizer

    tok = load_tokenizer(kit.TOKENIZER_DIR)
    ids = tok("so 12+3=15, wait: 15")["input_ids"]
    expected = [tok.decode([t]) for t in ids]
    calls = []

    class Counting:  # the real tokenizer, its batch_decode calls counted
        def batch_decode(self, rows):
            calls.append(len(rows))
            return tok.batch_decode(rows)

    counting = Counting()
    assert tpe.token_pieces(counting, ids) == expected
    assert tpe.token_pieces(counting, ids[::-1]) == expected[::-1]
    assert calls == [len(set(ids))]  # each id once; the second call decoded nothing
