"""What the update touched: element-level sparsity, relative change and the rank of ΔW.

For each tuned checkpoint against the reference, tensor by tensor from the safetensors
files (``safe_open``, one tensor pair in memory at a time, so two 7B checkpoints never
need to be loaded; no forward passes):

- **update sparsity** (Mukherjee et al. 2025, "Reinforcement Learning Finetunes Small
  Subnetworks in Large Language Models", arXiv 2505.11711): the fraction of parameters
  left unchanged, counted per element, two ways. ``update_sparsity_bf16``: both values cast
  to bfloat16 compare exactly equal (the paper's view: most checkpoints are stored in
  bf16). ``update_sparsity_isclose``: ``torch.isclose(tuned, ref, rtol=0, atol=1e-5)`` in
  float32. They differ: a 1e-4 change of a weight near 1 vanishes in bf16 but not under
  ``isclose``; a 1e-6 change across a bf16 rounding boundary is the reverse.
- **relative change** ‖ΔW‖_F / ‖W_ref‖_F per tensor, and over all parameters at once.
- **update rank ratio** rank(ΔW) / min(shape) for every 2-D tensor. Numerical rank with
  the tolerance of ``torch.linalg.matrix_rank``'s default: singular values above
  σ_max · max(m, n) · eps(float32). Rounding noise of bf16-stored checkpoints is above that
  tolerance, which is one reason RL updates come out nearly full rank in the paper.
- **spectrum of ΔW**: effective rank exp(H(σ / ‖σ‖₁)) (Roy & Vetterli 2007, "The effective
  rank: a measure of effective dimensionality") and stable rank ‖ΔW‖_F² / ‖ΔW‖₂².

Cost: one SVD per matrix that gets one, chosen by :mod:`offtarget.probes.svd_plan`: all with at
most ``svd_max_elements`` entries (a 4096 × 4096 projection) and ``svd_sample_large`` larger ones
drawn at random, at most ``svd_max_matrices`` (64) in all, stratified by module kind and layer.
The rest have null rank fields; summary ranks average over those with an SVD. A zero update has
rank 0 without one. SmolLM2-135M against a merged rank-4 LoRA, 2 threads: 8.5–9.7 s per
checkpoint with an SVD of all 210 projections and the unchanged 49,152 × 576 embedding, 3.3–4.4 s
with the cap (63 projections, every layer), 2.1 s of it reading and counting; mean rank ratio
0.01086 → 0.01074, mean effective rank 3.738 → 3.720. One CPU core takes about 10 s for a
4096 × 4096 ``svdvals`` and 45 s for 4096 × 11008, so a 7B Llama's 60 sampled attention and 4 MLP
matrices take about 13 core-minutes; a GPU, seconds. The numbers are exact (no sampling of
problems), so there are no intervals and no comparisons.

Tied embeddings: a checkpoint that stores no ``lm_head.weight`` uses its input embedding,
so an untied checkpoint's ``lm_head.weight`` is compared with the tied one's embedding.
Sharded checkpoints are read through ``model.safetensors.index.json``.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes weights
    >>> changes = compare_checkpoints("models/lab/base", "models/lab/sft", "base", "sft")
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from offtarget.errors import OfftargetError
from offtarget.models.loading import resolve_device
from offtarget.probes.base import MetricRow, ProbeResult
from offtarget.probes.registry import register_probe
from offtarget.probes.svd_plan import layer_of, natural_key, svd_plan

EXACT = "exact, no sampling"
GROUP = "weights"
"""The group name of every weights metric: it describes the checkpoint, not a problem split."""


@dataclass(frozen=True)
class WeightsConfig:
    """How the weights probe compares checkpoints."""

    atol: float = 1e-5
    """Absolute tolerance of ``update_sparsity_isclose`` (rtol = 0), as in arXiv 2505.11711."""
    svd_max_elements: int = 1 << 24
    """2-D updates up to this many entries get an SVD (rank, effective and stable rank), up to the cap."""
    svd_sample_large: int = 4
    """How many larger 2-D updates, drawn at random, still get an SVD; the rest get none."""
    svd_max_matrices: int = 64
    """At most this many matrices get an SVD (the larger ones drawn count), stratified by module kind
    and layer: 9 or more per kind of a 7-kind block, every layer of a model up to 60 deep, about a
    third of the SVD time for SmolLM2-135M (210 projections), under half for a 7B Llama (128)."""
    seed: int = 0
    """Seed of both draws."""

    def __post_init__(self):
        for field in ("svd_max_elements", "svd_sample_large", "svd_max_matrices"):
            if not isinstance(getattr(self, field), int) or getattr(self, field) < 0:
                raise OfftargetError(f"weights: {field} must be a whole number ≥ 0, got {getattr(self, field)!r}")


# ---------------------------------------------------------------------------------------------
# Reading tensors from safetensors files


_EMBED_SUFFIXES = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight", "embed_in.weight")


def tensor_files(path: str | Path) -> dict[str, Path]:
    """Tensor name → safetensors file, for a single-file or sharded checkpoint."""
    root = Path(path)
    index = root / "model.safetensors.index.json"
    if index.exists():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (OSError, ValueError, KeyError) as exc:
            raise OfftargetError(f"{index}: unreadable safetensors index ({exc}); re-save with save_pretrained")
        return {name: root / f for name, f in weight_map.items()}
    files = sorted(root.glob("*.safetensors"))
    if not files:
        raise OfftargetError(
            f"checkpoint {str(path)!r} has no *.safetensors files: the weights probe reads safetensors; "
            "re-save it with save_pretrained(safe_serialization=True)"
        )
    out: dict[str, Path] = {}
    for f in files:
        with safe_open(f, "pt") as fh:
            out.update(dict.fromkeys(fh.keys(), f))
    return out


def _shapes(files: dict[str, Path]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    by_file: dict[Path, list[str]] = {}
    for name, f in files.items():
        by_file.setdefault(f, []).append(name)
    for f, names in by_file.items():
        if not f.exists():
            raise OfftargetError(f"{f}: listed in the safetensors index but missing; the checkpoint is incomplete")
        with safe_open(f, "pt") as fh:
            for n in names:
                out[n] = tuple(fh.get_slice(n).get_shape())
    return out


def _alias_tied(names: dict[str, Path], other: dict[str, Path]) -> dict[str, str]:
    """Tensor name → stored key; a missing ``lm_head.weight`` reads the input embedding (tied)."""
    keys = {n: n for n in names}
    for n in other:
        if n.endswith("lm_head.weight") and n not in names:
            embed = next((k for k in names if k.endswith(_EMBED_SUFFIXES)), None)
            if embed is not None:
                keys[n] = embed
    return keys


@dataclass(frozen=True)
class TensorPair:
    name: str
    ref_file: Path
    ref_key: str
    tuned_file: Path
    tuned_key: str
    shape: tuple[int, ...]


def pair_tensors(ref_path: str, tuned_path: str, ref_name: str, tuned_name: str) -> list[TensorPair]:
    """Every tensor of both checkpoints, matched by name and shape; a clear error on the first mismatch."""
    ref_files, tuned_files = tensor_files(ref_path), tensor_files(tuned_path)
    ref_keys, tuned_keys = _alias_tied(ref_files, tuned_files), _alias_tied(tuned_files, ref_files)
    ref_shapes, tuned_shapes = _shapes(ref_files), _shapes(tuned_files)
    where = f"weights: checkpoints {ref_name!r} and {tuned_name!r} have different architectures"
    only_ref = sorted(set(ref_keys) - set(tuned_keys))
    only_tuned = sorted(set(tuned_keys) - set(ref_keys))
    if only_ref or only_tuned:
        first, owner = (only_ref[0], ref_name) if only_ref else (only_tuned[0], tuned_name)
        raise OfftargetError(
            f"{where}: tensor {first!r} is only in {owner!r} ({len(only_ref) + len(only_tuned)} names differ); "
            "compare fine-tunes of one base model"
        )
    pairs = []
    for name in sorted(ref_keys, key=natural_key):
        rk, tk = ref_keys[name], tuned_keys[name]
        a, b = ref_shapes[rk], tuned_shapes[tk]
        if a != b:
            raise OfftargetError(
                f"{where}: tensor {name!r} has shape {list(a)} in {ref_name!r} and {list(b)} in {tuned_name!r}"
            )
        pairs.append(TensorPair(name, ref_files[rk], rk, tuned_files[tk], tk, a))
    return pairs


# ---------------------------------------------------------------------------------------------
# One tensor


@dataclass
class TensorChange:
    """How one tensor moved; rank fields are ``None`` for 1-D tensors and matrices without an SVD."""

    tensor: str
    layer: int | None
    shape: list[int]
    numel: int
    equal_bf16: int
    """Elements whose bf16 values are exactly equal."""
    close: int
    """Elements with |Δ| ≤ atol."""
    delta_sq: float
    """‖ΔW‖_F²."""
    ref_sq: float
    """‖W_ref‖_F²."""
    rank: int | None = None
    effective_rank: float | None = None
    stable_rank: float | None = None

    @property
    def relative_change(self) -> float | None:
        return math.sqrt(self.delta_sq / self.ref_sq) if self.ref_sq > 0 else None

    @property
    def rank_ratio(self) -> float | None:
        return None if self.rank is None else self.rank / min(self.shape)

    def plot_row(self) -> dict:
        return {
            "tensor": self.tensor, "layer": self.layer, "shape": self.shape, "numel": self.numel,
            "relative_change": self.relative_change, "sparsity_bf16": self.equal_bf16 / self.numel,
            "sparsity_isclose": self.close / self.numel, "rank_ratio": self.rank_ratio,
            "effective_rank": self.effective_rank, "stable_rank": self.stable_rank,
        }


def spectrum(delta: torch.Tensor) -> tuple[int, float | None, float | None]:
    """(numerical rank, effective rank, stable rank) of a 2-D update from one SVD.

    Rank uses ``torch.linalg.matrix_rank``'s default tolerance σ_max · max(m, n) · eps(float32).
    A zero update has rank 0 and undefined effective and stable rank.
    """
    if not bool(delta.any()):  # exactly unchanged: rank 0, no SVD to pay for
        return 0, None, None
    s = torch.linalg.svdvals(delta.float()).double()
    if s.numel() == 0 or s[0] <= 0:
        return 0, None, None
    tol = s[0] * max(delta.shape) * torch.finfo(torch.float32).eps
    rank = int((s > tol).sum())
    p = s / s.sum()
    p = p[p > 0]
    effective = float(torch.exp(-(p * p.log()).sum()))
    stable = float((s**2).sum() / s[0] ** 2)
    return rank, effective, stable


def compare_tensor(name: str, ref: torch.Tensor, tuned: torch.Tensor, atol: float, svd: bool) -> TensorChange:
    """Element counts and norms of tuned − ref, and the spectrum of the update when ``svd``."""
    a, b = ref.float(), tuned.float()
    if ref.dtype == tuned.dtype and torch.equal(ref, tuned):  # untouched (most tensors under LoRA): nothing to count
        norm = float(torch.linalg.vector_norm(a, dtype=torch.float64)) ** 2
        return TensorChange(name, layer_of(name), list(ref.shape), ref.numel(), ref.numel(), ref.numel(), 0.0, norm,
                            **({"rank": 0} if svd and ref.ndim == 2 else {}))
    equal_bf16 = int((ref.to(torch.bfloat16) == tuned.to(torch.bfloat16)).sum())
    delta = b - a
    # torch.isclose(b, a, rtol=0, atol) from the difference already made: |Δ| ≤ atol, or equal (infinities)
    close = int(((delta.abs() <= atol) | (a == b)).sum())
    change = TensorChange(
        name, layer_of(name), list(ref.shape), ref.numel(), equal_bf16, close,
        float(torch.linalg.vector_norm(delta, dtype=torch.float64)) ** 2,
        float(torch.linalg.vector_norm(a, dtype=torch.float64)) ** 2,
    )
    if svd and ref.ndim == 2:
        change.rank, change.effective_rank, change.stable_rank = spectrum(delta)
    return change


# ---------------------------------------------------------------------------------------------
# One checkpoint pair


def compare_checkpoints(
    ref_path: str, tuned_path: str, ref_name: str = "reference", tuned_name: str = "tuned",
    cfg: WeightsConfig = WeightsConfig(), device: str | None = "auto",
) -> tuple[list[TensorChange], dict]:
    """Every tensor's change, reading one tensor pair at a time; plus counts of what got an SVD."""
    pairs = pair_tensors(ref_path, tuned_path, ref_name, tuned_name)
    plan = svd_plan({p.name: p.shape for p in pairs}, cfg.svd_max_elements, cfg.svd_sample_large,
                    cfg.svd_max_matrices, cfg.seed)
    dev = resolve_device(device)
    changes, skipped, dtypes = [], [], set()
    for p in pairs:
        with safe_open(p.ref_file, "pt", device="cpu") as fa, safe_open(p.tuned_file, "pt", device="cpu") as fb:
            a, b = fa.get_tensor(p.ref_key), fb.get_tensor(p.tuned_key)
        if not (a.is_floating_point() and b.is_floating_point()):
            skipped.append(p.name)
            continue
        if a.dtype != b.dtype:
            dtypes.add(f"{a.dtype} vs {b.dtype}".replace("torch.", ""))
        changes.append(compare_tensor(p.name, a.to(dev), b.to(dev), cfg.atol, p.name in plan.names))
        del a, b
    info = {
        "tensors": len(changes), "skipped_non_float": skipped,
        "matrices": sum(len(p.shape) == 2 for p in pairs), "matrices_svd": len(plan.names),
        "matrices_within_limit": plan.within_limit, "matrices_within_limit_sampled": plan.within_limit_sampled,
        "matrices_over_limit": plan.over_limit, "matrices_over_limit_sampled": plan.over_limit_sampled,
        "dtype_mismatch": sorted(dtypes),
        "tied_lm_head": any(p.ref_key != p.name or p.tuned_key != p.name for p in pairs),
    }
    return changes, info


