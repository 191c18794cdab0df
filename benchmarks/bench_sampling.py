"""Batched KV-cached pool sampling vs one sample at a time without a cache.

    .venv/bin/python benchmarks/bench_sampling.py
    .venv/bin/python benchmarks/bench_sampling.py --d-model 192 --n-layers 4 --problems 8

Same model, same prompts, same seeds: ``sampler.sample_pools`` (each prompt
prefilled once, its cache shared by its n samples, all rows decoded together)
against ``sampler.sample_one_at_a_time_no_cache`` (the whole sequence
recomputed for every new token, one sample at a time). The reference is slow,
so it runs a subset of the seeds and its rate is per sample (and per token).
The model is untrained (seeded), so samples run to the token limit more
often than a trained model's would. The machine is shared: the two are
measured alternately in rounds and the median round's ratio is reported.
"""

from __future__ import annotations

import argparse
import time

import torch

from ttscale.tiny import tokenizer
from ttscale.tiny.model import TinyConfig, TinyGPT
from ttscale.tiny.sampler import sample_one_at_a_time_no_cache, sample_pools
from ttscale.types import SamplingConfig

PROMPTS = ["A12+34+56=", "F0391=", "A07+88+19=", "F2021=", "A45+45+45=", "F0899=", "A10+20+30=", "F1517="]


def run(
    d_model: int = 128,
    n_layers: int = 4,
    n_heads: int = 4,
    context_length: int = 64,
    problems: int = 4,
    samples: int = 64,
    reference_samples: int = 4,
    max_new_tokens: int = 24,
    threads: int = 2,
    rounds: int = 5,
    verbose: bool = True,
) -> dict:
    """Interleaved rounds of (batched, reference); returns the figures as a dict."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = TinyGPT(TinyConfig(d_model, n_layers, n_heads, 4 * d_model, context_length)).eval()
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(problems)]
        seeds = [[1000 * i + j for j in range(samples)] for i in range(problems)]
        config = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=max_new_tokens)
        sample_pools(model, tokenizer, prompts[:1], 2, config, [seeds[0][:2]])  # warm up
        speedups, batched_rates, reference_rates, token_speedups = [], [], [], []
        agree = compared = 0
        for r in range(rounds):
            started = time.perf_counter()
            pools = sample_pools(model, tokenizer, prompts, samples, config, seeds)
            batched_s = time.perf_counter() - started
            batched_tokens = sum(len(g.token_ids) for pool in pools for g in pool)

            started = time.perf_counter()
            reference = [
                sample_one_at_a_time_no_cache(model, tokenizer, p, s[:reference_samples], config)
                for p, s in zip(prompts, seeds)
            ]
            reference_s = time.perf_counter() - started
            reference_tokens = sum(len(g.token_ids) for pool in reference for g in pool)
            for pool, ref in zip(pools, reference):
                for got, want in zip(pool, ref):
                    compared += 1
                    agree += got.token_ids == want.token_ids

            batched_rate = problems * samples / batched_s
            reference_rate = problems * reference_samples / reference_s
            batched_rates.append(batched_rate)
            reference_rates.append(reference_rate)
            speedups.append(batched_rate / reference_rate)
            token_speedups.append((batched_tokens / batched_s) / (reference_tokens / reference_s))
            if verbose:
                print(
                    f"round {r + 1}/{rounds}: batched {batched_rate:.0f} samples/s "
                    f"({batched_tokens / batched_s:.0f} tokens/s), reference {reference_rate:.1f} samples/s "
                    f"({reference_tokens / reference_s:.0f} tokens/s): {speedups[-1]:.1f}x",
                    flush=True,
                )
    finally:
        torch.set_num_threads(previous)
    mid = sorted(range(rounds), key=lambda i: speedups[i])[rounds // 2]
    figures = {
        "model": f"d{d_model} l{n_layers} h{n_heads} ctx{context_length} (untrained)",
        "problems": problems,
        "samples_per_problem": samples,
        "max_new_tokens": max_new_tokens,
        "threads": threads,
        "batched_samples_per_second": batched_rates[mid],
        "reference_samples_per_second": reference_rates[mid],
        "speedup_samples_per_second": speedups[mid],
        "speedup_tokens_per_second": token_speedups[mid],
        "reference_agreement": agree / compared,
        "rounds": rounds,
    }
    if verbose:
        print(
            f"{figures['model']}: batched KV-cached sampling is {figures['speedup_samples_per_second']:.1f}x "
            f"one-at-a-time without a cache ({figures['batched_samples_per_second']:.0f} vs "
            f"{figures['reference_samples_per_second']:.1f} samples/s); "
            f"{figures['reference_agreement']:.0%} of reference samples identical"
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--n-layers", type=int, default=4)
    parser.add_argument("--n-heads", type=int, default=4)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--problems", type=int, default=4)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--reference-samples", type=int, default=4, help="per problem, for the slow reference")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    run(args.d_model, args.n_layers, args.n_heads, args.context, args.problems, args.samples,
        args.reference_samples, args.max_new_tokens, args.threads, args.rounds)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
