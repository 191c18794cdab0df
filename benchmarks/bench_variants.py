"""What each llama.cpp variant of a real model costs and keeps: file bytes, bits per weight, batched decode
speed, and the per-token negative log-likelihood of a fixed text next to the shipped file's (issue 13).

    .venv/bin/python benchmarks/bench_variants.py [--model qwen2.5-coder-1.5b] [--threads 2] [--write]

The fixed text is the first five HumanEval prompts (code and docstrings, the models' own domain),
scored token by token with the variant's own logits: NLL per token, in nats, and its difference to the
shipped file's on the same tokens (every variant keeps the shipped tokenizer). Decode speed: one
HumanEval prompt's 16 samples decoded as one batch of 32 tokens each (no stop string), the median of
``--rounds`` rounds, all variants measured in one run so their ratios hold on a noisy machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from bench_llama import _timed  # noqa: E402
from bench_md import section, write_section  # noqa: E402

from ttscale.backends.llama_cpp_engine import Entry  # noqa: E402
from ttscale.backends.registry import backend_from_spec  # noqa: E402
from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.tasks import get_task  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402
from ttscale.variants.spec import load_variant  # noqa: E402

VARIANTS = ("", "@q8_0", "@q4_0", "@q3_k_m", "@q2_k", "@drop=22-25")
TEXT_PROBLEMS = 5
BATCH, MAX_NEW = 16, 32


def fixed_text() -> str:
    return "\n".join(p.prompt for p in get_task("humaneval").problems(TEXT_PROBLEMS, seed=0))


def token_nll(backend, text: str) -> np.ndarray:
    """Each token's negative log-likelihood (nats) given the ones before it, from the engine's logits."""
    engine = backend.engine
    ids = engine.tokenize(text)
    engine.clear()
    logits = engine.decode([Entry(t, p, (0,), True) for p, t in enumerate(ids[:-1])])
    logits = logits.astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return log_z - logits[np.arange(len(ids) - 1), ids[1:]]


def decode_rate(backend, prompt: str, rounds: int) -> float:
    config = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=MAX_NEW)
    rates = []
    for _ in range(rounds):
        pool, seconds = _timed(lambda: backend.generate([prompt], [list(range(BATCH))], config, stop="")[0])
        rates.append(sum(len(g.token_ids) for g in pool) / seconds)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    if installed_path(args.model) is None:
        sys.exit(f"needs {args.model}: ttscale models pull {args.model}")
    text = fixed_text()
    prompt = get_task("humaneval").problems(1, seed=0)[0].prompt
    rows, shipped = [], None
    for suffix in VARIANTS:
        spec = args.model + suffix
        backend = backend_from_spec(spec, threads=args.threads, max_seqs=BATCH)
        try:
            nll = token_nll(backend, text)
            backend.generate([prompt], [[0]], SamplingConfig(temperature=1.0, max_new_tokens=2), stop="")  # warm
            rate = decode_rate(backend, prompt, args.rounds)
            card = backend.card
        finally:
            backend.close()
        size = (installed_path(spec) if not suffix else load_variant(spec).path).stat().st_size
        if shipped is None:
            shipped = nll
        rows.append((spec, size, card.bits_per_weight, card.n_layers, rate, float(nll.mean()),
                     float((nll - shipped).mean()), len(nll)))
        print(rows[-1], flush=True)
    base_rate = rows[0][4]
    lines = ["| variant | file | bits/weight | layers | decode tokens/s (batch 16) | vs shipped | NLL/token (nats) | "
             "ΔNLL vs shipped |", "|---|---|---|---|---|---|---|---|"]
    for spec, size, bits, layers, rate, nll, delta, _ in rows:
        lines.append(f"| {spec} | {size / 1e6:.0f} MB | {bits:.2f} | {layers} | {rate:.1f} | {rate / base_rate:.2f}x | "
                     f"{nll:.3f} | {delta:+.3f} |")
    body = (f"Fixed text: the first {TEXT_PROBLEMS} HumanEval prompts, {rows[0][7]} scored tokens. Decode: "
            f"{BATCH} samples of {MAX_NEW} tokens in one batch, median of {args.rounds} rounds, "
            f"{args.threads} threads.\n\n" + "\n".join(lines))
    command = (f".venv/bin/python benchmarks/bench_variants.py --model {args.model} --threads {args.threads} "
               f"--rounds {args.rounds} --write")
    markdown = section(f"Variants of {args.model}: size, speed and likelihood", command, body=body)
    print(markdown)
    if args.write:
        write_section("bench_variants", markdown)


if __name__ == "__main__":
    main()
