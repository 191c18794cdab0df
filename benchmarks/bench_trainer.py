"""Trainer throughput as a fraction of this machine's dense fp32 matmul FLOP/s.

    .venv/bin/python benchmarks/bench_trainer.py                      # d256 l4 h4 ff1024 ctx64
    .venv/bin/python benchmarks/bench_trainer.py --d-model 128 --n-layers 3 --batch-size 32
    .venv/bin/python benchmarks/bench_trainer.py --sizes              # tokens/s for ladder-like sizes

Achieved FLOP/s = the FLOPs ``flops.train_flops`` counts (6·N·D plus the
unembedding and causal attention terms) / the wall time of ``trainer.train``
(data packing, optimizer and all). The machine is shared, so measurements are
interleaved in rounds (matmul burst, then a short training run) and each
round's ratio uses the matmul rate measured next to it; the median round is
reported, the best round alongside.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from ttscale import flops
from ttscale.lab.model import TinyConfig
from ttscale.lab.trainer import train


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


def run(
    d_model: int = 256,
    n_layers: int = 4,
    n_heads: int = 4,
    d_ff: int | None = None,
    context_length: int = 64,
    batch_size: int = 64,
    threads: int = 2,
    rounds: int = 3,
    steps: int = 12,
    verbose: bool = True,
) -> dict:
    """Interleaved rounds of (matmul rate, trainer rate); returns the figures as a dict."""
    config = TinyConfig(d_model, n_layers, n_heads, d_ff or 4 * d_model, context_length)
    train(config, documents, batch_size * context_length, seed=0, batch_size=batch_size, threads=threads)  # warm up
    ratios, matmuls, trains = [], [], []
    for r in range(rounds):
        peak = flops.measure_matmul_flops(size=1024, seconds=1.0, threads=threads)
        got = measure(config, batch_size, steps, threads)
        matmuls.append(peak)
        trains.append(got)
        ratios.append(got["flops_per_second"] / peak)
        if verbose:
            print(
                f"round {r + 1}/{rounds}: matmul {peak / 1e9:.1f} GFLOP/s, trainer "
                f"{got['flops_per_second'] / 1e9:.1f} GFLOP/s ({got['tokens_per_second']:.0f} tokens/s), "
                f"fraction {ratios[-1]:.1%}",
                flush=True,
            )
    mid = sorted(range(rounds), key=lambda i: ratios[i])[rounds // 2]
    figures = {
        "model": f"d{d_model} l{n_layers} h{n_heads} ff{d_ff or 4 * d_model} ctx{context_length}",
        "params_non_embedding": trains[0]["params_non_embedding"],
        "batch_size": batch_size,
        "threads": threads,
        "train_flops_per_token": trains[0]["flops_per_token"],
        "matmul_gflops": matmuls[mid] / 1e9,
        "trainer_gflops": trains[mid]["flops_per_second"] / 1e9,
        "trainer_tokens_per_second": trains[mid]["tokens_per_second"],
        "fraction_of_matmul": ratios[mid],
        "fraction_best_round": max(ratios),
        "rounds": rounds,
    }
    if verbose:
        print(
            f"{figures['model']}: trainer reaches {figures['fraction_of_matmul']:.1%} of dense matmul "
            f"({figures['trainer_gflops']:.1f} / {figures['matmul_gflops']:.1f} GFLOP/s, "
            f"{figures['trainer_tokens_per_second']:.0f} tokens/s; best round {figures['fraction_best_round']:.1%})"
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
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12, help="training steps per round")
    parser.add_argument("--sizes", action="store_true", help="tokens/s for ladder-like model sizes instead")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.sizes:
        sizes(args.batch_size, args.threads, args.context)
    else:
        run(args.d_model, args.n_layers, args.n_heads, args.d_ff, args.context, args.batch_size,
            args.threads, args.rounds, args.steps)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
