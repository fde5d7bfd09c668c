"""A small OpenAI-compatible completions server on 127.0.0.1, backed by offtarget's HF engine.

It speaks the subset of the protocol :class:`~offtarget.models.openai_engine.OpenAIEngine`
uses (``GET /v1/models``, ``POST /v1/completions`` with token-id prompts, ``n``, ``seed``,
``logprobs``, ``return_tokens_as_token_ids``), so the client, its retries and the store's resume
are tested without vLLM. Failures are injected: ``fail_first`` requests answer 503, and after
``die_after`` completions the server stops answering (connections refused).
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from offtarget.models.hf_engine import HFEngine
from offtarget.models.loading import load_checkpoint
from offtarget.models.sampling import SamplingParams


class FakeServer:
    def __init__(self, checkpoint: str, fail_first: int = 0, die_after: int | None = None) -> None:
        self.ckpt = load_checkpoint(checkpoint, "served", device="cpu", dtype="float32")
        self.backend = HFEngine(self.ckpt)
        self.fail_first = fail_first
        self.die_after = die_after
        self.requests = 0
        self.completions = 0
        self.bodies: list[dict] = []
        self.samples: list = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, {"data": [{"id": "lab-sft"}]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests += 1
                    if server.requests <= server.fail_first:
                        self._send(503, {"error": "warming up"})
                        return
                    if server.die_after is not None and server.completions >= server.die_after:
                        self._send(503, {"error": "dying"})
                        threading.Thread(target=server.stop, daemon=True).start()
                        return
                    server.completions += 1
                    server.bodies.append(body)
                    self._send(200, server.complete(body))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # already stopped
            self.httpd.shutdown()
            self.httpd.server_close()

    @torch.inference_mode()
    def complete(self, body: dict) -> dict:
        tok, model = self.ckpt.tokenizer, self.ckpt.model
        prompt_ids = body["prompt"]
        text = tok.decode(prompt_ids, skip_special_tokens=True)
        params = SamplingParams(
            n=body["n"], temperature=body["temperature"], top_p=body["top_p"], top_k=max(0, body["top_k"]),
            max_new_tokens=body["max_tokens"], stop=tuple(body.get("stop") or ()), chat_template=False,
        )
        samples = self.backend.generate([text], params, seed=body["seed"], n=body["n"])[0]
        self.samples.append(samples)
        k = body["logprobs"]
        choices = []
        for j, s in enumerate(samples):
            seq = torch.tensor([prompt_ids + s.token_ids])
            logp = torch.log_softmax(model(input_ids=seq).logits[0].float(), -1)[len(prompt_ids) - 1 : -1]
            top = []
            for row in logp:
                vals, idx = row.topk(k)
                top.append({f"token_id:{int(i)}": float(v) for v, i in zip(vals, idx)})
            choices.append({
                "index": j, "text": s.text, "finish_reason": s.finish_reason,
                "logprobs": {"tokens": [f"token_id:{t}" for t in s.token_ids], "token_logprobs": s.logprobs,
                             "top_logprobs": top},
            })
        return {"choices": choices}
