"""`ttscale serve` under load (issue 14): a burst beyond what the server holds.

    .venv/bin/python benchmarks/bench_serve_load.py [--requests 200] [--clients 16] [--write]

``--requests`` requests (majority of 2, 8 new tokens, distinct prompts) from ``--clients`` client threads at once,
against a server that answers 4 at a time and lets 8 wait (``--max-concurrency 4 --max-queue 8``), keeping
what it serves in a store. A refused client does not retry: every refusal is counted. Reported: the statuses
(any 5xx is a failure), whether every refusal is a 429 with Retry-After, whether the store holds exactly the
answered requests' samples, and the process's resident memory before the burst, after it, and after a
second identical burst (memory that keeps growing burst after burst would be a leak).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "serve"))
from bench_md import section, write_section  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402

MAX_CONCURRENCY, MAX_QUEUE = 4, 8


def resident_mb() -> float:
    """The process's resident set now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    if installed_path(args.model) is None:
        sys.exit(f"needs {args.model}: ttscale models pull {args.model}")
    import httpx
    from live_server import running

    from ttscale.cli.serve_cmd import _served_model
    from ttscale.serve.app import ServeConfig, create_app
    from ttscale.store import Store

    served = _served_model(args.model, threads=args.threads, max_seqs=16)
    figures: dict = {}
    with TemporaryDirectory() as folder:
        store = Store(Path(folder) / "store.sqlite")
        app = create_app(served, ServeConfig(strategy="majority:k=2", max_tokens=8, max_concurrency=MAX_CONCURRENCY,
                                             max_queue=MAX_QUEUE), store)
        try:
            with running(app) as url, httpx.Client(timeout=300) as http:
                def send(i: int) -> httpx.Response:
                    return http.post(f"{url}/v1/completions", json={
                        "model": served.name, "prompt": f"Request {i}: a short line about the sea.", "seed": i})

                send(10 * args.requests)  # warm (its samples are stored too)
                memory = [resident_mb()]
                replies: list[httpx.Response] = []
                for burst in range(2):
                    started = time.perf_counter()
                    with ThreadPoolExecutor(args.clients) as clients:
                        batch = list(clients.map(send, range(burst * args.requests, (burst + 1) * args.requests)))
                    figures[f"burst {burst + 1}: wall seconds"] = time.perf_counter() - started
                    replies += batch
                    memory.append(resident_mb())
                statuses = Counter(r.status_code for r in replies)
                answered = [r.json() for r in replies if r.status_code == 200]
                stored = len(store.samples("serve"))
                expected = sum(a["usage"]["ttscale"]["samples"] for a in answered) + 2  # + the warm-up's
                figures.update({
                    "requests sent (two bursts)": len(replies),
                    "answered (200)": statuses[200],
                    "refused (429)": statuses[429],
                    "5xx": sum(n for status, n in statuses.items() if status >= 500),
                    "any other status": sum(n for status, n in statuses.items() if status not in (200, 429)
                                            and status < 500),
                    "every 429 has Retry-After": all("retry-after" in r.headers for r in replies
                                                     if r.status_code == 429),
                    "samples stored / samples of answered requests": f"{stored} / {expected}",
                    "resident MB before the bursts": memory[0],
                    "resident MB after burst 1": memory[1],
                    "resident MB after burst 2": memory[2],
                })
        finally:
            served.close()
            store.close()
    body = (f"Model {args.model} in process, {args.clients} clients at once, {args.requests} requests per burst, "
            f"server --max-concurrency {MAX_CONCURRENCY} --max-queue {MAX_QUEUE}, strategy majority:k=2, 8 new "
            f"tokens, {args.threads} threads, --store on.")
    command = (f".venv/bin/python benchmarks/bench_serve_load.py --model {args.model} --requests {args.requests} "
               f"--clients {args.clients} --threads {args.threads} --write")
    markdown = section("ttscale serve: a burst beyond the queue", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_serve_load", markdown)


if __name__ == "__main__":
    main()
