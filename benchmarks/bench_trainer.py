"""Trainer throughput as a fraction of this machine's dense fp32 matmul FLOP/s.

    .venv/bin/python benchmarks/bench_trainer.py                      # d256 l4 h4 ff1024 ctx64
    .venv/bin/python benchmarks/bench_trainer.py --d-model 128 --n-layers 3 --batch-size 32
    .venv/bin/python benchmarks/bench_trainer.py --sizes              # tokens/s for ladder-like sizes

Achieved FLOP/s = the FLOPs ``flops.train_flops`` counts (6·N·D plus the
unembedding and causal attention terms) / the wall time of ``trainer.train``
(data packing, optimizer and all). The machine is shared, so every training
step is followed by a short matmul burst and each step's ratio uses the burst
measured next to it; the median step is reported, the aggregate alongside.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from ttscale.tiny.model import TinyConfig
from ttscale.tiny.trainer import train


def documents(seed: int = 0):
    """Task-like demonstrations (sums and factorings); content does not affect speed."""
    rng = random.Random(seed)
    while True:
        a, b, c = rng.randrange(100), rng.randrange(100), rng.randrange(100)
        if rng.random() < 0.5:
            yield f"A{a:02d}+{b:02d}+{c:02d}={a + b + c}\n"
        else:
            p, q = rng.randrange(2, 100), rng.randrange(2, 100)
            yield f"F{p * q:04d}={min(p, q)}*{max(p, q)}\n"


def measure(config: TinyConfig, batch_size: int, steps: int, threads: int) -> dict:
    """Train ``steps`` steps once; tokens/s and counted FLOP/s of that run."""
    tokens = steps * batch_size * config.context_length
    result = train(config, documents, tokens, seed=0, batch_size=batch_size, threads=threads)
    return {
        "tokens_per_second": result.card.train_tokens / result.wall_seconds,
        "flops_per_second": result.achieved_flops_per_second,
        "params_non_embedding": result.card.params_non_embedding,
        "flops_per_token": result.card.train_flops / result.card.train_tokens,
    }


def _matmul_burst(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, seconds: float) -> tuple[float, float]:
    """(FLOPs, seconds) of back-to-back matmuls for about ``seconds``."""
    started, count = time.perf_counter(), 0
    while True:
        torch.mm(a, b, out=out)
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return 2.0 * a.shape[0] ** 3 * count, elapsed


def run(
    d_model: int = 256,
    n_layers: int = 4,
    n_heads: int = 4,
    d_ff: int | None = None,
    context_length: int = 64,
    batch_size: int = 64,
    threads: int = 2,
    steps: int = 24,
    burst_seconds: float = 0.3,
    verbose: bool = True,
) -> dict:
    """Train ``steps`` steps with a matmul burst after each; returns the figures as a dict.

    Interleaving step by step makes the trainer and the matmul see the same
    load from other processes. Each step's fraction is (its counted FLOPs /
    its time) / (the next burst's FLOP/s); the median step is reported, and the
    aggregate over all steps but the first (warm-up) alongside.
    """
    config = TinyConfig(d_model, n_layers, n_heads, d_ff or 4 * d_model, context_length)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b, out = torch.randn(1024, 1024), torch.randn(1024, 1024), torch.empty(1024, 1024)
        _matmul_burst(a, b, out, 0.1)  # warm up
        step_seconds: list[float] = []
        burst_rates: list[float] = []
        last = [time.perf_counter()]

        def after_step(_tokens: int) -> None:
            step_seconds.append(time.perf_counter() - last[0])
            flop, seconds = _matmul_burst(a, b, out, burst_seconds)
            burst_rates.append(flop / seconds)
            last[0] = time.perf_counter()

        tokens = steps * batch_size * context_length
        result = train(config, documents, tokens, seed=0, batch_size=batch_size, threads=threads, progress=after_step)
    finally:
        torch.set_num_threads(previous)
    per_step = result.card.train_flops / result.steps
    fractions = [per_step / t / r for t, r in zip(step_seconds[1:], burst_rates[1:])]
    train_rate = per_step * len(step_seconds[1:]) / sum(step_seconds[1:])
    matmul_rate = len(burst_rates[1:]) / sum(1.0 / r for r in burst_rates[1:])  # harmonic mean
    figures = {
        "model": f"d{d_model} l{n_layers} h{n_heads} ff{d_ff or 4 * d_model} ctx{context_length}",
        "params_non_embedding": result.card.params_non_embedding,
        "batch_size": batch_size,
        "threads": threads,
        "train_flops_per_token": result.card.train_flops / result.card.train_tokens,
        "matmul_gflops": matmul_rate / 1e9,
        "trainer_gflops": train_rate / 1e9,
        "trainer_tokens_per_second": train_rate / (result.card.train_flops / result.card.train_tokens),
        "fraction_of_matmul": statistics.median(fractions),
        "fraction_aggregate": train_rate / matmul_rate,
        "steps": result.steps,
    }
    if verbose:
        print(
            f"{figures['model']}, batch {batch_size}, {threads} threads: the trainer reaches "
            f"{figures['fraction_of_matmul']:.1%} of dense matmul FLOP/s (median step; aggregate "
            f"{figures['fraction_aggregate']:.1%}: {figures['trainer_gflops']:.1f} / {figures['matmul_gflops']:.1f} "
            f"GFLOP/s, {figures['trainer_tokens_per_second']:.0f} tokens/s)"
        )
    return figures


LADDER_SIZES = ((32, 2), (64, 2), (64, 3), (128, 3), (128, 4), (192, 4), (256, 4))


def sizes(batch_size: int, threads: int, context_length: int = 64, seconds: float = 6.0) -> list[dict]:
    """tokens/s for ladder-like shapes (heads = d_model/32, d_ff = 4·d_model), about ``seconds`` each."""
    rows = []
    for d_model, n_layers in LADDER_SIZES:
        config = TinyConfig(d_model, n_layers, max(1, d_model // 32), 4 * d_model, context_length)
        probe = measure(config, batch_size, 2, threads)  # also warms up
        steps = max(3, int(seconds * probe["tokens_per_second"] / (batch_size * context_length)))
        got = measure(config, batch_size, steps, threads)
        rows.append({"d_model": d_model, "n_layers": n_layers, **got})
        print(
            f"d{d_model} l{n_layers}: N={got['params_non_embedding']:>9,}  {got['tokens_per_second']:>9.0f} tokens/s  "
            f"{got['flops_per_second'] / 1e9:6.1f} GFLOP/s",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--n-layers", type=int, default=4)
    parser.add_argument("--n-heads", type=int, default=4)
    parser.add_argument("--d-ff", type=int, default=None, help="default 4·d_model")
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=24, help="training steps (each followed by a matmul burst)")
    parser.add_argument("--sizes", action="store_true", help="tokens/s for ladder-like model sizes instead")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.sizes:
        sizes(args.batch_size, args.threads, args.context)
    else:
        run(args.d_model, args.n_layers, args.n_heads, args.d_ff, args.context, args.batch_size,
            args.threads, args.steps)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
