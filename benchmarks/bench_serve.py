"""What `ttscale serve` costs over calling the engine directly, and what concurrency buys (issue 14).

    .venv/bin/python benchmarks/bench_serve.py [--model smollm2-135m] [--requests 12] [--threads 2] [--write]

**Overhead**: the same requests (majority of 4, 16 new tokens, distinct prompts and seeds) answered one at a
time through the server (the official client over a loopback socket) and by ``serve.answering.answer``
in process, interleaved so that both see the same machine; the ratio of wall times. **Concurrency**: the
same requests sent by 1, 2, 4 and 8 client threads at once; requests per second. The server runs one model
call at a time (no cross-request batching yet), so concurrency should buy nothing: this is the baseline the
batching work must beat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from bench_md import section, write_section  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.serve.answering import answer  # noqa: E402
from ttscale.serve.served_task import ServedTask  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402

STRATEGY, MAX_TOKENS = "majority:k=4", 16


def prompts(count: int) -> list[str]:
    return [f"Question {i}: name a colour that starts with the letter {chr(ord('a') + i % 26)}." for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--requests", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    if installed_path(args.model) is None:
        sys.exit(f"needs {args.model}: ttscale models pull {args.model}")
    import openai
    import uvicorn

    from ttscale.cli.serve_cmd import _served_model
    from ttscale.serve.app import ServeConfig, create_app

    served = _served_model(args.model, threads=args.threads, max_seqs=8)
    app = create_app(served, ServeConfig(strategy=STRATEGY, max_tokens=MAX_TOKENS, max_queue=64))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
    sampling = SamplingConfig(temperature=0.8, top_p=1.0, max_new_tokens=MAX_TOKENS)
    texts = prompts(args.requests)

    def served_one(i: int) -> None:
        client.completions.create(model=served.name, prompt=texts[i], max_tokens=MAX_TOKENS, temperature=0.8,
                                  seed=i)

    def direct_one(i: int) -> None:
        with served.lock:
            answer(served.backend, ServedTask(), texts[i], STRATEGY, sampling, seed=i)

    try:
        served_one(0)  # warm both paths
        direct_one(0)
        served_s, direct_s = [], []
        for i in range(args.requests):  # interleaved: both see the same machine
            started = time.perf_counter()
            served_one(i)
            served_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            direct_one(i)
            direct_s.append(time.perf_counter() - started)
        figures: dict = {
            "served / direct wall time, one request at a time (median of per-request ratios)":
                statistics.median(s / d for s, d in zip(served_s, direct_s)),
            "served / direct wall time, totals": sum(served_s) / sum(direct_s),
            "direct seconds per request (median)": statistics.median(direct_s),
        }
        rates = {}
        for concurrency in (1, 2, 4, 8):
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(served_one, range(args.requests)))
            rates[concurrency] = args.requests / (time.perf_counter() - started)
            figures[f"requests/s at concurrency {concurrency}"] = rates[concurrency]
        figures["concurrency 8 / concurrency 1"] = rates[8] / rates[1]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        served.close()
    body = (f"Model {args.model}, strategy {STRATEGY}, {MAX_TOKENS} new tokens, {args.requests} distinct prompts, "
            f"{args.threads} threads. One model call at a time: concurrency queues, it does not batch yet.")
    command = (f".venv/bin/python benchmarks/bench_serve.py --model {args.model} --requests {args.requests} "
               f"--threads {args.threads} --write")
    markdown = section("ttscale serve: overhead and concurrency", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_serve", markdown)


if __name__ == "__main__":
    main()
