"""The FastAPI application: OpenAI's completion and chat endpoints in front of one in-process model.

Each request is answered by a strategy's live mode (answering.py): the one its ``ttscale.strategy``
names, else the server's default. Model calls run in worker threads, at most ``max_concurrency`` at a
time (an in-process llama.cpp engine serves one call at a time); a request that would wait behind
``max_queue`` others is refused at once with 429 and ``Retry-After``. Errors use the OpenAI envelope.

A chat request is posed with the model's own chat template, as one user turn (a model opened a second
time in chat style, on first use); conversations of several turns are refused by name, not flattened.

A streamed request (``stream: true``) gets SSE keep-alive comments while its strategy samples, then the
answer, then the usage if ``stream_options.include_usage`` asks, then ``[DONE]`` (responses.py). A
client that goes away stops being waited for, but the model call already running finishes (llama.cpp's
batch is not interrupted), and its complete answer's samples are stored as any other's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.serve import responses
from ttscale.serve.answering import SERVED_RUN, Answered, answer, check_served_strategy
from ttscale.serve.errors import error_body, error_response, param_of
from ttscale.serve.metrics import ServerMetrics
from ttscale.serve.protocol import ChatRequest, CompletionRequest, SamplingFields
from ttscale.serve.served_task import ServedTask
from ttscale.store import Store
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
    keep_alive_seconds: float = 5.0  # a streamed request's comment line while its strategy samples


@dataclass(frozen=True)
class Admitted:
    """A request that passed every check and holds a place in the queue."""

    endpoint: str
    body: SamplingFields
    task: ServedTask
    spec: str
    sampling: SamplingConfig


def create_app(model: ServedModel, config: ServeConfig, store: Store | None = None) -> FastAPI:
    """The application; with ``store``, every answered request's samples land there (run ``serve``, the same
    schema, seeds and costs as a sweep's rows), written only once the answer is complete."""
    check_served_strategy(config.strategy, ServedTask())  # a bad default fails at start, not per request
    if store is not None:
        store.put_model(model.backend.card)
        store.start_run(SERVED_RUN, {"command": "ttscale serve", "model": model.name})
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

    def admit(endpoint: str, body: SamplingFields) -> Admitted | JSONResponse:
        """Every check before any work; a place in the queue, or the response that refuses the request."""
        if body.model != model.name:
            metrics.requests.labels(endpoint, "404").inc()
            return error_response(404, f"model: {body.model!r} is not served here (serving {model.name!r})",
                                  param="model", code="model_not_found")
        task = ServedTask(body.stops())
        spec = body.ttscale.strategy if body.ttscale and body.ttscale.strategy else config.strategy
        check_served_strategy(spec, task)
        sampling = SamplingConfig(temperature=body.temperature, top_p=body.top_p,
                                  max_new_tokens=body.max_tokens or config.max_tokens)
        if waiting["n"] >= config.max_queue:
            metrics.requests.labels(endpoint, "429").inc()
            return error_response(429, f"the queue is full ({config.max_queue} requests waiting); retry shortly",
                                  headers={"Retry-After": "1"})
        waiting["n"] += 1
        metrics.queue.set(waiting["n"])
        return Admitted(endpoint, body, task, spec, sampling)

    async def run(admitted: Admitted, prompt_of: Callable[[], tuple[Backend, str]]) -> Answered:
        """Wait for the model, answer, count. A request cancelled while waiting leaves the queue."""
        try:
            await slots.acquire()
        finally:
            waiting["n"] -= 1
            metrics.queue.set(waiting["n"])
        try:
            backend, prompt = prompt_of()

            def work() -> Answered:
                with model.lock:
                    result = answer(backend, admitted.task, prompt, admitted.spec, admitted.sampling,
                                    admitted.body.seed or 0)
                    if store is not None:  # after the whole answer: a failed request stores nothing
                        store.put_samples(result.samples)
                    return result

            started = time.perf_counter()
            result = await run_in_threadpool(work)
        finally:
            slots.release()
        metrics.latency.observe(time.perf_counter() - started)
        metrics.samples.inc(len(result.samples))
        for kind, value in (("prefill", result.prefill_flops), ("decode", result.decode_flops),
                            ("verifier", result.verifier_flops)):
            metrics.flops.labels(kind).inc(value)
        metrics.requests.labels(admitted.endpoint, "200").inc()
        return result

    async def respond(endpoint: str, body: SamplingFields, prompt_of: Callable[[], tuple[Backend, str]],
                      chat: bool, text: str):
        admitted = admit(endpoint, body)
        if isinstance(admitted, JSONResponse):
            return admitted
        identity = f"{'chatcmpl' if chat else 'cmpl'}-{stable_hash([text, time.time_ns()], 24)}"
        if not body.stream:
            result = await run(admitted, prompt_of)
            return (responses.chat_completion if chat else responses.completion)(identity, model.name, result)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        async def events():
            work = asyncio.ensure_future(run(admitted, prompt_of))
            try:
                while not work.done():
                    done, _ = await asyncio.wait({work}, timeout=config.keep_alive_seconds)
                    if not done:
                        yield responses.KEEP_ALIVE
                try:
                    result = work.result()
                except InputError as exc:
                    yield responses.event(error_body(400, str(exc), param_of(str(exc))))
                    return
                except Exception as exc:  # the stream has started: the error travels as an event
                    yield responses.event(error_body(500, f"the server failed to answer: {type(exc).__name__}"))
                    return
                for chunk in responses.answer_chunks(identity, model.name, result, chat, include_usage):
                    yield chunk
            finally:
                if not work.done():
                    work.cancel()  # the client went away: the answer is not waited for (see the module note)

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest):
        return await respond("/v1/completions", body, lambda: (model.backend, body.prompt), False, body.prompt)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        if len(body.messages) != 1 or body.messages[0].role != "user":
            roles = ", ".join(m.role for m in body.messages)
            raise InputError(f"messages: one user message is served (a single turn); got {roles}")
        content = body.messages[0].content
        return await respond("/v1/chat/completions", body, lambda: (model.chat_backend(), content), True, content)

    return app
