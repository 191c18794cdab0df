"""``ttscale serve``: the OpenAI-compatible server (serve/app.py) on uvicorn, with one in-process model."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ttscale.cli.app import app
from ttscale.errors import InputError
from ttscale.report.json_out import check_folder_target


@dataclass(frozen=True)
class Upstream:
    """How an upstream server is called: a shared pool of at most ``concurrency`` requests in flight, each
    attempt cut at ``timeout_s``, ``attempts`` tries before the request fails (a served client is waiting:
    a quick 502 it may retry beats minutes of retries)."""

    concurrency: int = 8
    timeout_s: float = 60.0
    attempts: int = 2


def _served_model(spec: str, threads: int | None, max_seqs: int, card=None, upstream: Upstream = Upstream()):
    from ttscale.backends.chat_posing import PromptStyle
    from ttscale.backends.registry import backend_from_spec, spec_kind
    from ttscale.serve.served_model import ServedModel

    if spec_kind(spec) == "openai":  # an upstream server: it poses its own chat, and pools its connections
        backend = backend_from_spec(spec, max_concurrency=upstream.concurrency, timeout_s=upstream.timeout_s,
                                    max_attempts=upstream.attempts, **({"card": card} if card else {}))
        try:
            backend.check_reachable()
        except BaseException:
            backend.close()
            raise
        return ServedModel(backend.name, backend, remote=True)
    backend = backend_from_spec(spec, threads=threads, max_seqs=max_seqs, **({"card": card} if card else {}))
    open_chat = None
    if getattr(backend, "model_path", None) is not None:
        from ttscale.backends.chat_posing import chat_template_of

        if chat_template_of(backend.model_path) is not None:
            def open_chat():
                return backend_from_spec(spec, threads=threads, max_seqs=max_seqs, prompt_style=PromptStyle.chat)
    return ServedModel(backend.name, backend, open_chat)


def _check_options(port: int, max_concurrency: int, max_queue: int, max_tokens: int, threads: int | None,
                   max_seqs: int, host: str, upstream: Upstream) -> None:
    for flag, value, low, high in (("--port", port, 0, 65535), ("--max-concurrency", max_concurrency, 1, 256),
                                   ("--max-queue", max_queue, 0, 100_000), ("--max-tokens", max_tokens, 1, 32_768),
                                   ("--threads", threads, 1, 1024), ("--max-seqs", max_seqs, 1, 128),
                                   ("--upstream-concurrency", upstream.concurrency, 1, 1024),
                                   ("--upstream-timeout", upstream.timeout_s, 0.1, 3600),
                                   ("--upstream-attempts", upstream.attempts, 1, 20)):
        if value is not None and not low <= value <= high:
            raise InputError(f"{flag} must be in {low}..{high}, got {value}")
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise InputError(f"--host {host!r}: not an address this machine can listen on") from None


@app.command("serve")
def serve(
    model: Optional[list[str]] = typer.Option(None, "--model", help="A model to serve: any model spec (a model of "
                                              "`ttscale models`, gguf:PATH, BASE@q4_0, tiny:CHECKPOINT, or "
                                              "openai:URL,model=NAME for an upstream server). Repeat it for a "
                                              "cascade (small, then large) or an ensemble."),
    strategy: Optional[str] = typer.Option(None, help="The strategy for requests that name none (their "
                                           "ttscale.strategy), e.g. majority:k=8 or adaptive-vote:conf=0.95,cap=16 "
                                           "(default: majority:k=1)."),
    plan: Optional[Path] = typer.Option(None, "--plan", help="Serve what `ttscale plan --json FILE` chose (its model "
                                        "and strategy) instead of --model and --strategy."),
    task: Optional[str] = typer.Option(None, "--task", help="Read requests as problems of this task: its answer "
                                       "extractor groups votes, its verifier checks samples (humaneval: the prompt's "
                                       "examples, run in the sandbox), its steps feed tree search."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port (0: any free one, printed once listening)."),
    max_concurrency: int = typer.Option(8, help="Requests answered at once; on an in-process model their samples "
                                        "decode together, up to --max-seqs sequences per step."),
    max_queue: int = typer.Option(8, help="Requests that may wait; one more is refused with 429 and Retry-After."),
    max_tokens: int = typer.Option(256, help="New tokens per sample when a request gives no max_tokens."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for the model (default: the free cores)."),
    max_seqs: int = typer.Option(16, help="Sequences one model call decodes together."),
    card: list[str] = typer.Option([], "--card", help="MODEL=CARD, repeatable: the model card of an upstream "
                                   "--model (openai:URL#NAME), for its FLOPs, e.g. smol=smollm2-135m."),
    upstream_concurrency: int = typer.Option(8, help="Requests in flight to an upstream server at most (one pool "
                                             "shared by every served request)."),
    upstream_timeout: float = typer.Option(60.0, help="Seconds one upstream attempt may take."),
    upstream_attempts: int = typer.Option(2, help="Tries of an upstream request before its served request fails "
                                          "with 502/503 (x-should-retry: true)."),
    store: Optional[Path] = typer.Option(None, "--store", help="Keep every answered request's samples in "
                                         "DIR/store.sqlite (run 'serve'), as a sweep keeps its own."),
) -> None:
    """Serve MODEL over OpenAI's API (/v1/completions, /v1/chat/completions, /v1/models, /health, /metrics),
    answering each request with a strategy and reporting what it spent in usage.ttscale."""
    import uvicorn

    from ttscale.serve.app import ServeConfig, create_app

    if plan is not None:
        if model or strategy is not None:
            raise InputError("--plan: it names the model and the strategy; give --plan or --model/--strategy, "
                             "not both")
        from ttscale.serve.plan_choice import served_choice

        model, strategy, origin = served_choice(plan)
    elif not model:
        raise InputError("--model: give the model to serve (or --plan with a plan's choice)")
    else:
        strategy, origin = strategy or "majority:k=1", "--model and --strategy"
    if len(set(model)) != len(model):
        raise InputError(f"--model: each model is served once; got {', '.join(model)}")
    upstream = Upstream(upstream_concurrency, upstream_timeout, upstream_attempts)
    _check_options(port, max_concurrency, max_queue, max_tokens, threads, max_seqs, host, upstream)
    config = ServeConfig(strategy=strategy, max_concurrency=max_concurrency, max_queue=max_queue,
                         max_tokens=max_tokens)
    from ttscale.serve.answering import check_served_strategy
    from ttscale.serve.served_task import ServedTask
    from ttscale.tasks import get_task

    named_task = None
    if task is not None:
        try:
            named_task = get_task(task)
        except InputError as exc:
            raise InputError(f"--task: {exc}") from None
    try:
        check_served_strategy(strategy, ServedTask(base=named_task), len(model))
    except InputError as exc:
        raise InputError(f"--strategy: {exc}") from None
    if store is not None:
        check_folder_target(store, "--store")
    from ttscale.model_sweep import given_cards

    cards = given_cards(card, model)
    served = []
    try:
        for spec in model:
            served.append(_served_model(spec, threads, max_seqs, cards.get(spec), upstream))
    except BaseException:
        for opened in served:
            opened.close()
        raise
    console = Console(stderr=True)
    from ttscale.store import Store

    kept = None
    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
        kept = Store(store / "store.sqlite")
    server = uvicorn.Server(uvicorn.Config(create_app(served, config, kept, named_task), host=host, port=port,
                                           log_level="warning"))

    async def run() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started:
            bound = server.servers[0].sockets[0].getsockname()[1]
            names = ", ".join(m.name for m in served)
            console.print(f"serving {names} on http://{host}:{bound}/v1 (default strategy {strategy}, "
                          f"from {origin})", highlight=False, soft_wrap=True)  # one line: scripts read the port
        await serving

    try:
        asyncio.run(run())
    finally:
        for opened in served:
            opened.close()
        if kept is not None:
            kept.close()
