"""The lab's training variants: each a recipe for one checkpoint, trained once and cached.

Every RL variant starts from the reference SFT model (or the defective SFT model) and runs
TRL's GRPO through :func:`offtarget.train.grpo_run.run_grpo` with one thing changed — the
reward, the prompt pool, RoC — so a comparison against ``sft`` isolates that change. The
plain variants switch offtarget's guards off (difficulty window, dynamic sampling): they
reproduce what a default GRPO run does, which is what the claims are about.

    >>> VARIANTS["grpo-binary"].grpo_config("models/lab/sft", "lab_runs/grpo-binary", steps=300)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def zero_reward(prompts, completions, **kwargs) -> list[float]:
    """A reward that is always zero: nothing to reinforce (the foothold argument of 'Obvious ways RL can fail')."""
    return [0.0] * len(completions)


@dataclass(frozen=True)
class Variant:
    """One checkpoint the lab builds."""

    name: str
    kind: str
    """``grpo`` (RL from ``start``), ``sft`` (SFT from ``start``)."""
    start: str
    """Name of the checkpoint it starts from: ``base``, ``sft``, or another variant."""
    description: str
    rewards: tuple[str, ...] = ("correctness",)
    pool: str = "train"
    """Training prompts: ``train`` (in distribution), ``hard`` (shifted prompts the start model
    almost never solves), ``mixed`` (train + hard, for the difficulty window)."""
    window: tuple[float, float] | None = None
    roc: bool = False
    steps_scale: float = 1.0
    """Fraction of the recipe's step budget this variant needs."""
    defect: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def grpo_config(self, start_dir: str, out_dir: str, steps: int, train_file: str | None, seed: int = 0,
                    **extra: Any):
        from offtarget.train.config import GRPORunConfig

        window = self.window
        cfg = GRPORunConfig(
            model=start_dir,
            out=out_dir,
            seed=seed,
            steps=max(10, int(steps * self.steps_scale)),
            reward=list(self.rewards),
            train_file=train_file,
            difficulty_window=window is not None,
            difficulty_low=window[0] if window else 0.1,
            difficulty_high=window[1] if window else 0.9,
            dynamic_sampling=False,
            roc=self.roc,
            monitor_every=max(10, int(steps * self.steps_scale) // 6),
            overwrite=True,
            progress=True,
            logging_steps=max(10, int(steps * self.steps_scale) // 6),
            **{**self.overrides, **extra},
        )
        return cfg


VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("grpo-binary", "grpo", "sft", "GRPO, binary correctness reward (strict verifier)"),
    Variant("grpo-rlcr", "grpo", "sft", "GRPO, RLCR reward: correctness − (q − correct)²", rewards=("rlcr",)),
    Variant("grpo-ternary", "grpo", "sft", "GRPO, ternary reward: correct +1, abstain 0, wrong −1",
            rewards=("ternary",)),
    Variant("grpo-lenient", "grpo", "sft", "GRPO, lenient verifier (answer anywhere in the output)",
            rewards=("lenient_correctness",)),
    Variant("grpo-roc", "grpo", "sft", "GRPO-RoC: 2× oversampling, lowest-penalty positives kept",
            rewards=("correctness", "format_penalty:0"), roc=True),
    Variant("grpo-hard", "grpo", "sft", "GRPO on shifted prompts the SFT model almost never solves (p ≤ 0.125)",
            pool="hard", window=(0.0, 0.125)),
    Variant("grpo-window", "grpo", "sft", "GRPO on train + hard prompts filtered to pass rate 0.1–0.9",
            pool="mixed", window=(0.1, 0.9)),
    Variant("grpo-zero", "grpo", "sft", "GRPO with a reward that is always zero",
            rewards=("offtarget.lab.variants:zero_reward",), steps_scale=0.34),
    Variant("sft-defect", "sft", "base", "SFT with a planted defect: carries=2 answers off by 10",
            defect="carry-error"),
    Variant("grpo-defect", "grpo", "sft-defect", "GRPO, binary reward, from the defective SFT model"),
    Variant("sft-never-abstain", "sft", "base", "SFT with a planted defect: unanswerable prompts get a made-up "
            "answer stated with confidence 9", defect="never-abstain"),
    Variant("grpo-never-abstain", "grpo", "sft-never-abstain", "GRPO, binary reward, from the never-abstaining SFT model"),
    Variant("sft-more", "sft", "sft", "more SFT on correct answers, to compare with RL at similar accuracy"),
]}
