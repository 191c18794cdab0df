"""Gemma 3 270M on llama.cpp: a pool of samples decoded as one batch vs one at a time.

    .venv/bin/python benchmarks/bench_llama.py [--threads 2] [--samples 16] [--write]

Three ways to draw the same ``--samples`` samples of one HumanEval prompt, run
interleaved for several rounds (medians; the machines are shared):

- **batched**: ttscale's backend, all samples in one wave (shared prefill);
- **sequential**: the same backend, one sample per call (prefill each time);
- **llama-cpp-python high level**: ``Llama.create_completion`` once per seed,
  what a user would write without ttscale.

And the **engine's own batched speed**: the same model decoding the same number
of live sequences per step through the low-level API with argmax and nothing
else, so ``batched / engine`` is the share of llama.cpp's batched throughput
that ttscale's sampling path keeps (its per-seed token choice and log-probs).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from ttscale.backends.llama_cpp import LlamaCppBackend
from ttscale.backends.llama_cpp_engine import Entry
from ttscale.cards import gemma3_270m_path
from ttscale.tasks import get_task
from ttscale.types import SamplingConfig


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _engine_batched(backend: LlamaCppBackend, prompt_ids: list[int], live_per_step: list[int]) -> float:
    """Seconds for the engine alone: shared prefill, then one decode per step with argmax."""
    engine = backend.engine
    rows = live_per_step[0]
    started = time.perf_counter()
    engine.clear()
    seq_ids = tuple(range(rows))
    logits = engine.decode([Entry(t, p, seq_ids, p == len(prompt_ids) - 1) for p, t in enumerate(prompt_ids)])
    token = int(logits[0].argmax())
    tokens = [token] * rows
    pos = len(prompt_ids)
    for live in live_per_step[1:]:
        logits = engine.decode([Entry(tokens[s], pos, (s,), True) for s in range(live)])
        tokens = [int(t) for t in logits.argmax(axis=1)]
        pos += 1
    return time.perf_counter() - started


def run(threads: int = 2, samples: int = 16, max_new: int = 64, rounds: int = 3) -> dict:
    prompt = get_task("humaneval").problems(1, seed=0)[0].prompt
    config = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=max_new)
    seeds = list(range(samples))
    backend = LlamaCppBackend.gemma3_270m(n_threads=threads, max_seqs=samples, n_ctx=4096)
    import llama_cpp

    high_level = llama_cpp.Llama(model_path=str(gemma3_270m_path()), n_ctx=2048, n_threads=threads, verbose=False)
    prompt_ids = backend.engine.tokenize(prompt)
    times: dict[str, list[float]] = {"batched": [], "sequential": [], "high_level": [], "engine": []}
    tokens: dict[str, int] = {}
    # Warm-up (not timed): llama.cpp sizes its compute buffers for each new batch shape.
    backend.generate([prompt], [seeds], SamplingConfig(temperature=1.0, max_new_tokens=4), stop="")
    backend.generate([prompt], [seeds[:1]], SamplingConfig(temperature=1.0, max_new_tokens=4), stop="")
    high_level.create_completion(prompt, max_tokens=4, temperature=1.0, seed=0)
    for _ in range(rounds):
        pool, seconds = _timed(lambda: backend.generate([prompt], [seeds], config, stop="")[0])
        times["batched"].append(seconds)
        lengths = [len(g.token_ids) for g in pool]
        tokens["batched"] = sum(lengths)
        live_per_step = [sum(1 for n in lengths if n > step) for step in range(max(lengths))]
        times["engine"].append(_engine_batched(backend, prompt_ids, live_per_step))
        tokens["engine"] = sum(live_per_step)

        one_by_one, seconds = _timed(lambda: [backend.generate([prompt], [[s]], config, stop="")[0][0] for s in seeds])
        times["sequential"].append(seconds)
        tokens["sequential"] = sum(len(g.token_ids) for g in one_by_one)

        def high():
            return [high_level.create_completion(prompt, max_tokens=max_new, temperature=1.0, top_k=0, top_p=1.0,
                                                 min_p=0.0, seed=s) for s in seeds]  # fmt: skip

        outs, seconds = _timed(high)
        times["high_level"].append(seconds)
        tokens["high_level"] = sum(o["usage"]["completion_tokens"] for o in outs)
        print("seconds this round:", {k: round(v[-1], 2) for k, v in times.items()}, flush=True)
    high_level.close()
    backend.close()
    rate = {k: tokens[k] / statistics.median(v) for k, v in times.items()}
    return {
        "model": "gemma3-270m Q4_K_M (Q8_0 embeddings)",
        "prompt": "HumanEval/0",
        "prompt_tokens": len(prompt_ids),
        "samples": samples,
        "max_new_tokens": max_new,
        "threads": threads,
        "rounds": rounds,
        "batched_tokens_per_second": rate["batched"],
        "sequential_tokens_per_second": rate["sequential"],
        "high_level_tokens_per_second": rate["high_level"],
        "engine_batched_tokens_per_second": rate["engine"],
        "speedup_vs_sequential": rate["batched"] / rate["sequential"],
        "speedup_vs_high_level": rate["batched"] / rate["high_level"],
        "share_of_engine_batched_speed": rate["batched"] / rate["engine"],
        "mean_tokens_per_sample": float(np.mean([tokens["batched"] / samples])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--max-new", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    figures = run(args.threads, args.samples, args.max_new, args.rounds)
    for key, value in figures.items():
        print(f"{key:36s} {value:.4g}" if isinstance(value, float) else f"{key:36s} {value}")
    if args.write:
        import bench_md

        command = (f".venv/bin/python benchmarks/bench_llama.py --threads {args.threads} --samples {args.samples} "
                   f"--max-new {args.max_new} --rounds {args.rounds} --write")
        name = "llama_batched" if args.samples == 16 else f"llama_batched_{args.samples}"
        bench_md.write_section(name, bench_md.section(
            f"Gemma 3 270M: {args.samples} samples of one prompt decoded as a batch vs one at a time", command, figures))


if __name__ == "__main__":
    main()
