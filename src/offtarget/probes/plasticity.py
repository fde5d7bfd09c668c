"""Plasticity: can the checkpoint still learn something new? (Fast-Slow Training, arXiv 2605.12484)

Tiwari et al. 2026 ("Fast-Slow Training", arXiv 2605.12484) find that models kept up to 70 %
closer to the base in KL than parameter-only RL go on learning a subsequent task, while the
drifted ones stall when the task changes: staying close to the base preserves the ability to
learn. This probe measures that ability directly. From every checkpoint it runs *the same*
short, seeded fine-tune on a held-out task and reads how far the loss gets:

- held-out task (default): the audit suite's ``ood`` split, answerable problems only, the
  completion being the task's own correct answer in its first format (``d 85`` for
  ``arithmetic``, ``\\boxed{85}`` for ``chat-arithmetic``). Post-training uses the ``train``
  split, so the shifted family is a task the checkpoints have not been trained on, and it is
  verifiable, so accuracy is measured too. ``--plasticity split=NAME`` picks another split;
  ``--plasticity data=FILE`` a prompt-completion JSONL (``train sft --data`` format; loss only).
- the fine-tune: ``examples`` training items and ``eval`` disjoint evaluation items; LoRA of
  rank ``rank`` on every linear layer (``rank=0``: all weights), AdamW at ``lr``, ``steps``
  steps of ``batch`` items in a seeded order, supervised next-token loss on the completion
  tokens (prompt masked, EOS appended), no dropout. The LoRA init and the order depend only on
  the audit's seed, so every checkpoint gets the same fine-tune.

Per evaluation problem, loss = mean negative log-likelihood of its completion tokens (nats per
token), measured at step 0 and every ``eval_every`` steps:

- ``plasticity_initial_loss`` — the loss before fine-tuning (descriptive: what it already knew).
- ``plasticity_final_loss`` — the loss after ``steps`` steps. Lower = more plastic.
- ``plasticity_loss_drop`` — initial − final loss. Larger = more plastic.
- ``plasticity_loss_auc`` — area under the loss curve over [0, steps] divided by ``steps``
  (trapezoids; the mean loss during the fine-tune; descriptive).
- ``plasticity_accuracy`` — share of evaluation problems answered correctly by greedy decoding
  after the fine-tune (the suite's verifier; not for a ``data`` file).

Comparisons are paired over the evaluation problems (permutation test and bootstrap, McNemar for
accuracy); a checkpoint that learns less than the reference (higher final loss, smaller drop,
lower accuracy) is flagged as an off-target regression. Losses are per token, so they are
compared only between checkpoints that share a tokenizer. When the kl probe ran earlier in the
same audit (``--probes kl,plasticity``), its KL per token is reported beside each checkpoint.

Opt-in: it trains, so ``--probes all`` leaves it out. Cost, measured on 2 CPU threads with the
defaults (16 steps × 4 items, LoRA rank 8, 32 + 20 items, greedy answers of 32 tokens): under
1 s per checkpoint on the lab's toy models, 55–60 s per checkpoint on SmolLM2-135M-Instruct
(loading, fine-tune, 5 evaluations, greedy decoding); the probe's notes give the seconds of each run.

    offtarget audit --model base=models/lab/base --model sft=models/lab/sft --probes kl,plasticity
    offtarget audit ... --probes plasticity --plasticity steps=32 --plasticity lr=0.001
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from offtarget.errors import OfftargetError
from offtarget.metrics.definition import SHARE, define
from offtarget.probes.base import ProbeResult, evaluate, spec_of
from offtarget.probes.registry import register_probe
from offtarget.tasks.problem import Problem

SOURCE = "Fast-Slow Training, Tiwari et al. 2026 (arXiv 2605.12484)"
NATS = "nats per token"

define("plasticity_initial_loss", "held-out loss per completion token before the short fine-tune",
       "descriptive", "descriptive", NATS, "plasticity", SOURCE)
define("plasticity_final_loss", "held-out loss per completion token after the same short seeded fine-tune",
       "lower", "off_target", NATS, "plasticity", SOURCE)
define("plasticity_loss_drop", "held-out loss before minus after the short fine-tune", "higher", "off_target",
       NATS, "plasticity", SOURCE)
define("plasticity_loss_auc", "area under the held-out loss curve of the short fine-tune, divided by its steps",
       "descriptive", "descriptive", NATS, "plasticity", SOURCE)
define("plasticity_accuracy", "share of held-out problems answered correctly (greedy) after the short fine-tune",
       "higher", "off_target", SHARE, "plasticity", SOURCE)


@dataclass(frozen=True)
class PlasticityOptions:
    """The short fine-tune (``--plasticity KEY=VALUE``); defaults cost seconds on a 135M model."""

    steps: int = 16
    lr: float = 2e-3
    rank: int = 8
    """LoRA rank on every linear layer; 0 fine-tunes all weights."""
    batch: int = 4
    examples: int = 32
    """Training items."""
    eval: int = 20
    """Evaluation items (disjoint from the training ones): the paired statistic's problems."""
    eval_every: int = 4
    split: str = "ood"
    data: str | None = None
    """Prompt-completion JSONL instead of the suite's split."""
    format: str | None = None
    """The suite's answer format of the completions (default: its first)."""
    accuracy: bool = True
    max_new_tokens: int = 32

    @classmethod
    def parse(cls, options: dict | None) -> PlasticityOptions:
        """Options from ``--plasticity KEY=VALUE`` pairs; a bad key or value is an OfftargetError."""
        kinds = {f.name: type(f.default) for f in dataclasses.fields(cls)}
        values = {}
        for key, raw in (options or {}).items():
            if key not in kinds:
                raise OfftargetError(f"--plasticity {key}: unknown option; use one of {', '.join(kinds)}")
            kind = kinds[key] if kinds[key] is not type(None) else str
            try:
                if kind is bool:
                    value = raw if isinstance(raw, bool) else {"true": True, "1": True, "false": False,
                                                                "0": False}[str(raw).lower()]
                else:
                    value = kind(raw)
            except (KeyError, TypeError, ValueError):
                raise OfftargetError(f"--plasticity {key}={raw}: expected {kind.__name__}") from None
            values[key] = value
        opts = cls(**values)
        for key, low in (("steps", 1), ("batch", 1), ("examples", 1), ("eval", 5), ("eval_every", 1),
                         ("rank", 0), ("max_new_tokens", 1)):
            if getattr(opts, key) < low:
                raise OfftargetError(f"--plasticity {key}={getattr(opts, key)}: must be at least {low}")
        if not opts.lr > 0:
            raise OfftargetError(f"--plasticity lr={opts.lr}: must be > 0")
        return opts


