"""Quantized variants of a real GGUF model (SmolLM2-135M, which the setup installs), made by llama.cpp in a
subprocess: their files, cards, specs and store rows."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ttscale.backends.registry import POSING_KINDS, backend_from_spec, spec_kind
from ttscale.cards import load_card
from ttscale.cli import _load_commands, app
from ttscale.errors import InputError
from ttscale.store import Store
from ttscale.types import SamplingConfig
from ttscale.variants.quantize import QuantizeError, quantize
from ttscale.variants.spec import load_variant, split_variant


def test_a_variant_is_made_once_and_carries_its_bases_training_compute(cache):
    base = load_card("smollm2-135m").card
    made = load_variant("smollm2-135m@q8_0", cache)
    card = made.variant.card
    assert card.name == "smollm2-135m@q8_0" and card.quantization == "Q8_0"
    assert card.params_total == base.params_total and card.train_flops == base.train_flops
    assert made.variant.train_flops == base.train_flops and made.variant.derivation == "quantize:type=q8_0"
    # Real bits per weight from the tensors: more than the base's 5.74-bit Q4_1 file, under 9.
    assert base.bits_per_weight < card.bits_per_weight < 9.0
    assert "from its Q4_1 weights" in card.provenance
    stamp = made.path.stat().st_mtime_ns
    again = load_variant("smollm2-135m@q8_0", cache)
    assert again.path == made.path and again.path.stat().st_mtime_ns == stamp  # cached, not made again
    assert [p.name for p in made.path.parent.glob(".*partial")] == []


def test_a_failed_quantization_leaves_no_file(cache, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 4096)  # the magic, then nothing llama.cpp can read
    with pytest.raises(QuantizeError, match="quantize broken.gguf to q4_0: llama.cpp failed"):
        quantize(broken, "q4_0", cache)
    assert not any(p.suffix == ".gguf" or p.name.endswith(".partial") for p in (cache / "variants").iterdir())


def test_bad_variant_specs_are_one_line_each(cache):
    assert split_variant("gguf:/models/a@b/model.gguf") is None and split_variant("smollm2-135m") is None
    with pytest.raises(InputError, match="unknown quantization type 'q9_0'"):
        load_variant("smollm2-135m@q9_0", cache)
    with pytest.raises(InputError, match="variant base 'qwen9': only a GGUF model can be quantized"):
        load_variant("qwen9@q4_0", cache)
    with pytest.raises(InputError, match="only a GGUF model can be quantized"):
        load_variant("openai:http://127.0.0.1:1/v1#m@q4_0", cache)


def test_a_variant_spec_is_a_model_and_its_samples_are_its_own(cache, tmp_path):
    assert spec_kind("smollm2-135m@q4_0") in POSING_KINDS
    backend = backend_from_spec("smollm2-135m@q4_0", threads=1, max_seqs=2, n_ctx=512)
    try:
        (pool,) = backend.generate(["The capital of France is"], [[1, 2]], SamplingConfig(max_new_tokens=6), "\n")
        assert backend.name == "smollm2-135m@q4_0" and len(pool) == 2 and all(g.token_ids for g in pool)
    finally:
        backend.close()
    _load_commands()
    problems = tmp_path / "sums.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Q: What is {i} + 1?\nA:", "answer": i + 1})
                                + "\n" for i in range(2)))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["sweep", "--model", "smollm2-135m", "--model", "smollm2-135m@q4_0",
                                      "--task", f"jsonl:{problems}?grader=numeric", "--n", "2", "--max-tokens", "6",
                                      "--threads", "1", "--n-boot", "10", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Store(out / "store.sqlite") as store:
        (run,) = [r["run"] for r in store.runs()]
        base, variant = store.samples(run, "smollm2-135m"), store.samples(run, "smollm2-135m@q4_0")
    assert len(base) == len(variant) == 4
    assert not {s.key for s in base} & {s.key for s in variant}


def test_the_cli_quantizes_and_refuses_an_unknown_type_before_any_work(cache, tmp_path):
    _load_commands()
    runner = CliRunner()
    refused = runner.invoke(app, ["variant", "quantize", "--model", "smollm2-135m", "--types", "q4_0,q9_0"])
    assert isinstance(refused.exception, InputError) and "'q9_0'" in str(refused.exception)
    assert not (cache / "variants").exists() or not list((cache / "variants").glob("*.gguf"))
    done = runner.invoke(app, ["variant", "quantize", "--model", "smollm2-135m", "--types", "q4_0",
                               "--json", str(tmp_path / "v.json")])
    assert done.exit_code == 0, done.output
    (row,) = json.loads((tmp_path / "v.json").read_text())["variants"]
    assert row["spec"] == "smollm2-135m@q4_0" and row["file_bytes"] > 0 and 4.5 < row["bits_per_weight"] < 6.0
