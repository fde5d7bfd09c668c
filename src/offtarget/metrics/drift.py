"""Drift from the reference: forward KL on the reference's samples (RL's Razor, Shenfeld et al. 2025,
arXiv 2509.04259) and what the update touched (Mukherjee et al. 2025, arXiv 2505.11711).

KL metrics are means of per-problem values; the weight metrics are single numbers per
checkpoint (no resampling), computed by :mod:`offtarget.probes.weights`.
"""

from __future__ import annotations

from offtarget.metrics.definition import SHARE, define

RAZOR = "RL's Razor, Shenfeld et al. 2025 (arXiv 2509.04259)"
SPARSE = "Mukherjee et al. 2025 (arXiv 2505.11711)"

define("kl_per_token", "forward KL D(π_ref‖π) per token on reference samples, per problem then averaged",
       "descriptive", "descriptive", "nats ≥ 0", "kl", RAZOR)
define("kl_sequence", "forward KL D(π_ref‖π) summed over a reference sample", "descriptive", "descriptive",
       "nats ≥ 0", "kl", RAZOR)
define("update_sparsity_bf16", "fraction of parameters whose bf16 values are exactly unchanged",
       "descriptive", "descriptive", SHARE, "weights", SPARSE)
define("update_sparsity_isclose", "fraction of parameters with |Δ| ≤ 1e-5", "descriptive", "descriptive",
       SHARE, "weights", SPARSE)
define("relative_change", "‖ΔW‖_F / ‖W_ref‖_F over all parameters", "descriptive", "descriptive", "ratio ≥ 0",
       "weights", SPARSE)
define("mean_rank_ratio", "mean rank(ΔW)/min(shape) over 2-D updates", "descriptive", "descriptive", SHARE,
       "weights", SPARSE)
define("mean_effective_rank", "mean effective rank of ΔW", "descriptive", "descriptive", "rank ≥ 0", "weights",
       "Roy & Vetterli 2007")
define("mean_stable_rank", "mean stable rank ‖ΔW‖_F²/‖ΔW‖_2²", "descriptive", "descriptive", "rank ≥ 0",
       "weights", "stable rank")