@dataclass(frozen=True)
class Item:
    """One held-out item: the problem (for grouping and verifying) and the completion to learn."""

    problem: Problem
    completion: str


# --------------------------------------------------------------------------- held-out task


def held_out(task, opts: PlasticityOptions, seed: int) -> tuple[list[Item], list[Item], str]:
    """(training items, evaluation items, a sentence saying where they come from)."""
    need = opts.examples + opts.eval
    if opts.data:
        from offtarget.train.data import sft_rows

        rows = sft_rows(opts.data)
        items = [Item(Problem(f"heldout/{i}", r["prompt"], None, "held-out"), r["completion"])
                 for i, r in enumerate(rows)]
        where = f"{opts.data} (prompt-completion JSONL)"
    else:
        render = getattr(task, "render_answer", None)
        if render is None:
            raise OfftargetError(f"suite {getattr(task, 'name', task)!r} cannot write a correct completion "
                                 "(no render_answer): give --plasticity data=FILE (prompt-completion JSONL)")
        fmt = opts.format or task.formats[0]
        pool = [p for p in task.problems(opts.split, 2 * need, seed=seed) if not p.should_abstain and p.answer]
        try:
            items = [Item(p, render(p, fmt, p.answer)) for p in pool]
        except ValueError as exc:
            raise OfftargetError(f"--plasticity format={fmt}: {exc}") from None
        where = (f"split {opts.split!r} of suite {getattr(task, 'name', task)!r}, answerable problems, "
                 f"completions in format {fmt!r}")
    items = [items[i] for i in np.random.default_rng(seed).permutation(len(items))]
    if len(items) < opts.eval + 1:
        raise OfftargetError(f"plasticity: {len(items)} held-out item(s) in {where}; need at least eval + 1 = "
                             f"{opts.eval + 1} (lower --plasticity eval, or give more items)")
    evaluation = items[: opts.eval]
    training = items[opts.eval : opts.eval + opts.examples]
    return training, evaluation, where


# --------------------------------------------------------------------------- loss and curve


def curve_summary(losses: np.ndarray, steps: list[int]) -> dict[str, np.ndarray]:
    """Per-problem initial, final, drop and normalised area from ``losses`` (points × problems)
    measured at ``steps`` (first 0, last the total)."""
    losses = np.asarray(losses, dtype=float)
    x = np.asarray(steps, dtype=float)
    area = ((losses[1:] + losses[:-1]) / 2 * np.diff(x)[:, None]).sum(0) / x[-1]
    return {"initial": losses[0], "final": losses[-1], "drop": losses[0] - losses[-1], "auc": area}


