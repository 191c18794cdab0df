"""The FastAPI application: OpenAI's completion and chat endpoints in front of one in-process model.

Each request is answered by a strategy's live mode (answering.py): the one its ``ttscale.strategy``
names, else the server's default. Model calls run in worker threads, at most ``max_concurrency`` at a
time (an in-process llama.cpp engine serves one call at a time); a request that would wait behind
``max_queue`` others is refused at once with 429 and ``Retry-After``. Errors use the OpenAI envelope.

A chat request is posed with the model's own chat template, as one user turn (a model opened a second
time in chat style, on first use); conversations of several turns are refused by name, not flattened.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.serve.answering import Answered, answer, check_served_strategy
from ttscale.serve.errors import error_response, param_of
from ttscale.serve.metrics import ServerMetrics
from ttscale.serve.protocol import ChatRequest, CompletionRequest, SamplingFields
from ttscale.serve.served_task import ServedTask
from ttscale.types import SamplingConfig, stable_hash


@dataclass
class ServedModel:
    """The model behind the server: its raw backend, and how to open it posed as chat (None: it has no
    chat template)."""

    name: str
    backend: Backend
    open_chat: Callable[[], Backend] | None = None
    _chat: Backend | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # one model call at a time per engine

    def chat_backend(self) -> Backend:
        if self.open_chat is None:
            raise InputError(f"messages: model {self.name!r} has no chat template; use /v1/completions")
        if self._chat is None:
            self._chat = self.open_chat()
        return self._chat

    def close(self) -> None:
        self.backend.close()
        if self._chat is not None:
            self._chat.close()


@dataclass(frozen=True)
class ServeConfig:
    strategy: str = "majority:k=1"  # the default when a request names none
    max_concurrency: int = 1
    max_queue: int = 8
    max_tokens: int = 256  # when a request gives no max_tokens


def create_app(model: ServedModel, config: ServeConfig) -> FastAPI:
    check_served_strategy(config.strategy, ServedTask())  # a bad default fails at start, not per request
    app = FastAPI(title="ttscale serve")
    metrics = ServerMetrics()
    slots = asyncio.Semaphore(config.max_concurrency)
    waiting = {"n": 0}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "body"
        metrics.requests.labels(request.url.path, "400").inc()
        return error_response(400, f"{where}: {first['msg']}", param=where)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> JSONResponse:
        metrics.requests.labels(request.url.path, "400").inc()
        return error_response(400, str(exc), param=param_of(str(exc)))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        metrics.requests.labels(request.url.path, "500").inc()
        return error_response(500, f"the server failed to answer: {type(exc).__name__}: {exc}")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": model.name}

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": model.name, "object": "model", "created": 0, "owned_by": "ttscale"}]}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def answered(endpoint: str, body: SamplingFields, prompt_of: Callable[[], tuple[Backend, str]]):
        if body.model != model.name:
            metrics.requests.labels(endpoint, "404").inc()
            return None, error_response(404, f"model: {body.model!r} is not served here (serving {model.name!r})",
                                        param="model", code="model_not_found")
        if body.stream:
            raise InputError("stream: streaming is not served yet; send stream=false")
        task = ServedTask(body.stops())
        spec = body.ttscale.strategy if body.ttscale and body.ttscale.strategy else config.strategy
        check_served_strategy(spec, task)
        sampling = SamplingConfig(temperature=body.temperature, top_p=body.top_p,
                                  max_new_tokens=body.max_tokens or config.max_tokens)
        if waiting["n"] >= config.max_queue:
            metrics.requests.labels(endpoint, "429").inc()
            return None, error_response(429, f"the queue is full ({config.max_queue} requests waiting); retry "
                                             "shortly", headers={"Retry-After": "1"})
        waiting["n"] += 1
        metrics.queue.set(waiting["n"])
        try:
            await slots.acquire()  # a request cancelled while waiting leaves the queue too
        finally:
            waiting["n"] -= 1
            metrics.queue.set(waiting["n"])
        try:
            backend, prompt = prompt_of()

            def run() -> Answered:
                with model.lock:
                    return answer(backend, task, prompt, spec, sampling, body.seed or 0)

            started = time.perf_counter()
            result = await run_in_threadpool(run)
        finally:
            slots.release()
        metrics.latency.observe(time.perf_counter() - started)
        metrics.samples.inc(len(result.samples))
        for kind, value in (("prefill", result.prefill_flops), ("decode", result.decode_flops),
                            ("verifier", result.verifier_flops)):
            metrics.flops.labels(kind).inc(value)
        metrics.requests.labels(endpoint, "200").inc()
        return result, None

    def usage(result: Answered) -> dict:
        return {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
            "ttscale": {
                "strategy": result.strategy,
                "samples": len(result.samples),
                "flops": {"prefill": result.prefill_flops, "decode": result.decode_flops,
                          "verifier": result.verifier_flops, "total": result.infer_flops},
                "answers": result.answers,
                "seconds": result.seconds,
            },
        }

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest):
        result, refused = await answered("/v1/completions", body, lambda: (model.backend, body.prompt))
        if refused is not None:
            return refused
        return {
            "id": f"cmpl-{stable_hash([body.prompt, time.time_ns()], 24)}", "object": "text_completion",
            "created": int(time.time()), "model": model.name,
            "choices": [{"index": 0, "text": result.text, "finish_reason": result.finish_reason, "logprobs": None}],
            "usage": usage(result),
        }

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        if len(body.messages) != 1 or body.messages[0].role != "user":
            roles = ", ".join(m.role for m in body.messages)
            raise InputError(f"messages: one user message is served (a single turn); got {roles}")
        result, refused = await answered("/v1/chat/completions", body,
                                         lambda: (model.chat_backend(), body.messages[0].content))
        if refused is not None:
            return refused
        return {
            "id": f"chatcmpl-{stable_hash([body.messages[0].content, time.time_ns()], 24)}",
            "object": "chat.completion", "created": int(time.time()), "model": model.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                         "finish_reason": result.finish_reason, "logprobs": None}],
            "usage": usage(result),
        }

    return app
