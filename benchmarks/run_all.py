"""Run the benchmarks and write BENCHMARKS.md.

    .venv/bin/python benchmarks/run_all.py            # sampling + trainer
    .venv/bin/python benchmarks/run_all.py --lab      # also time `ttscale lab --preset default`

Figures are ratios measured side by side in one run: the machines are shared
and noisy, so absolute times drift while ratios hold. Each section records the
command that reproduces it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def _lab_wall_time(preset: str) -> dict:
    """Time the whole lab from a cold checkpoint cache (training included)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(ROOT / ".venv/bin/ttscale"), "lab", "--preset", preset, "--out", f"{tmp}/report", "--quiet"]
        env = {"TTSCALE_CACHE": f"{tmp}/cache", "PATH": "/usr/bin:/bin"}
        started = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, cwd=tmp)
        wall = time.perf_counter() - started
        result = json.loads(Path(f"{tmp}/report/tradeoff.json").read_text())
    lab = result["lab"]
    steps = lab["train_seconds"] + lab["compress_seconds"] + lab["sample_seconds"] + lab["search_seconds"]
    return {
        "preset": preset,
        "wall_seconds": wall,
        "train_seconds": lab["train_seconds"],
        "compress_seconds": lab["compress_seconds"],
        "sample_seconds": lab["sample_seconds"],
        "search_seconds": lab["search_seconds"],
        "analysis_and_report_seconds": wall - steps,
        "samples": lab["samples_total"],
        "techniques_with_rate": len(lab["techniques_with_rate"]),
        "techniques_with_span": len(lab["techniques_with_span"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", action="store_true", help="also time `ttscale lab --preset default` (about 15 min)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()

    import bench_md
    import bench_sampling
    import bench_trainer

    sections = []
    sampling = bench_sampling.run()
    sections.append(("Batched KV-cached sampling vs one-at-a-time without a cache", sampling,
                     ".venv/bin/python benchmarks/bench_sampling.py"))
    from ttscale.lab.ladder import PRESETS

    # The largest model of the default ladder, trained as the lab trains it.
    largest = max(PRESETS["default"].rungs, key=lambda r: r.config.d_model * r.config.n_layers)
    c, batch = largest.config, PRESETS["default"].batch_size
    trainer = bench_trainer.run(d_model=c.d_model, n_layers=c.n_layers, n_heads=c.n_heads, d_ff=c.d_ff,
                                context_length=c.context_length, batch_size=batch)
    sections.append((f"Trainer throughput vs this machine's dense-matmul FLOP/s ({largest.name}, batch {batch})",
                     trainer,
                     f".venv/bin/python benchmarks/bench_trainer.py --d-model {c.d_model} --n-layers {c.n_layers} "
                     f"--n-heads {c.n_heads} --batch-size {batch}"))
    wide = bench_trainer.run()
    sections.append(("Trainer throughput vs dense-matmul FLOP/s (d256 l4, batch 64: a larger shape)", wide,
                     ".venv/bin/python benchmarks/bench_trainer.py"))
    if args.lab:
        sections.append(("Wall time of the main job", _lab_wall_time("default"),
                         ".venv/bin/python benchmarks/run_all.py --lab  (ttscale lab --preset default, cold "
                         "checkpoint cache; training runs uncached rungs side by side, one process per core at one "
                         "torch thread each; search = tree searches (value models only where the preset trains them))"))

    for name, (title, figures, command) in zip(("sampling", "trainer", "trainer_wide", "lab_wall"), sections):
        bench_md.write_section(name, bench_md.section(title, command, figures), Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