def encode(tokenizer, item: Item, chat_template: bool, eos: int | None) -> tuple[list[int], list[int]]:
    """Prompt ids (as the sampler renders them) and completion ids (+ EOS)."""
    from offtarget.models.scoring import encode_prompt

    prompt = encode_prompt(tokenizer, item.problem.prompt, chat_template)
    completion = list(tokenizer(item.completion, add_special_tokens=False)["input_ids"])
    return prompt, completion + ([eos] if eos is not None else [])


def token_losses(model, pairs: list[tuple[list[int], list[int]]], pad_id: int) -> list:
    """Negative log-likelihood of every completion token of each (prompt, completion) pair."""
    import torch
    import torch.nn.functional as F

    width = max(len(p) + len(c) for p, c in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for r, (p, c) in enumerate(pairs):  # right padding: real tokens keep positions 0..n-1
        ids[r, : len(p) + len(c)] = torch.tensor(p + c)
        mask[r, : len(p) + len(c)] = 1
    logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device), use_cache=False).logits
    return [F.cross_entropy(logits[r, len(p) - 1 : len(p) - 1 + len(c)].float(),
                            torch.tensor(c, device=logits.device), reduction="none")
            for r, (p, c) in enumerate(pairs)]


def eval_losses(model, pairs, pad_id: int, batch: int = 8) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.array([float(t.mean()) for s in range(0, len(pairs), batch)
                         for t in token_losses(model, pairs[s : s + batch], pad_id)])


def finetune(model, train, evaluation, opts: PlasticityOptions, seed: int, pad_id: int):
    """The short fine-tune: (eval losses points × problems, their steps, training loss per step, model)."""
    import torch

    torch.manual_seed(seed)
    if opts.rank:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=opts.rank, lora_alpha=2 * opts.rank, lora_dropout=0.0,
                                                 target_modules="all-linear", bias="none"))
    model.eval()  # no dropout: the same fine-tune for every checkpoint
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=opts.lr, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    order: list[int] = []
    points, steps, train_loss = [eval_losses(model, evaluation, pad_id)], [0], []
    for step in range(1, opts.steps + 1):
        while len(order) < opts.batch:
            order += rng.permutation(len(train)).tolist()
        chosen, order = order[: opts.batch], order[opts.batch :]
        with torch.enable_grad():
            loss = torch.cat(token_losses(model, [train[i] for i in chosen], pad_id)).mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
        train_loss.append(float(loss.detach()))
        if step % opts.eval_every == 0 or step == opts.steps:
            points.append(eval_losses(model, evaluation, pad_id))
            steps.append(step)
    return np.stack(points), steps, train_loss, model


def greedy_correct(ckpt, model, task, evaluation: list[Item], opts: PlasticityOptions, chat_template: bool):
    """1/0 per evaluation problem: the fine-tuned model's greedy answer, by the suite's verifier."""
    from offtarget.models.hf_engine import HFEngine
    from offtarget.models.sampling import SamplingParams

    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    tuned = dataclasses.replace(ckpt, model=model)
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=opts.max_new_tokens, chat_template=chat_template)
    rows = HFEngine(tuned).generate([it.problem.prompt for it in evaluation], params, seed=0, n=1)
    return np.array([float(task.verify(it.problem, row[0].text).correct) for it, row in zip(evaluation, rows)])


# --------------------------------------------------------------------------- the probe


@dataclass
class HeldOutEvidence:
    """What :func:`evaluate` reads of a checkpoint, over the evaluation items instead of the suite."""

    name: str
    path: str | None
    model_path: str | None
    tokenizer_fingerprint: str | None
    problems: list[Problem]
    n_samples: int = 1


