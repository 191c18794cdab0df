"""What `ttscale serve` costs over calling the engine directly, and what cross-request batching buys (issue 14).

    .venv/bin/python benchmarks/bench_serve.py [--model smollm2-135m] [--requests 16] [--threads 2] [--write]

**Overhead**: the same requests (majority of 4, 16 new tokens, distinct prompts and seeds) answered one at a
time through the server (the official client over a loopback socket) and by ``serve.answering.answer`` on the
model's own backend in process, interleaved so that both see the same machine; the ratio of wall times.

**Throughput**: the same requests sent by 1, 2, 4 and 8 client threads at once, to two servers on one engine
(one model, one ``BatchingBackend``): one answering up to 8 requests at once, whose samples decode together,
and one answering a single request at a time (no cross-request batching: what the server did before). The
ceiling is the engine's own batched speed: every request's prompt in one ``generate`` call, in waves of
``--max-seqs`` sequences; the batched server at concurrency 8 is reported as a share of it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "serve"))
from bench_md import section, write_section  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.sampling.draw import sample_seed  # noqa: E402
from ttscale.serve.answering import SERVED_RUN, answer  # noqa: E402
from ttscale.serve.served_task import ServedTask  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402

K, MAX_TOKENS, TEMPERATURE = 4, 16, 0.8
STRATEGY = f"majority:k={K}"
CONCURRENCY = (1, 2, 4, 8)


def prompts(count: int) -> list[str]:
    return [f"Question {i}: name a colour that starts with the letter {chr(ord('a') + i % 26)}." for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-seqs", type=int, default=32)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    if installed_path(args.model) is None:
        sys.exit(f"needs {args.model}: ttscale models pull {args.model}")
    import openai
    from live_server import running

    from ttscale.cli.serve_cmd import _served_model
    from ttscale.serve.app import ServeConfig, create_app

    served = _served_model(args.model, threads=args.threads, max_seqs=args.max_seqs)
    sampling = SamplingConfig(temperature=TEMPERATURE, top_p=1.0, max_new_tokens=MAX_TOKENS)
    texts = prompts(args.requests)
    batched = create_app(served, ServeConfig(strategy=STRATEGY, max_tokens=MAX_TOKENS, max_queue=64,
                                             max_concurrency=max(CONCURRENCY)))
    one_at_a_time = create_app(served, ServeConfig(strategy=STRATEGY, max_tokens=MAX_TOKENS, max_queue=64,
                                                   max_concurrency=1))
    figures: dict = {}
    try:
        with running(batched) as batched_url, running(one_at_a_time) as serial_url:
            def client(url: str):
                return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)

            clients = {"batched": client(batched_url), "one at a time": client(serial_url)}

            def served_one(kind: str, i: int) -> None:
                clients[kind].completions.create(model=served.name, prompt=texts[i], max_tokens=MAX_TOKENS,
                                                 temperature=TEMPERATURE, seed=i)

            def direct_one(i: int) -> None:
                answer([served.backend], ServedTask(), [texts[i]], STRATEGY, sampling, seed=i)

            served_one("batched", 0)  # warm every path
            direct_one(0)
            served_s, direct_s = [], []
            for i in range(args.requests):  # interleaved: both see the same machine
                started = time.perf_counter()
                served_one("batched", i)
                served_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                direct_one(i)
                direct_s.append(time.perf_counter() - started)
            figures["served / direct wall time, one request at a time (median of per-request ratios)"] = \
                statistics.median(s / d for s, d in zip(served_s, direct_s))
            figures["served / direct wall time, totals"] = sum(served_s) / sum(direct_s)
            figures["direct seconds per request (median)"] = statistics.median(direct_s)

            # The ceiling: the engine given every request's samples in one call (the seeds the server would use).
            seeds = [[sample_seed(i, served.name, ServedTask().name, ServedTask().problem(t, i).problem_id, j)
                      for j in range(K)] for i, t in enumerate(texts)]
            started = time.perf_counter()
            served.backend.generate(texts, seeds, sampling, ())
            ceiling = args.requests / (time.perf_counter() - started)
            figures["engine ceiling: requests/s, all in one generate call"] = ceiling
            rates: dict[tuple[str, int], float] = {}
            for concurrency in CONCURRENCY:
                for kind in clients:  # side by side at each concurrency
                    started = time.perf_counter()
                    with ThreadPoolExecutor(concurrency) as pool:
                        list(pool.map(lambda i: served_one(kind, i), range(args.requests)))
                    rates[kind, concurrency] = args.requests / (time.perf_counter() - started)
                    figures[f"requests/s at concurrency {concurrency}, {kind}"] = rates[kind, concurrency]
            top = max(CONCURRENCY)
            figures[f"batched: concurrency {top} / concurrency 1"] = rates["batched", top] / rates["batched", 1]
            figures[f"concurrency {top}: batched / one at a time"] = rates["batched", top] / rates["one at a time", top]
            figures[f"concurrency {top}, batched: share of the engine ceiling"] = rates["batched", top] / ceiling
    finally:
        served.close()
    body = (f"Model {args.model}, strategy {STRATEGY}, {MAX_TOKENS} new tokens, temperature {TEMPERATURE}, "
            f"{args.requests} distinct prompts, {args.threads} threads, {args.max_seqs} sequences per engine step, "
            f"run {SERVED_RUN!r} not stored. Both servers share one engine; the batched one answers up to "
            f"{max(CONCURRENCY)} requests at once and decodes their samples together.")
    command = (f".venv/bin/python benchmarks/bench_serve.py --model {args.model} --requests {args.requests} "
               f"--threads {args.threads} --max-seqs {args.max_seqs} --write")
    markdown = section("ttscale serve: overhead and cross-request batching", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_serve", markdown)


if __name__ == "__main__":
    main()