@dataclass
class UpdateSummary:
    """One tuned checkpoint's update, over all its parameters."""

    parameters: int
    update_sparsity_bf16: float
    update_sparsity_isclose: float
    relative_change: float | None
    mean_rank_ratio: float | None
    """Mean over the matrices that got an SVD."""
    mean_effective_rank: float | None
    mean_stable_rank: float | None
    matrices_svd: int

    @classmethod
    def of(cls, changes: list[TensorChange]) -> UpdateSummary:
        n = sum(c.numel for c in changes)
        ref_sq = sum(c.ref_sq for c in changes)
        svd = [c for c in changes if c.rank is not None]

        def mean(xs):
            xs = [x for x in xs if x is not None]
            return float(np.mean(xs)) if xs else None

        return cls(
            parameters=n,
            update_sparsity_bf16=sum(c.equal_bf16 for c in changes) / n if n else float("nan"),
            update_sparsity_isclose=sum(c.close for c in changes) / n if n else float("nan"),
            relative_change=math.sqrt(sum(c.delta_sq for c in changes) / ref_sq) if ref_sq > 0 else None,
            mean_rank_ratio=mean(c.rank_ratio for c in svd),
            mean_effective_rank=mean(c.effective_rank for c in svd),
            mean_stable_rank=mean(c.stable_rank for c in svd),
            matrices_svd=len(svd),
        )


