"""What an audit compares and how it samples; the same fields are CLI flags and YAML keys.

    offtarget audit --model base=PATH --model rl=PATH --suite arithmetic --samples 16 --out runs/x
"""

from __future__ import annotations

from dataclasses import dataclass, field

from offtarget.errors import OfftargetError
from offtarget.models.engines import ENGINES, EngineOptions

DATA_FILE_SETTINGS = ("frames", "planning_patterns")
"""Settings that name a data file a probe reads: its result depends on the file's content, so the
probe cache key (:func:`offtarget.audit.runner.probe_cache_key`) holds a digest of the content,
not only the path."""


@dataclass
class AuditConfig:
    """One audit run."""

    models: dict[str, str] = field(default_factory=dict, metadata={
        "flag": "model", "short": "-m", "example": "NAME=PATH, e.g. --model base=models/lab/base"})
    """Checkpoint NAME=PATH, repeat the flag; the first is the reference unless ``reference`` is set."""
    reference: str | None = None
    """Name of the checkpoint every other one is compared against (default: the first)."""
    suite: str = "arithmetic"
    """The task suite: ``arithmetic``, ``rg:FAMILY`` (reasoning-gym), ``hf:DATASET?OPTION=VALUE&...``,
    a ``.jsonl`` task file, a ``.yaml`` suite file, or an installed package's suite (offtarget.tasks.registry)."""
    out: str = "runs/audit"
    """Run directory: generations, results.json and the reports."""
    store: str | None = None
    """Generation store (default ``OUT/generations.sqlite``); audits that share one reuse samples."""
    problems: int = 200
    """Problems per split (``test`` and ``ood``); unanswerable items are a share of them."""
    splits: tuple[str, ...] = ("test", "ood")
    """Splits to audit: ``test`` is in distribution, ``ood`` shifted (comma-separated or repeated)."""
    samples: int = 16
    """Samples per problem at ``temperature``; pass@k is reported for every k ≤ samples."""
    temperature: float = 1.0
    """T = 1 samples the model's own distribution, which calibration and entropy probes need."""
    top_p: float = 1.0
    """Nucleus sampling mass; 1 keeps the model's whole distribution."""
    top_k: int = 0
    """Sample only the k most likely tokens; 0 keeps the whole distribution."""
    min_p: float = 0.0
    """Drop tokens below this share of the most likely token's probability; 0 keeps them all."""
    repetition_penalty: float = 1.0
    """Repetition penalty of sampled and greedy decoding; 1 leaves the model's distribution alone."""
    use_generation_config: bool = False
    """Sample with each checkpoint's generation_config.json values (temperature, top_p, top_k, min_p,
    repetition_penalty) instead of the stated ones. Off by default: those defaults (Qwen ships
    top_p 0.8, repetition_penalty 1.05) change the distribution that KL, calibration, pass@k and
    entropy measure, and differ between checkpoints. The values used are recorded in results.json."""
    full_fingerprint: bool = False
    """Hash every weight byte to identify checkpoints (default: a sparse read that stays cheap at
    100 GB but could miss an edit of a few rows of one tensor); switching it re-generates once."""
    max_new_tokens: int = 32
    """Longest completion; longer ones are cut and counted as truncated."""
    greedy: bool = True
    """Also decode greedily once per problem (what a deployment at T = 0 would answer)."""
    chat_template: bool = True
    """Render prompts through the tokenizer's chat template when the checkpoint has one."""
    probes: tuple[str, ...] = ("all",)
    """Probes to run (comma-separated or repeated), or ``all`` (every probe but ``framing``, which samples
    each problem again under every frame, and ``plasticity``, which fine-tunes every checkpoint: name
    them to run them, e.g. ``all,framing``)."""
    frames: str | None = None
    """JSONL of the framing probe's frames, one ``{"name", "kind": "emotional"|"suggestion", "template"}``
    a line, the template holding ``{prompt}`` (and ``{wrong}``, a suggested wrong answer, for
    ``suggestion``); default: offtarget's built-in frames (``offtarget/probes/data/frames.jsonl``)."""
    planning_patterns: str | None = None
    """Text file of the two_phase_entropy probe's planning patterns, one case-insensitive regular
    expression a line (``#`` comments); default: ``offtarget/probes/data/planning_patterns.txt``."""
    plasticity: dict = field(default_factory=dict, metadata={"example": "KEY=VALUE, e.g. --plasticity steps=32"})
    """Options of the opt-in plasticity probe's short fine-tune (steps, lr, rank, batch, examples, eval,
    eval_every, split, data, format, accuracy, max_new_tokens; see ``offtarget.probes.plasticity``)."""
    seed: int = 0
    """Seed of problem selection, sampling and bootstrap."""
    bootstrap: int = 1000
    """Bootstrap resamples for every interval."""
    alpha: float = 0.05
    """Family-wise error rate of the Holm-corrected regression/gain flags."""
    calibration_bins: int = 10
    """Bins of the calibration probe's ECE, Murphy decomposition and reliability diagram (10 is the
    RLCR convention; 15 is the other common choice)."""
    calibration_binning: str = "uniform"
    """``uniform`` (equal-width bins, RLCR) or ``quantile`` (equal-mass bins, Nixon et al. 2019)."""
    batch_sequences: int = 256
    """Sequences per generate call; lower it if a GPU runs out of memory."""
    engine: str = "hf"
    """Sampling engine of every checkpoint: ``hf`` (transformers, exact entropies), ``vllm`` (in-process
    vLLM, needs the vllm extra) or ``openai`` (an OpenAI-compatible server at ``server_url``)."""
    engines: dict[str, str] = field(default_factory=dict, metadata={
        "flag": "model-engine", "example": "NAME=ENGINE, e.g. --model-engine fast=vllm"})
    """Engine per checkpoint NAME, overriding ``engine``: the same directory under two names and two
    engines compares the engines."""
    engine_args: dict = field(default_factory=dict)
    """Passed to ``vllm.LLM(...)``: tensor_parallel_size, data_parallel_size, distributed_executor_backend
    (``ray`` for several nodes), gpu_memory_utilization, max_model_len (≤ the checkpoint's
    max_position_embeddings, its default), enforce_eager, quantization …"""
    entropy_topk: int | None = None
    """Top-k log-probs per token the vllm/openai engines request to estimate entropy (a lower bound,
    exact when k covers the vocabulary); default: the whole vocabulary up to 128 tokens, else 20."""
    server_url: str | None = None
    """Base URL of the OpenAI-compatible server of the ``openai`` engine, e.g. http://127.0.0.1:8000/v1;
    the checkpoint path is still read locally for its tokenizer and fingerprint."""
    server_model: str | None = None
    """Model name on that server (default: the first it lists at /v1/models)."""
    max_concurrency: int = 8
    """Requests in flight at once to the server (one request per prompt, ``n`` samples each)."""
    request_retries: int = 5
    """Retries of a failed request (connection error, timeout, HTTP 429/5xx), with exponential backoff."""
    request_timeout: float = 600.0
    """Seconds one request may take before it is retried."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:1`` …"""
    dtype: str = "auto"
    """Weights' dtype: ``auto`` (as saved), ``bfloat16``, ``float16``, ``float32``."""
    trust_remote_code: bool = False
    """Run code shipped inside a checkpoint (off: an audit should not execute what it judges)."""
    fail_on: str = "none"
    """Exit 1 on ``regression`` (a flagged target loss or off-target regression), ``any`` (any flag) or
    ``none``: a CI gate."""

    @property
    def reference_name(self) -> str:
        return self.reference or next(iter(self.models))

    def engine_options(self) -> EngineOptions:
        """The sampling-engine settings of this audit, for :mod:`offtarget.models.engines`."""
        return EngineOptions(
            engine=self.engine, per_checkpoint=dict(self.engines), device=self.device, dtype=self.dtype,
            trust_remote_code=self.trust_remote_code, batch_sequences=self.batch_sequences,
            engine_args=dict(self.engine_args or {}), entropy_topk=self.entropy_topk, server_url=self.server_url,
            server_model=self.server_model, max_concurrency=self.max_concurrency,
            request_retries=self.request_retries, request_timeout=self.request_timeout,
        )

    def validate(self) -> None:
        if not self.models:
            raise OfftargetError("no checkpoints: pass --model NAME=PATH at least once")
        from offtarget.evidence.source import resolve_spec

        self.models = {name: resolve_spec(spec) for name, spec in self.models.items()}
        if self.reference and self.reference not in self.models:
            raise OfftargetError(f"--reference {self.reference!r} is not one of the --model names {list(self.models)}")
        if self.samples < 1 or self.problems < 1:
            raise OfftargetError("--samples and --problems must be at least 1")
        if self.calibration_binning not in ("uniform", "quantile") or self.calibration_bins < 1:
            raise OfftargetError(
                f"calibration_binning {self.calibration_binning!r} / calibration_bins {self.calibration_bins}: "
                "use 'uniform' or 'quantile' and at least 1 bin"
            )
        for who, eng in [("engine", self.engine)] + [(f"engines.{k}", v) for k, v in self.engines.items()]:
            if eng not in ENGINES:
                raise OfftargetError(f"{who} {eng!r}: choose one of {', '.join(ENGINES)}")
        for k in self.engines:
            if k not in self.models:
                raise OfftargetError(f"engines.{k}: {k!r} is not one of the --model names {list(self.models)}")
        if self.max_concurrency < 1:
            raise OfftargetError("max_concurrency must be at least 1")
        if not (self.top_k >= 0 and 0 < self.top_p <= 1 and 0 <= self.min_p < 1 and self.repetition_penalty > 0):
            raise OfftargetError(
                f"sampling: top_k {self.top_k}, top_p {self.top_p}, min_p {self.min_p}, repetition_penalty "
                f"{self.repetition_penalty}: use top_k >= 0, 0 < top_p <= 1, 0 <= min_p < 1, repetition_penalty > 0"
            )
        if not self.temperature >= 0:
            raise OfftargetError(f"--temperature {self.temperature}: use 0 (greedy) or more")
        if self.max_new_tokens < 1:
            raise OfftargetError(f"--max-new-tokens {self.max_new_tokens}: use at least 1")
        if self.bootstrap < 1 or not 0 < self.alpha < 1:
            raise OfftargetError(f"bootstrap {self.bootstrap} / alpha {self.alpha}: use bootstrap >= 1, 0 < alpha < 1")
        if self.batch_sequences < 1:
            raise OfftargetError(f"--batch-sequences {self.batch_sequences}: use at least 1")
        from pathlib import Path

        out = Path(self.out)
        if out.exists() and not out.is_dir():
            raise OfftargetError(f"--out {self.out}: is a file, not a directory; choose another --out")
        if self.fail_on not in ("none", "regression", "any"):
            raise OfftargetError(f"--fail-on {self.fail_on!r}: choose none, regression or any")
