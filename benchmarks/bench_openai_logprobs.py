"""What asking for log-probabilities costs on llama-cpp-python's server (Gemma 3 270M, 262k vocabulary).

    .venv/bin/python benchmarks/bench_openai_logprobs.py [--threads 1] [--requests 2] [--max-new 16] [--rounds 2] [--write]

Starts llama-cpp-python's OpenAI-compatible server on loopback with the packaged
Gemma 3 270M GGUF, then draws the same ``--requests`` samples (same prompts,
same seeds) through ttscale's ``openai:`` backend twice per round, once with
``logprobs=True`` (the default: ``logprobs: 1`` in every request) and once with
``logprobs=False``, alternating which goes first. Medians over the rounds; the
ratio is what the switch saves, and the difference per completion token is
what each token's log-probabilities cost (prefill is the same either way). Sampling settings are the server's own
distribution turned off (``top_k=0, min_p=0, repeat_penalty=1``), as in the tests.
"""

from __future__ import annotations

import argparse
import statistics
import time

from ttscale.backends.local_server import llama_cpp_server
from ttscale.backends.openai import OpenAIBackend
from ttscale.cards import gemma3_270m, gemma3_270m_path
from ttscale.tasks import get_task
from ttscale.types import SamplingConfig


def _draw(url: str, logprobs: bool, prompts: list[str], config: SamplingConfig) -> tuple[float, int, bool]:
    """Seconds for one sample of each prompt (one request each), completion tokens, whether logprobs came back."""
    backend = OpenAIBackend.from_spec(
        f"openai:{url}/v1#gemma", card=gemma3_270m().card, trust_env=False, max_concurrency=1, timeout_s=600,
        logprobs=logprobs, extra_body={"top_k": 0, "min_p": 0, "repeat_penalty": 1.0},
    )  # fmt: skip
    with backend:
        backend.count_tokens("warm")  # finds the tokenize endpoint outside the timed part
        started = time.perf_counter()
        pools = backend.generate(prompts, [[7] for _ in prompts], config, stop="")
        seconds = time.perf_counter() - started
        samples = [pool[0] for pool in pools]
        failed = [s.error for s in samples if s.error]
        if failed:
            raise SystemExit(f"a request failed: {failed[0]}")
        return seconds, backend.usage.completion_tokens, all(s.logprob == s.logprob for s in samples)


def run(threads: int = 1, requests: int = 2, max_new: int = 16, rounds: int = 2) -> dict:
    prompts = [p.prompt for p in get_task("humaneval").problems(requests, seed=0)]
    config = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=max_new)
    times: dict[bool, list[float]] = {True: [], False: []}
    tokens: dict[bool, int] = {}
    with llama_cpp_server(gemma3_270m_path(), "gemma", threads=threads) as url:
        _draw(url, False, prompts[:1], SamplingConfig(temperature=1.0, max_new_tokens=2))  # warm-up, not timed
        for round_ in range(rounds):
            for logprobs in ((True, False) if round_ % 2 == 0 else (False, True)):
                seconds, tokens[logprobs], got = _draw(url, logprobs, prompts, config)
                assert got == logprobs, "the server's answers do not match the switch"
                times[logprobs].append(seconds)
            print(f"round {round_ + 1}: with {times[True][-1]:.2f} s, without {times[False][-1]:.2f} s", flush=True)
    with_s, without_s = statistics.median(times[True]), statistics.median(times[False])
    return {
        "server": "llama-cpp-python server (llama_cpp.server), loopback",
        "model": "gemma3-270m Q4_K_M, vocabulary 262144",
        "requests_per_draw": f"{requests} HumanEval prompts, one sample each, one request at a time",
        "max_new_tokens": max_new,
        "server_threads": threads,
        "rounds": rounds,
        "completion_tokens_with_logprobs": tokens[True],
        "completion_tokens_without_logprobs": tokens[False],
        "seconds_with_logprobs": with_s,
        "seconds_without_logprobs": without_s,
        "slowdown_from_logprobs": with_s / without_s,
        # Prefill costs the same either way; the difference is what each generated token's logprobs cost.
        "extra_seconds_per_completion_token": (with_s - without_s) / max(1, tokens[True]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--requests", type=int, default=2)
    parser.add_argument("--max-new", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    figures = run(args.threads, args.requests, args.max_new, args.rounds)
    for key, value in figures.items():
        print(f"{key:36s} {value:.4g}" if isinstance(value, float) else f"{key:36s} {value}")
    if args.write:
        import bench_md

        command = (f".venv/bin/python benchmarks/bench_openai_logprobs.py --threads {args.threads} "
                   f"--requests {args.requests} --max-new {args.max_new} --rounds {args.rounds} --write")
        body = ("The same samples drawn through the `openai:` backend with log-probabilities asked for (the default) "
                "and without (`logprobs=False`): llama-cpp-python's server computes them over the whole vocabulary "
                "at every token. Without them a sample's `logprob` is NaN, so strategies that rank by it cannot run.")
        bench_md.write_section("openai_logprobs", bench_md.section(
            "The openai backend: cost of asking for log-probabilities (llama-cpp-python server, Gemma 3 270M)",
            command, figures, body))


if __name__ == "__main__":
    main()