# ---------------------------------------------------------------------------------------------
# The probe


METRICS = {
    "update_sparsity_bf16": "fraction of parameters whose bf16 values are exactly unchanged (arXiv 2505.11711)",
    "update_sparsity_isclose": "fraction of parameters with |Δ| ≤ 1e-5 (isclose, rtol 0)",
    "relative_change": "‖ΔW‖_F / ‖W_ref‖_F over all parameters",
    "mean_rank_ratio": "mean rank(ΔW)/min(shape) over 2-D updates with an SVD",
    "mean_effective_rank": "mean effective rank of ΔW (Roy & Vetterli 2007) over 2-D updates with an SVD",
    "mean_stable_rank": "mean stable rank ‖ΔW‖_F²/‖ΔW‖_2² over 2-D updates with an SVD",
}
_REFERENCE_VALUES = {"update_sparsity_bf16": 1.0, "update_sparsity_isclose": 1.0, "relative_change": 0.0,
                     "mean_rank_ratio": 0.0}


def _row(metric: str, checkpoint: str, value, n: int, reason: str = EXACT) -> MetricRow:
    v = None if value is None or not math.isfinite(value) else float(value)
    return MetricRow("weights", metric, checkpoint, GROUP, v, None, None, n, None, False,
                     reason if v is not None else f"{reason}; undefined (zero update or no SVD)")


