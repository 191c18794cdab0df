"""Inference cost in weight bytes next to FLOPs (issue 13): what a pool charges, what a points file carries,
and what the engine reads when asked for bytes."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from ttscale import flops
from ttscale.cli import main
from ttscale.errors import InputError
from ttscale.sampling.pools import pools_from_samples, weight_bytes_of, with_weight_bytes
from ttscale.strategies import evaluate
from ttscale.tradeoff.points import read_points_file
from ttscale.types import ModelCard, Sample, SampleKey

CARD = ModelCard(name="m", params_total=1_000_000, params_non_embedding=800_000, n_layers=4, d_model=128,
                 n_heads=4, d_ff=512, vocab_size=1000, context_length=256, bits_per_weight=4.5, train_flops=1e15)
PROMPT = 20


def _sample(index: int, tokens: int, decode: float | None = None, shared: bool = True) -> Sample:
    return Sample(key=SampleKey("r", "m", "t", "p1", "c", index), seed=index, completion="x", tokens=(1,) * tokens,
                  logprob=-1.0, answer="a", correct=True, verified=None, prompt_tokens=PROMPT,
                  prefill_flops=flops.prefill_flops(CARD, PROMPT),
                  decode_flops=flops.decode_flops(CARD, PROMPT, tokens) if decode is None else decode,
                  verifier_flops=0.0, prefill_shared=shared, wall_seconds=0.1)


def _pool(samples):
    return with_weight_bytes(pools_from_samples(samples), {"m": CARD})[("m", "t", "c")][0]


def test_weight_bytes_are_parameters_times_bits_over_eight():
    assert weight_bytes_of(CARD) == 1_000_000 * 4.5 / 8
    assert math.isnan(weight_bytes_of(ModelCard(**{**CARD.to_dict(), "bits_per_weight": None})))


def test_bytes_are_one_weight_read_per_prefill_and_per_decoded_token():
    pool = _pool([_sample(0, 6), _sample(1, 10)])
    per_pass = 1_000_000 * 4.5 / 8
    # Shared prompt: one prefill for the problem, then each draw's own tokens (mean 8).
    assert pool.inference_bytes(2) == pytest.approx(per_pass * (1 + 2 * 8))
    unshared = _pool([_sample(0, 6, shared=False), _sample(1, 10, shared=False)])
    assert unshared.inference_bytes(2) == pytest.approx(per_pass * (2 + 2 * 8))


def test_a_sample_that_ran_fewer_layers_reads_fewer_bytes():
    full = flops.decode_flops(CARD, PROMPT, 10)
    pool = _pool([_sample(0, 10, decode=full / 2), _sample(1, 10, decode=full / 2)])
    assert pool.inference_bytes(1) == pytest.approx(weight_bytes_of(CARD) * (1 + 10 / 2))


def test_a_replayed_strategy_charges_bytes_as_draws_times_the_pool_mean():
    pool = _pool([_sample(i, 4 + i) for i in range(4)])
    result = evaluate("majority:k=2", [[pool]], n_boot=10)
    assert result.infer_bytes == pytest.approx(weight_bytes_of(CARD) * (1 + 2 * np.mean([4, 5, 6, 7])))
    assert result.infer_flops == pytest.approx(pool.inference_flops(2, False))


def _points_file(tmp_path: Path, with_bytes: bool = True) -> Path:
    header = "technique,model,train_flops,infer_flops,performance" + (",infer_bytes" if with_bytes else "")
    rows = [header]
    for i in range(3):
        for j in range(3):
            perf = 0.1 + 0.1 * i + 0.1 * j
            # Bytes fall with the model (a quantized sibling) while FLOPs do not.
            extra = f",{10 ** (8 + j - i)}" if with_bytes else ""
            rows.append(f"t,m{i},{10 ** (18 + i)},{10 ** (10 + j)},{perf:.2f}{extra}")
    rows.append("search,m0,1e18,1e11,0.2" + (",nan" if with_bytes else ""))
    path = tmp_path / "points.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_points_file_reads_its_bytes_column_and_leaves_uncounted_rows_out(tmp_path):
    path = _points_file(tmp_path)
    in_bytes = read_points_file(path, cost="bytes")
    assert [p.infer_flops for p in in_bytes.points][:3] == [1e8, 1e9, 1e10]
    assert dict(in_bytes.uncounted) == {"search": 1}
    assert len(read_points_file(path).points) == 10  # FLOPs: every row


def test_bytes_without_the_column_is_refused_by_name(tmp_path):
    with pytest.raises(InputError, match="--cost bytes: .* no 'infer_bytes' column"):
        read_points_file(_points_file(tmp_path, with_bytes=False), cost="bytes")


def test_tradeoff_in_bytes_says_so_in_its_json(tmp_path, capsys, monkeypatch):
    path = _points_file(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["ttscale", "tradeoff", str(path), "--cost", "bytes", "--n-boot", "0",
                                      "--json", str(tmp_path / "t.json")])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    result = json.loads((tmp_path / "t.json").read_text())
    assert result["cost"] == "bytes" and "bytes" in result["cost_words"]
    assert set(result["techniques"]) == {"t"}
    assert "1 point(s) of 'search' left out" in capsys.readouterr().out


def test_the_plan_in_bytes_adds_training_and_inference_in_device_time(tmp_path):
    from ttscale.planner import plan
    from ttscale.types import Point

    # Two ways to reach 0.6: a small model reading many bytes per answer, a large one quantized hard.
    points = [Point("t", "small", 1e18, 1e9, 0.6), Point("t", "large-q", 1e20, 1e8, 0.6)]
    result = plan(points, inferences=1e6, target=0.6, hardware="h100", cost="bytes")
    assert result["cost"] == "bytes"
    choice = result["choice"]
    # Device time written out: TC at 40 % of 989 TFLOP/s, each inference's bytes at 3.35 TB/s.
    hours = {name: (tc / (989e12 * 0.4) + 1e6 * b / 3.35e12) / 3600 for name, tc, b in
             (("small", 1e18, 1e9), ("large-q", 1e20, 1e8))}
    best = min(hours, key=hours.get)
    assert choice["model"] == best
    assert choice["cost"]["hours"] == pytest.approx(hours[best])


def test_the_plan_in_bytes_needs_a_device_with_bandwidth(tmp_path):
    from ttscale.planner import plan
    from ttscale.types import Point

    points = [Point("t", "a", 1e18, 1e9, 0.6)]
    with pytest.raises(InputError, match="--cost bytes: needs --hardware"):
        plan(points, inferences=1e6, target=0.5, cost="bytes")
    table = tmp_path / "devices.json"
    table.write_text(json.dumps({"npu": {"peak_flops": 1e14, "watts": 100}}))
    with pytest.raises(InputError, match="'npu' has no memory bandwidth: give --memory-bytes-per-second"):
        plan(points, inferences=1e6, target=0.5, cost="bytes", hardware="npu", hardware_file=str(table))