def measure(ctx, name: str, task, train_items, eval_items, opts: PlasticityOptions) -> dict:
    """The fine-tune of one checkpoint: per-problem arrays, the curves and its seconds."""
    from offtarget.models.hf_engine import model_eos_ids
    from offtarget.models.loading import load_checkpoint

    t0 = time.time()
    s = ctx.settings
    ckpt = load_checkpoint(ctx.checkpoint_path(name), name, s.device, s.dtype, s.trust_remote_code)  # a fresh copy
    tok = ckpt.tokenizer
    eos = model_eos_ids(ckpt)[0]
    pad = tok.pad_token_id if tok.pad_token_id is not None else (eos if eos is not None else 0)
    train = [encode(tok, it, s.chat_template, eos) for it in train_items]
    evaluation = [encode(tok, it, s.chat_template, eos) for it in eval_items]
    losses, steps, train_loss, model = finetune(ckpt.model, train, evaluation, opts, s.seed, pad)
    out = {**curve_summary(losses, steps), "curve": losses.mean(1).tolist(), "steps": steps,
           "train_loss": train_loss}
    if opts.accuracy and not opts.data:
        out["accuracy"] = greedy_correct(ckpt, model, task, eval_items, opts, s.chat_template)
    out["seconds"] = time.time() - t0
    del model, ckpt
    return out


def beside_kl(ctx, measured: dict) -> tuple[dict, str]:
    """Each checkpoint's mean final loss and drop next to its KL per token from the kl probe, if it ran."""
    kl = ctx.earlier.get("kl")
    overall = (kl.extras.get("overall") or {}) if kl is not None and kl.error is None else None
    table = {name: {"final_loss": float(m["final"].mean()), "loss_drop": float(m["drop"].mean()),
                    "kl_per_token": None if overall is None else overall.get(name, {}).get("kl_per_token_pooled")}
             for name, m in measured.items()}
    if overall is None:
        return table, ("KL from the reference: the kl probe did not run in this audit (run --probes "
                       "kl,plasticity to see drift beside plasticity)")
    return table, "beside KL per token from the reference (kl probe, this audit): " + "; ".join(
        f"{n}: KL {_fmt(r['kl_per_token'])}, final loss {_fmt(r['final_loss'])}, drop {_fmt(r['loss_drop'])}"
        for n, r in table.items())


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


@register_probe("plasticity", needs_models=True, in_all=False, reads=("kl",))
def run(ctx) -> ProbeResult:
    opts = PlasticityOptions.parse(getattr(ctx.settings, "plasticity", None))
    train_items, eval_items, where = held_out(ctx.task, opts, ctx.settings.seed)
    names = [n for n in ctx.evidences if ctx.evidences[n].model_path is not None]
    if ctx.reference not in names:
        raise OfftargetError(ctx.evidences[ctx.reference].unavailable())
    measured = {name: measure(ctx, name, ctx.task, train_items, eval_items, opts) for name in names}
    problems = [it.problem for it in eval_items]
    held = {n: HeldOutEvidence(n, ctx.evidences[n].path, ctx.evidences[n].model_path,
                               getattr(ctx.evidences[n], "tokenizer_fingerprint", None), problems) for n in names}
    specs = [spec_of(f"plasticity_{key}", lambda ev, short=short: (measured[ev.name][short],), rows="all",
                     token_level=True, unit="problem")
             for key, short in (("initial_loss", "initial"), ("final_loss", "final"), ("loss_drop", "drop"),
                                ("loss_auc", "auc"))]
    if all("accuracy" in m for m in measured.values()):
        specs.append(spec_of("plasticity_accuracy", lambda ev: (measured[ev.name]["accuracy"],), rows="all",
                             binary_greedy=True))
    metrics, comparisons = evaluate("plasticity", specs, held, ctx.reference, ctx.settings.bootstrap,
                                    ctx.settings.seed)
    table, kl_note = beside_kl(ctx, measured)
    seconds = {n: round(m["seconds"], 2) for n, m in measured.items()}
    notes = [
        f"held-out task: {where}; {len(train_items)} training and {len(eval_items)} evaluation items (disjoint)",
        f"fine-tune: {opts.steps} steps × {opts.batch} items, "
        + (f"LoRA rank {opts.rank} on every linear layer" if opts.rank else "all weights")
        + f", AdamW lr {opts.lr}, seed {ctx.settings.seed}, loss on completion tokens; the same for every checkpoint",
        kl_note,
        "cost (seconds per checkpoint, load + fine-tune + evaluation): "
        + ", ".join(f"{n} {s:.1f}" for n, s in seconds.items()),
    ]
    notes += [ctx.evidences[n].unavailable() for n in ctx.evidences if n not in names]
    return ProbeResult(
        "plasticity", "how far the same short fine-tune on a held-out task gets from each checkpoint", SOURCE,
        metrics, comparisons, notes=notes,
        extras={"options": dataclasses.asdict(opts), "beside_kl": table, "seconds": seconds,
                "loss_curve": {n: {"steps": m["steps"], "mean_eval_loss": m["curve"]} for n, m in measured.items()},
                "train_loss": {n: m["train_loss"] for n, m in measured.items()}},
    )
