"""Sampling through any OpenAI-compatible completions server: ``vllm serve``, SGLang, TGI.

The server does the work (one GPU to a cluster behind one URL); offtarget sends one request
per prompt to ``POST {server_url}/completions`` with at most ``max_concurrency`` in flight,
and stores what comes back like any other engine's samples.

What is sent, and why:

- **The prompt as token ids**, rendered locally exactly as the HF engine renders it (the
  checkpoint's chat template via :func:`~offtarget.models.scoring.encode_prompt`), so every
  engine samples the same context; the server's chat endpoint would apply its own template
  and special tokens. ``prompt_format="text"`` sends the rendered text instead, for servers
  that accept only strings (TGI); the server then tokenizes it.
- **Every sampling parameter stated**: ``temperature``, ``top_p``, ``top_k`` (-1: off),
  ``min_p``, ``repetition_penalty``, so a server's generation-config defaults never
  change the distribution (start ``vllm serve`` with ``--generation-config vllm`` too).
- ``n``, and a ``seed`` per request derived from the batch seed and the prompt's position:
  a batch re-sent after a failure gets the same seeds.
- ``logprobs: k`` with ``return_tokens_as_token_ids`` (vLLM), so token ids and the sampled
  tokens' log-probs come back exactly; ``stop_token_ids`` = the checkpoint's EOS ids and
  ``stop`` = the stop strings. Entropies are estimated from the top-k log-probs
  (:mod:`offtarget.models.topk_entropy`, a lower bound; exact for vocabularies ≤ 128).

Failures: a connection error, a timeout, HTTP 408/429/5xx is retried ``retries`` times with
exponential backoff (0.5 s doubling, at most 30 s); then the batch fails with a one-line
error. The run store commits every finished batch, so a server that dies loses only the batch
in flight and the same command resumes where it stopped.

    >>> engine = OpenAIEngine("http://127.0.0.1:8000/v1", "models/lab/sft")
    >>> engine.generate(["27+58="], SamplingParams(n=4), seed=0, n=4)[0][0].text
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from offtarget.errors import OfftargetError
from offtarget.models.engines import read_checkpoint_metadata, request_seed
from offtarget.models.sampling import Sample, SamplingParams
from offtarget.models.scoring import encode_prompt
from offtarget.models.topk_entropy import entropy_estimate, topk_for_vocab

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class ServerError(Exception):
    """A request that failed after every retry."""



class OpenAIEngine:
    """Samples from a completions endpoint (see the module docstring)."""

    name = "openai"

    def __init__(
        self,
        server_url: str,
        checkpoint: str,
        served_model: str | None = None,
        max_concurrency: int = 8,
        retries: int = 5,
        timeout: float = 600.0,
        entropy_topk: int | None = None,
        prompt_format: str = "tokens",
        trust_remote_code: bool = False,
    ) -> None:
        if prompt_format not in ("tokens", "text"):
            raise OfftargetError(f"prompt_format {prompt_format!r}: choose tokens or text")
        self.url = server_url.rstrip("/")
        self.metadata = read_checkpoint_metadata(checkpoint, trust_remote_code)
        self.max_concurrency = max(1, int(max_concurrency))
        self.retries = max(0, int(retries))
        self.timeout = float(timeout)
        self.topk = topk_for_vocab(self.metadata.vocab, entropy_topk)
        self.prompt_format = prompt_format
        self.model = served_model or self._served_model()

    # -- HTTP ----------------------------------------------------------------------------------

    def _call(self, method: str, route: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        last = ""
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(f"{self.url}{route}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode(errors="replace")
                if exc.code not in _RETRY_STATUS:
                    raise OfftargetError(f"server {self.url}{route}: HTTP {exc.code}: {detail}") from None
                last = f"HTTP {exc.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = f"{exc.__class__.__name__}: {getattr(exc, 'reason', exc)}"
            if attempt < self.retries:
                time.sleep(min(30.0, 0.5 * 2**attempt) * (1 + 0.1 * random.random()))
        raise ServerError(f"server {self.url}{route} failed {self.retries + 1} times (last: {last})")

    def _served_model(self) -> str:
        try:
            models = self._call("GET", "/models").get("data") or []
        except ServerError as exc:
            raise OfftargetError(f"{exc}; is the server up? (server_url should end in /v1)") from None
        if not models:
            raise OfftargetError(f"server {self.url} lists no models; set server_model")
        return models[0]["id"]

    # -- sampling ------------------------------------------------------------------------------

    def _body(self, prompt_ids: list[int], text: str, params: SamplingParams, seed: int, n: int) -> dict:
        greedy = params.greedy
        body = {
            "model": self.model,
            "prompt": prompt_ids if self.prompt_format == "tokens" else text,
            "max_tokens": params.max_new_tokens,
            "n": n,
            "temperature": 0.0 if greedy else params.temperature,
            "top_p": 1.0 if greedy else params.top_p,
            "top_k": -1 if greedy or not params.top_k else params.top_k,
            "min_p": 0.0 if greedy else getattr(params, "min_p", 0.0),
            "repetition_penalty": getattr(params, "repetition_penalty", 1.0),
            "seed": seed,
            "logprobs": self.topk,
            "return_tokens_as_token_ids": True,
            "stop_token_ids": self.metadata.eos_ids,
            "skip_special_tokens": True,
            "stream": False,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if self.prompt_format == "text":
            body["add_special_tokens"] = False
        return body

    def _token_id(self, token: str) -> int:
        if token.startswith("token_id:"):
            return int(token[len("token_id:"):])
        tid = self.metadata.tokenizer.convert_tokens_to_ids(token)
        if tid is None:
            raise OfftargetError(f"server {self.url} returned token {token!r} that the local tokenizer does not "
                                 "know: serve the same checkpoint, or a server that honours return_tokens_as_token_ids")
        return int(tid)

    def _sample(self, choice: dict) -> Sample:
        lp = choice.get("logprobs") or {}
        tokens = lp.get("tokens") or []
        ids = [self._token_id(t) for t in tokens]
        logprobs = [float(x) if x is not None else 0.0 for x in (lp.get("token_logprobs") or [])]
        tops = lp.get("top_logprobs") or [None] * len(tokens)
        # the sampled token is added to top_logprobs when it is not among the top k: keep the k largest
        ents = [entropy_estimate(sorted(t.values(), reverse=True)[: self.topk], self.metadata.vocab) if t
                else float("nan") for t in tops]
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Sample(choice.get("text", ""), ids, logprobs, ents, finish)

    def _one(self, args) -> list[Sample]:
        prompt_ids, text, params, seed, n = args
        out = self._call("POST", "/completions", self._body(prompt_ids, text, params, seed, n))
        choices = sorted(out.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise ServerError(f"server {self.url} returned {len(choices)} choices for n={n}")
        return [self._sample(c) for c in choices]

    def generate(self, prompts: list[str], params: SamplingParams, seed: int, n: int) -> list[list[Sample]]:
        tok = self.metadata.tokenizer
        jobs = []
        for i, p in enumerate(prompts):
            ids = encode_prompt(tok, p, params.chat_template)
            text = tok.decode(ids, skip_special_tokens=False)
            jobs.append((ids, text, params, request_seed(seed, i), 1 if params.greedy else n))
        try:
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, max(1, len(jobs)))) as pool:
                outs = list(pool.map(self._one, jobs))
        except ServerError as exc:
            raise OfftargetError(f"{exc}; every finished batch is stored: re-run the same command to resume") from None
        if params.greedy and n > 1:
            outs = [row * n for row in outs]
        return outs
