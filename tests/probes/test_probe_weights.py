"""The weights probe on tiny checkpoints whose update is known element by element."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaForCausalLM

from offtarget.errors import OfftargetError
from offtarget.models.tiny import TinyModelConfig, new_tiny_model
from offtarget.probes.context import AuditContext
from offtarget.probes.settings import ProbeSettings
from offtarget.probes.svd_plan import layer_of, module_kind, svd_plan
from offtarget.probes.weights import (
    WeightsConfig,
    compare_checkpoints,
    compare_tensor,
    pair_tensors,
    run,
    spectrum,
)

SMALL = TinyModelConfig(layers=2, hidden=64, ffn=128, heads=2, max_positions=32)
Q = "model.layers.0.self_attn.q_proj.weight"
O = "model.layers.1.self_attn.o_proj.weight"


def _save(model, tok, path):
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """base, and tuned = base with 10 diagonal entries of one matrix +1e-3 and a rank-1 update of another."""
    root = tmp_path_factory.mktemp("weights")
    model, tok = new_tiny_model(SMALL, seed=0)
    base = _save(model, tok, root / "base")
    g = torch.Generator().manual_seed(1)
    sign = lambda n: torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    u = 0.1 * (1 + torch.rand(64, generator=g)) * sign(64)  # |u_i v_j| >= 0.01: every entry changes
    v = 0.1 * (1 + torch.rand(64, generator=g)) * sign(64)
    sd = model.state_dict()
    with torch.no_grad():
        idx = torch.arange(10)
        sd[Q][idx, idx] += 1e-3
        sd[O] += torch.outer(u, v)
    tuned = _save(model, tok, root / "tuned")
    ref_model, _ = new_tiny_model(SMALL, seed=0)
    return SimpleNamespace(root=root, base=base, tuned=tuned, ref=ref_model.state_dict(), tok=tok,
                           n=sum(p.numel() for p in ref_model.parameters()))


def _by_name(changes):
    return {c.tensor: c for c in changes}


def test_element_counts_relative_change_and_ranks(pair):
    changes, info = compare_checkpoints(pair.base, pair.tuned, "base", "tuned", device="cpu")
    c = _by_name(changes)
    assert "lm_head.weight" not in c  # tied to the embedding: stored once, counted once
    assert sum(x.numel for x in changes) == pair.n
    changed = 10 + 64 * 64
    assert sum(x.equal_bf16 for x in changes) == pair.n - changed
    assert sum(x.close for x in changes) == pair.n - changed
    # relative change of the 10-element update: sqrt(10 · 1e-6) / ‖W_q‖_F
    want = math.sqrt(10 * 1e-6) / pair.ref[Q].double().norm().item()
    assert c[Q].relative_change == pytest.approx(want, rel=1e-4)
    # 10 equal entries on distinct rows and columns: rank 10, all singular values 1e-3
    assert c[Q].rank == 10 and c[Q].rank_ratio == 10 / 64
    assert c[Q].effective_rank == pytest.approx(10, rel=1e-3)
    assert c[Q].stable_rank == pytest.approx(10, rel=1e-3)
    # rank-1 update: rank ratio 1/min(shape), stable and effective rank 1
    assert c[O].rank_ratio == 1 / 64
    assert c[O].stable_rank == pytest.approx(1.0, abs=1e-6)
    assert c[O].effective_rank == pytest.approx(1.0, abs=1e-2)
    untouched = [x for n, x in c.items() if n not in (Q, O)]
    assert all(x.delta_sq == 0 and x.equal_bf16 == x.numel and x.relative_change == 0 for x in untouched)
    assert all(x.rank == 0 and x.effective_rank is None for x in untouched if len(x.shape) == 2)
    assert info["matrices_svd"] == info["matrices"] == 2 * 7 + 1


def test_bf16_equality_and_isclose_disagree_on_crafted_changes():
    ref = torch.tensor([[1.00390575, 1.0, 0.5]], dtype=torch.float32)
    tuned = ref.clone()
    tuned[0, 0] += 1e-6  # crosses the bf16 rounding boundary at 1 + 2**-8: bf16 differs, isclose holds
    tuned[0, 1] += 1e-4  # below a bf16 ulp at 1.0 (2**-7): bf16 equal, |Δ| > 1e-5
    c = compare_tensor("w", ref, tuned, atol=1e-5, svd=False)
    assert (c.equal_bf16, c.close) == (2, 2)
    assert ref[0, :1].bfloat16() != tuned[0, :1].bfloat16()
    assert not torch.isclose(tuned[0, 1], ref[0, 1], rtol=0, atol=1e-5)


def test_spectrum_of_known_matrices():
    assert spectrum(torch.zeros(4, 3)) == (0, None, None)
    r, e, s = spectrum(torch.diag(torch.tensor([3.0, 1.0])))
    p = torch.tensor([0.75, 0.25])
    assert r == 2
    assert e == pytest.approx(math.exp(-(p * p.log()).sum().item()))
    assert s == pytest.approx(10 / 9)


def test_sharded_and_untied_checkpoints(pair, tmp_path):
    # sharded copy of tuned: same numbers as the single file
    model = LlamaForCausalLM.from_pretrained(pair.tuned)
    sharded = tmp_path / "sharded"
    model.save_pretrained(sharded, max_shard_size="100KB")
    assert (sharded / "model.safetensors.index.json").exists()
    a, _ = compare_checkpoints(pair.base, pair.tuned, device="cpu")
    b, _ = compare_checkpoints(pair.base, str(sharded), device="cpu")
    assert [(x.tensor, x.equal_bf16, x.delta_sq, x.rank) for x in a] == [
        (x.tensor, x.equal_bf16, x.delta_sq, x.rank) for x in b]
    # untied copy of base with lm_head = embedding: compared against the tied embedding, unchanged
    cfg = model.config.__class__.from_pretrained(pair.base)
    cfg.tie_word_embeddings = False
    untied = LlamaForCausalLM(cfg)
    untied.load_state_dict(pair.ref, strict=False)
    with torch.no_grad():
        untied.lm_head.weight.copy_(pair.ref["model.embed_tokens.weight"])
    untied.save_pretrained(tmp_path / "untied")
    pairs = {p.name: p for p in pair_tensors(pair.base, str(tmp_path / "untied"), "base", "untied")}
    assert pairs["lm_head.weight"].ref_key == "model.embed_tokens.weight"
    c = _by_name(compare_checkpoints(pair.base, str(tmp_path / "untied"), device="cpu")[0])
    assert c["lm_head.weight"].delta_sq == 0 and c["lm_head.weight"].equal_bf16 == c["lm_head.weight"].numel


@pytest.mark.parametrize("shape,match", [
    (TinyModelConfig(layers=2, hidden=64, ffn=96, heads=2), r"tensor 'model\.layers\.0\.mlp\.down_proj\.weight' has shape"),
    (TinyModelConfig(layers=3, hidden=64, ffn=128, heads=2), r"tensor 'model\.layers\.2\..*' is only in 'other'"),
])
def test_different_architectures_are_a_one_line_error(pair, tmp_path, shape, match):
    model, tok = new_tiny_model(shape, seed=0)
    other = _save(model, tok, tmp_path / "other")
    with pytest.raises(OfftargetError, match=match) as e:
        compare_checkpoints(pair.base, other, "base", "other", device="cpu")
    assert "\n" not in str(e.value) and "'base'" in str(e.value)


def test_probe_result_rows_and_plot(pair):
    ctx = AuditContext(ProbeSettings(device="cpu"), None, {}, "base", {"base": pair.base, "tuned": pair.tuned})
    r = run(ctx, WeightsConfig(svd_max_elements=64 * 64, svd_sample_large=1))
    rows = {(m.metric, m.checkpoint): m for m in r.metrics}
    changed = 10 + 64 * 64
    assert rows["update_sparsity_bf16", "tuned"].value == pytest.approx(1 - changed / pair.n)
    assert rows["update_sparsity_isclose", "tuned"].value == pytest.approx(1 - changed / pair.n)
    assert rows["update_sparsity_bf16", "base"].value == 1.0
    assert all(m.low is None and m.high is None and m.higher_is_better is None for m in r.metrics)
    assert rows["relative_change", "tuned"].reason == "exact, no sampling"
    assert r.comparisons == []
    layer = {x["tensor"]: x for x in r.plots["layer_change"]["tuned"]}
    assert layer[O]["rank_ratio"] == 1 / 64 and layer[O]["layer"] == 1
    assert layer["model.embed_tokens.weight"]["layer"] is None
    # the six 64 x 128 / 128 x 64 MLP matrices are over the 64 x 64 limit: one of them is drawn
    info = r.extras["checkpoints"]["tuned"]
    assert info["matrices_over_limit"] == 6 and info["matrices_over_limit_sampled"] == 1
    assert sum(x["rank_ratio"] is not None for x in layer.values()) == info["matrices_svd"] == 15 - 6 + 1
    assert any("SVD of 10 of 15 matrices" in n for n in r.notes), r.notes
    json.dumps(r.to_dict(), allow_nan=False)


KINDS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
BLOCK = {f"model.layers.{layer}.{kind}.weight": (8, 8) for layer in range(10) for kind in KINDS}


def test_svd_cap_is_stratified_over_kinds_and_layers():
    plan = svd_plan(BLOCK, max_elements=64, sample_large=4, max_matrices=14, seed=0)
    assert (plan.within_limit, plan.within_limit_sampled, plan.over_limit) == (70, 14, 0)
    picked = sorted((module_kind(n), layer_of(n)) for n in plan.names)
    by_kind = {k: sorted(layer for kind, layer in picked if kind == k) for k in {k for k, _ in picked}}
    # 14 seats over 7 kinds: 2 each, and each kind's two layers half the depth (10 / 2) apart
    assert sorted(by_kind) == sorted(f"{k}.weight" for k in KINDS)
    assert all(len(ls) == 2 and ls[1] - ls[0] == 5 for ls in by_kind.values()), by_kind
    # the kinds take different layers: all 10 layers have an SVD for some kind
    assert {layer for _, layer in picked} == set(range(10))


def test_svd_plan_is_deterministic_and_keeps_everything_under_the_cap():
    draw = lambda seed, cap=14: svd_plan(BLOCK, 64, 4, cap, seed).names
    assert draw(0) == draw(0) and draw(3) == draw(3)
    assert len({draw(seed) for seed in range(6)}) > 1  # the seed moves the sample
    assert draw(0, cap=70) == draw(1, cap=70) == set(BLOCK)
    # larger matrices: svd_sample_large of them drawn first, counted against the cap
    shapes = {**BLOCK, "model.embed_tokens.weight": (100, 8), "lm_head.weight": (100, 8)}
    plan = svd_plan(shapes, max_elements=64, sample_large=1, max_matrices=8, seed=0)
    assert (plan.over_limit, plan.over_limit_sampled, plan.within_limit_sampled) == (2, 1, 7)
    assert len(plan.names) == 8 and len({module_kind(n) for n in plan.names}) == 8
    # a kind smaller than its share: all of it, the rest of the seats to the others
    shapes = {**BLOCK, "model.layers.0.extra.weight": (8, 8)}
    names = svd_plan(shapes, 64, 0, 22, 0).names
    assert "model.layers.0.extra.weight" in names and len(names) == 22
    with pytest.raises(OfftargetError, match="svd_max_matrices"):
        WeightsConfig(svd_max_matrices=-1)


def test_zero_update_gets_rank_zero_without_an_svd(monkeypatch):
    def no_svd(*args, **kwargs):
        raise AssertionError("svdvals called on a zero update")

    monkeypatch.setattr(torch.linalg, "svdvals", no_svd)
    w = torch.randn(6, 4)
    c = compare_tensor("w", w, w.clone(), atol=1e-5, svd=True)
    assert (c.rank, c.rank_ratio, c.effective_rank, c.stable_rank) == (0, 0.0, None, None)
    with pytest.raises(AssertionError, match="svdvals called"):
        compare_tensor("w", w, w + 1, atol=1e-5, svd=True)


def test_probe_caps_the_svds_and_says_so(pair):
    ctx = AuditContext(ProbeSettings(device="cpu"), None, {}, "base", {"base": pair.base, "tuned": pair.tuned})
    r = run(ctx, WeightsConfig(svd_max_matrices=7))
    info = r.extras["checkpoints"]["tuned"]
    # 15 matrices, all within the limit: 2 layers × 7 kinds and the embedding, 7 kept by the cap
    assert (info["matrices"], info["matrices_within_limit"], info["matrices_within_limit_sampled"]) == (15, 15, 7)
    assert info["matrices_svd"] == 7 == r.extras["config"]["svd_max_matrices"]
    layer = r.plots["layer_change"]["tuned"]
    assert sum(x["rank_ratio"] is not None for x in layer) == 7
    assert {x["layer"] for x in layer if x["rank_ratio"] is not None} >= {0, 1}
    assert all(x["relative_change"] is not None and x["sparsity_bf16"] is not None for x in layer)
    rows = {(m.metric, m.checkpoint): m for m in r.metrics}
    assert rows["mean_rank_ratio", "tuned"].n == 7
    assert any("SVD of 7 of 15 matrices: 7 of the 15" in n and "svd_max_matrices = 7" in n for n in r.notes), r.notes


def test_counts_equal_torch_isclose_and_bf16_equality_with_infinities_and_nans():
    ref = torch.tensor([1.0, 2.0, float("inf"), float("nan"), -float("inf"), 0.0, 3.0])
    tuned = torch.tensor([1.0 + 5e-6, 2.1, float("inf"), float("nan"), float("inf"), -0.0, 3.0])
    c = compare_tensor("w", ref, tuned, atol=1e-5, svd=False)
    assert c.close == int(torch.isclose(tuned, ref, rtol=0.0, atol=1e-5).sum()) == 4
    assert c.equal_bf16 == int((ref.bfloat16() == tuned.bfloat16()).sum())
    untouched = compare_tensor("w", ref[:3], ref[:3].clone(), atol=1e-5, svd=False)  # exact copy
    assert (untouched.close, untouched.equal_bf16, untouched.delta_sq) == (3, 3, 0.0)
