"""The FastAPI application: OpenAI's completion and chat endpoints in front of the served models.

Each request is answered by a strategy's live mode (answering.py): the one its ``ttscale.strategy``
names, else the server's default; a one-model strategy runs on the model the request names, a cascade
or an ensemble on every served model in the order given. At most ``max_concurrency`` requests are
answered at once; their samples on an in-process model decode together (batching.py). A request that
would wait behind ``max_queue`` others is refused at once with 429 and ``Retry-After``.

A chat request is posed with the model's own chat template, as one user turn (a model opened a second
time in chat style, on first use); conversations of several turns are refused by name, not flattened.

A streamed request (``stream: true``) gets SSE keep-alive comments while its strategy samples, then the
answers, then the usage if ``stream_options.include_usage`` asks, then ``[DONE]`` (responses.py).
A client that goes away (a stream closed, or a plain request's connection dropped) cancels its request:
samples not yet started are never drawn, those decoding in process leave the batch at the next step,
and nothing of it is stored. Errors use the OpenAI envelope; an upstream server's failures are 502/503
with ``x-should-retry`` (errors.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ttscale.backends import Backend
from ttscale.backends.http_retry import BackendError, BackendRequestError, BackendUnreachable
from ttscale.errors import InputError
from ttscale.sampling.sources import SampleFailed
from ttscale.serve import responses
from ttscale.serve.answering import SERVED_RUN, Request as Answer, answer, check_served_strategy, models_needed
from ttscale.serve.batching import RequestCancelled, cancelled_by
from ttscale.serve.errors import (error_body, error_response, param_of, upstream_failure, upstream_refusal,
                                  upstream_unreachable)
from ttscale.serve.metrics import ServerMetrics
from ttscale.serve.protocol import ChatRequest, CompletionRequest, SamplingFields
from ttscale.serve.served_model import ServedModel
from ttscale.serve.served_task import ServedTask
from ttscale.store import Store
from ttscale.types import SamplingConfig, Task, stable_hash


@dataclass(frozen=True)
class ServeConfig:
    strategy: str = "majority:k=1"  # the default when a request names none
    max_concurrency: int = 8  # requests answered at once (an in-process model decodes their samples together)
    max_queue: int = 8
    max_tokens: int = 256  # when a request gives no max_tokens
    keep_alive_seconds: float = 5.0  # a streamed request's comment line while its strategy samples
    disconnect_poll_seconds: float = 0.25  # how often a plain request's connection is checked while it runs


@dataclass(frozen=True)
class Admitted:
    """A request that passed every check and holds a place in the queue."""

    endpoint: str
    body: SamplingFields
    task: ServedTask
    spec: str
    sampling: SamplingConfig
    models: tuple[ServedModel, ...]  # what the strategy answers with, in order
    chat: bool
    prompts: tuple[str, ...]


def create_app(models: ServedModel | Sequence[ServedModel], config: ServeConfig, store: Store | None = None,
               task: Task | None = None) -> FastAPI:
    """The application; with ``store``, every answered request's samples land there (run ``serve``, the same
    schema, seeds and costs as a sweep's rows), written only once the answer is complete; with ``task``,
    requests are read as its problems (served_task.py)."""
    served = [models] if isinstance(models, ServedModel) else list(models)
    by_name = {m.name: m for m in served}
    if len(by_name) != len(served):
        raise InputError(f"--model: each served model needs its own name; got {[m.name for m in served]}")
    check_served_strategy(config.strategy, ServedTask(base=task), len(served))  # a bad default fails at start
    if store is not None:
        for m in served:
            store.put_model(m.backend.card)
        store.start_run(SERVED_RUN, {"command": "ttscale serve", "models": [m.name for m in served]})
    app = FastAPI(title="ttscale serve")
    metrics = ServerMetrics()
    slots = asyncio.Semaphore(config.max_concurrency)
    waiting = {"n": 0}

    def observe(requests: int, sequences: int) -> None:
        metrics.batch_requests.observe(requests)
        metrics.batch_sequences.observe(sequences)

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

    @app.exception_handler(RequestCancelled)
    async def left(request: Request, exc: RequestCancelled) -> JSONResponse:
        return error_response(499, str(exc))  # nobody reads it; run() counted it

    # Expected failures of an upstream server are answered here, not as unexpected errors (no traceback logged).
    @app.exception_handler(SampleFailed)
    @app.exception_handler(BackendError)
    async def upstream(request: Request, exc: Exception) -> JSONResponse:
        response = _upstream_response(exc) or error_response(502, f"the upstream server failed: {exc}")
        metrics.requests.labels(request.url.path, str(response.status_code)).inc()
        return response

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        metrics.requests.labels(request.url.path, "500").inc()
        return error_response(500, f"the server failed to answer: {type(exc).__name__}: {exc}")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "models": list(by_name)}

    @app.get("/v1/models")
    async def listed() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "ttscale"}
                                           for name in by_name]}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def admit(endpoint: str, body: SamplingFields, prompts: list[str], chat: bool) -> Admitted | JSONResponse:
        """Every check before any work; a place in the queue, or the response that refuses the request."""
        if body.model not in by_name:
            metrics.requests.labels(endpoint, "404").inc()
            return error_response(404, f"model: {body.model!r} is not served here (serving {', '.join(by_name)})",
                                  param="model", code="model_not_found")
        served_task = ServedTask(body.stops(), task)
        spec = body.ttscale.strategy if body.ttscale and body.ttscale.strategy else config.strategy
        check_served_strategy(spec, served_task, len(served))
        chosen = (by_name[body.model],) if models_needed(spec) == 1 else tuple(served)
        sampling = SamplingConfig(temperature=body.temperature, top_p=body.top_p,
                                  max_new_tokens=body.max_tokens or config.max_tokens)
        if waiting["n"] >= config.max_queue:
            metrics.requests.labels(endpoint, "429").inc()
            return error_response(429, f"the queue is full ({config.max_queue} requests waiting); retry shortly",
                                  headers={"Retry-After": "1"})
        waiting["n"] += 1
        metrics.queue.set(waiting["n"])
        return Admitted(endpoint, body, served_task, spec, sampling, chosen, chat, tuple(prompts))

    async def run(admitted: Admitted, request: Request) -> Answer:
        """Wait for a slot, answer in a worker thread, count. The request is cancelled (its samples stop, nothing
        is stored) when its client goes away or its handler is cancelled; its slot frees when its work ends."""
        try:
            await slots.acquire()
        finally:
            waiting["n"] -= 1
            metrics.queue.set(waiting["n"])
        cancel = threading.Event()

        def work() -> Answer:
            with cancelled_by(cancel):
                backends: list[Backend] = [m.reached(admitted.chat, observe) for m in admitted.models]
                result = answer(backends, admitted.task, admitted.prompts, admitted.spec, admitted.sampling,
                                admitted.body.seed or 0)
            if store is not None:  # after the whole answer: a failed or cancelled request stores nothing
                store.put_samples([s for a in result.answers for s in a.samples])
            return result

        started = time.perf_counter()
        job = asyncio.ensure_future(run_in_threadpool(work))
        job.add_done_callback(lambda _: slots.release())
        try:
            while not job.done():
                await asyncio.wait({job}, timeout=config.disconnect_poll_seconds)
                if not job.done() and await request.is_disconnected():
                    cancel.set()
            result = job.result()
        except (RequestCancelled, asyncio.CancelledError):  # the client left (a stream closed: the handler's cancel)
            metrics.requests.labels(admitted.endpoint, "499").inc()  # as nginx counts a client that closed
            raise
        finally:
            if not job.done():
                cancel.set()  # stop the model work: its samples leave the batch, nothing is stored
        metrics.latency.observe(time.perf_counter() - started)
        metrics.samples.inc(sum(a.draws for a in result.answers))
        for a in result.answers:
            for kind, value in (("prefill", a.prefill_flops), ("decode", a.decode_flops),
                                ("verifier", a.verifier_flops)):
                metrics.flops.labels(kind).inc(value)
        metrics.requests.labels(admitted.endpoint, "200").inc()
        return result

    async def respond(endpoint: str, body: SamplingFields, prompts: list[str], chat: bool, request: Request):
        admitted = admit(endpoint, body, prompts, chat)
        if isinstance(admitted, JSONResponse):
            return admitted
        identity = f"{'chatcmpl' if chat else 'cmpl'}-{stable_hash([prompts, time.time_ns()], 24)}"
        name = body.model
        if not body.stream:
            result = await run(admitted, request)
            return (responses.chat_completion if chat else responses.completion)(identity, name, result)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        async def events():
            work = asyncio.ensure_future(run(admitted, request))
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
                    failure = _upstream_response(exc)
                    yield (responses.event(error_body(failure.status_code, bytes(failure.body).decode()))
                           if failure is not None else
                           responses.event(error_body(500, f"the server failed to answer: {type(exc).__name__}")))
                    return
                for chunk in responses.answer_chunks(identity, name, result, chat, include_usage):
                    yield chunk
            finally:
                if not work.done():
                    work.cancel()  # the client went away: run() cancels the model work

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request):
        return await respond("/v1/completions", body, body.prompts(), False, request)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request):
        if len(body.messages) != 1 or body.messages[0].role != "user":
            roles = ", ".join(m.role for m in body.messages)
            raise InputError(f"messages: one user message is served (a single turn); got {roles}")
        return await respond("/v1/chat/completions", body, [body.messages[0].content], True, request)

    return app


def _upstream_response(exc: BaseException) -> JSONResponse | None:
    """The 502/503 of an upstream server's failure (errors.py), or None when ``exc`` is not one."""
    if isinstance(exc, SampleFailed):
        return upstream_failure(exc.cause)
    if isinstance(exc, BackendUnreachable):
        return upstream_unreachable(str(exc))
    if isinstance(exc, BackendRequestError):
        if exc.status in (400, 413, 422):  # the upstream read the request itself as bad: the client's fault
            return error_response(400, f"the upstream server refused the request: {exc.message}")
        return upstream_refusal(exc.status, exc.message)
    return None