def _svd_note(name: str, info: dict, cfg: WeightsConfig) -> str:
    if info["matrices_svd"] == info["matrices"]:
        return f"{name}: SVD of all {info['matrices']} matrices (rank, effective and stable rank)"
    within, kept = info["matrices_within_limit"], info["matrices_within_limit_sampled"]
    cap = (f", stratified by module kind and layer (cap svd_max_matrices = {cfg.svd_max_matrices})"
           if kept < within else "")
    parts = [f"{kept} of the {within} with ≤ {cfg.svd_max_elements} entries{cap}"] if within else []
    if info["matrices_over_limit"]:
        parts.append(f"{info['matrices_over_limit_sampled']} of the {info['matrices_over_limit']} larger ones, "
                     "drawn at random")
    return (f"{name}: SVD of {info['matrices_svd']} of {info['matrices']} matrices: {' and '.join(parts)} "
            f"(seed {cfg.seed}); the others have null rank fields and summary ranks average over those with one")


@register_probe("weights", needs_models=True)
def run(ctx, cfg: WeightsConfig = WeightsConfig()) -> ProbeResult:
    ref = ctx.reference
    rows: list[MetricRow] = []
    layer_change: dict[str, list[dict]] = {}
    extras: dict[str, dict] = {"config": asdict(cfg), "checkpoints": {}}
    notes: list[str] = []
    # evidence from a log without its checkpoint has no weights: unavailable, with the reason
    path = ctx.checkpoint_path
    evidences = ctx.evidences
    ref_path = path(ref)
    for name in ctx.others:
        ev = evidences.get(name)
        if ev is not None and getattr(ev, "model_path", "") is None:
            notes.append(ev.unavailable())
            continue
        changes, info = compare_checkpoints(ref_path, path(name), ref, name, cfg, ctx.settings.device)
        s = UpdateSummary.of(changes)
        if not rows:
            rows += [_row(m, ref, v, s.parameters, "reference: compared with itself")
                     for m, v in _REFERENCE_VALUES.items()]
        for metric in METRICS:
            n = s.matrices_svd if metric.startswith("mean_") else s.parameters
            rows.append(_row(metric, name, getattr(s, metric), n))
        layer_change[name] = [c.plot_row() for c in changes]
        extras["checkpoints"][name] = {**asdict(s), **info}
        notes.append(_svd_note(name, info, cfg))
        if info["dtype_mismatch"]:
            notes.append(f"{name}: stored dtypes differ ({', '.join(info['dtype_mismatch'])}): isclose counts "
                         "the rounding as change; the bf16 view is the fair one")
        if info["skipped_non_float"]:
            notes.append(f"{name}: {len(info['skipped_non_float'])} non-float tensors skipped")
    return ProbeResult(
        "weights", "what the update touched: element-level sparsity, relative change, rank of ΔW",
        "Mukherjee et al. 2025 (arXiv 2505.11711); Roy & Vetterli 2007 (effective rank)",
        rows, [], plots={"layer_change": layer_change}, extras=extras, notes=notes,
    )
