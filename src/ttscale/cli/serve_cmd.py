"""``ttscale serve``: the OpenAI-compatible server (serve/app.py) on uvicorn, with one in-process model."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ttscale.cli.app import app
from ttscale.errors import InputError
from ttscale.report.json_out import check_folder_target


def _served_model(spec: str, threads: int | None, max_seqs: int):
    from ttscale.backends.chat_posing import PromptStyle
    from ttscale.backends.openai import OpenAIBackend
    from ttscale.backends.registry import backend_from_spec
    from ttscale.serve.served_model import ServedModel

    backend = backend_from_spec(spec, threads=threads, max_seqs=max_seqs)
    if isinstance(backend, OpenAIBackend):  # an upstream server: it poses its own chat, and pools its connections
        backend.check_reachable()
        return ServedModel(backend.name, backend, remote=True)
    open_chat = None
    if getattr(backend, "model_path", None) is not None:
        from ttscale.backends.chat_posing import chat_template_of

        if chat_template_of(backend.model_path) is not None:
            def open_chat():
                return backend_from_spec(spec, threads=threads, max_seqs=max_seqs, prompt_style=PromptStyle.chat)
    return ServedModel(backend.name, backend, open_chat)


def _check_options(port: int, max_concurrency: int, max_queue: int, max_tokens: int, threads: int | None,
                   max_seqs: int, host: str) -> None:
    for flag, value, low, high in (("--port", port, 0, 65535), ("--max-concurrency", max_concurrency, 1, 256),
                                   ("--max-queue", max_queue, 0, 100_000), ("--max-tokens", max_tokens, 1, 32_768),
                                   ("--threads", threads, 1, 1024), ("--max-seqs", max_seqs, 1, 128)):
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
    _check_options(port, max_concurrency, max_queue, max_tokens, threads, max_seqs, host)
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
    served = []
    try:
        for spec in model:
            served.append(_served_model(spec, threads, max_seqs))
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
