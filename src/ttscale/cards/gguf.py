"""Model cards from GGUF files: metadata and tensor shapes, never tensor data.

Why a reader of our own: ``gguf.GGUFReader`` (the llama.cpp project's pure-Python
reader) builds a numpy view for every item of every array, and a 262,144-token
vocabulary makes that about 10 s for Gemma 3 270M. What a card needs is the
header alone: scalar metadata, the *length* of the token list, and each tensor's
name, shape and type. ``read_header`` walks the header in one pass over an mmap
(a fraction of a second) and takes the type tables (block sizes, bytes per
block, file-type names) from the ``gguf`` package, so new quantization types
come with a package upgrade. The GGUF layout (v2/v3, either byte order):

    magic "GGUF" | version u32 | n_tensors u64 | n_kv u64
    n_kv   x (key string, value type u32, value)       string = u64 length + UTF-8
    n_tensors x (name string, n_dims u32, dims u64 x n_dims, ggml type u32, offset u64)

Parameter counts come from tensor shapes; ``bits_per_weight`` is the real one,
sum of tensor bytes x 8 / sum of tensor elements, so a "Q4_K_M" file whose
embedding stays Q8_0 reports what it is (about 7.4 bits for Gemma 3 270M).
"""

from __future__ import annotations

import math
import mmap
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from ttscale.cards.loaded import LoadedCard, window_fields
from ttscale.errors import InputError, require_extra
from ttscale.types import ModelCard

# GGUF value types (gguf.constants.GGUFValueType): struct codes of the scalars.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
# Numeric arrays up to this length are kept (per-layer patterns); longer ones keep their length only.
_KEEP_ARRAY_ITEMS = 4096

# Tensors that map tokens to vectors or vectors to logits. Kaplan et al. leave them out of N,
# and so does flops.py (the unembedding is its own term there).
EMBEDDING_TENSORS = ("token_embd.weight", "output.weight", "position_embd.weight", "token_types.weight")

# Interleaved sliding-window attention whose period llama.cpp hard-codes per architecture
# (src/llama-model.cpp, ``hparams.set_swa_pattern(n)``): of every n layers the first n-1 use
# the window and the last attends globally. A ``{arch}.attention.sliding_window_pattern`` key
# in the file overrides the table.
SWA_PERIODS = {"gemma2": 2, "gemma3": 6, "cohere2": 4}


@dataclass(frozen=True)
class ArrayValue:
    """A metadata array: its length, and its items when short and numeric (else ``None``)."""

    item_type: int
    count: int
    items: tuple | None


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's header entry. ``shape`` is in GGUF order (fastest-varying dimension first)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    metadata: dict[str, object]
    tensors: tuple[TensorInfo, ...]


class _Cursor:
    """Bounds-checked little/big-endian reads from a buffer; errors name the file and offset."""

    def __init__(self, buf, path: Path, order: str) -> None:
        self.buf, self.path, self.order, self.pos = buf, path, order, 0

    def take(self, code: str):
        fmt = self.order + code
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise InputError(f"{self.path}: GGUF header is truncated at byte {self.pos}")
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def skip_string(self) -> None:
        length = self.take("Q")
        if self.pos + length > len(self.buf):
            raise InputError(f"{self.path}: GGUF string at byte {self.pos} runs past the end of the file")
        self.pos += length

    def string(self) -> str:
        start = self.pos + 8
        self.skip_string()
        return bytes(self.buf[start:self.pos]).decode("utf-8", errors="replace")

    def value(self, value_type: int):
        if value_type in _SCALARS:
            return self.take(_SCALARS[value_type])
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            return self.array()
        raise InputError(f"{self.path}: unknown GGUF value type {value_type} at byte {self.pos}")

    def array(self) -> ArrayValue:
        item_type, count = self.take("I"), self.take("Q")
        if item_type == _STRING:
            for _ in range(count):  # only the length is kept (vocabulary size)
                self.skip_string()
            return ArrayValue(item_type, count, None)
        if item_type in _SCALARS:
            size = struct.calcsize(self.order + _SCALARS[item_type])
            if self.pos + size * count > len(self.buf):
                raise InputError(f"{self.path}: GGUF array at byte {self.pos} runs past the end of the file")
            items = None
            if count <= _KEEP_ARRAY_ITEMS:
                items = struct.unpack_from(f"{self.order}{count}{_SCALARS[item_type]}", self.buf, self.pos)
            self.pos += size * count
            return ArrayValue(item_type, count, items)
        # Arrays of arrays: walk them to stay in step, keep nothing.
        for _ in range(count):
            self.value(item_type)
        return ArrayValue(item_type, count, None)


def read_header(path: str | Path) -> GGUFHeader:
    """Metadata and tensor infos of a GGUF file (v2 or v3, either byte order); no tensor data is read."""
    path = Path(path)
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(buf, path)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"no such GGUF file: {str(path)!r}") from None
    except (OSError, ValueError) as exc:  # ValueError: mmap of an empty file
        raise InputError(f"{path}: cannot read as GGUF ({exc})") from None


def _parse(buf, path: Path) -> GGUFHeader:
    if bytes(buf[:4]) != b"GGUF":
        raise InputError(f"{path}: not a GGUF file (magic {bytes(buf[:4])!r}, expected b'GGUF')")
    order = "<"
    version = struct.unpack_from("<I", buf, 4)[0] if len(buf) >= 8 else 0
    if version & 0xFFFF == 0:  # written on a big-endian host
        order, version = ">", struct.unpack_from(">I", buf, 4)[0]
    if version not in (2, 3):
        raise InputError(f"{path}: GGUF version {version} is not supported (2 and 3 are)")
    cursor = _Cursor(buf, path, order)
    cursor.pos = 8
    n_tensors, n_kv = cursor.take("Q"), cursor.take("Q")
    metadata: dict[str, object] = {}
    for _ in range(n_kv):
        key = cursor.string()
        metadata[key] = cursor.value(cursor.take("I"))
    tensors = []
    for _ in range(n_tensors):
        name = cursor.string()
        n_dims = cursor.take("I")
        shape = tuple(cursor.take("Q") for _ in range(n_dims))
        ggml_type = cursor.take("I")
        cursor.take("Q")  # data offset: not needed
        tensors.append(TensorInfo(name, shape, ggml_type))
    return GGUFHeader(version, metadata, tuple(tensors))


def tensor_bytes(tensor: TensorInfo) -> int:
    """Bytes of a tensor's data: elements / block size x bytes per block (gguf's type table)."""
    constants = require_extra("gguf.constants", "cards")
    try:
        block, type_size = constants.GGML_QUANT_SIZES[constants.GGMLQuantizationType(tensor.ggml_type)]
    except (ValueError, KeyError):
        raise InputError(f"tensor {tensor.name!r}: unknown ggml type {tensor.ggml_type} "
                         f"(a newer gguf package may know it)") from None
    return tensor.n_elements // block * type_size


def type_name(ggml_type: int) -> str:
    constants = require_extra("gguf.constants", "cards")
    try:
        return constants.GGMLQuantizationType(ggml_type).name
    except ValueError:
        return f"type{ggml_type}"


def file_type_name(file_type: int) -> str:
    """``general.file_type`` as llama.cpp names it, without the ``MOSTLY_`` prefix (15 -> ``Q4_K_M``)."""
    constants = require_extra("gguf.constants", "cards")
    try:
        name = constants.LlamaFileType(file_type).name
    except ValueError:
        return f"file_type {file_type}"
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def _scalar(header: GGUFHeader, key: str, path: Path, required: bool = True) -> int | None:
    """An integer hyperparameter; a per-layer array must hold one value (else the largest, noted by the caller)."""
    value = header.metadata.get(key)
    if value is None:
        if required:
            raise InputError(f"{path}: GGUF metadata has no {key!r}")
        return None
    if isinstance(value, ArrayValue):
        if not value.items:
            raise InputError(f"{path}: GGUF metadata {key!r} is an array without numbers")
        return int(max(value.items))
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{path}: GGUF metadata {key!r} should be an integer, got {value!r}")
    return value


def layer_windows(header: GGUFHeader, arch: str, n_layers: int, path: Path) -> tuple[int | None, ...]:
    """Per layer: the sliding window it attends through, or ``None`` for global attention.

    As llama.cpp decides it: no ``{arch}.attention.sliding_window`` (or 0) means every layer is
    global; a ``sliding_window_pattern`` key gives the pattern as per-layer booleans (true =
    windowed) or as a period n (layer i windowed when i mod n < n-1); without the key the period
    comes from ``SWA_PERIODS``; an architecture not in that table windows every layer.
    """
    window = _scalar(header, f"{arch}.attention.sliding_window", path, required=False)
    if not window:
        return (None,) * n_layers
    pattern = header.metadata.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, ArrayValue):
        if pattern.items is None or len(pattern.items) != n_layers:
            raise InputError(f"{path}: {arch}.attention.sliding_window_pattern has {pattern.count} entries "
                             f"for {n_layers} layers")
        return tuple(window if flag else None for flag in pattern.items)
    period = pattern if isinstance(pattern, int) and not isinstance(pattern, bool) else SWA_PERIODS.get(arch, 0)
    return tuple(window if period == 0 or i % period < period - 1 else None for i in range(n_layers))


@dataclass(frozen=True)
class GGUFFacts:
    """What a GGUF file says, before it becomes a card (``cards.card_from_gguf``)."""

    card: ModelCard
    architecture: str
    layer_windows: tuple[int | None, ...]
    params_embedding: int
    embedding_share_of_bytes: float
    tied_embeddings: bool
    tensor_types: dict[str, dict[str, float]]
    notes: tuple[str, ...]


def facts_from_header(header: GGUFHeader, path: Path, name: str) -> GGUFFacts:
    """Hyperparameters from ``{arch}.*`` keys, counts from tensor shapes, bits from tensor sizes."""
    meta = header.metadata
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise InputError(f"{path}: GGUF metadata has no 'general.architecture'")
    notes = []
    n_layers = _scalar(header, f"{arch}.block_count", path)
    d_model = _scalar(header, f"{arch}.embedding_length", path)
    n_heads = _scalar(header, f"{arch}.attention.head_count", path)
    for key in (f"{arch}.feed_forward_length", f"{arch}.attention.head_count", f"{arch}.attention.head_count_kv"):
        if isinstance(meta.get(key), ArrayValue):
            notes.append(f"{key} varies by layer; the card keeps the largest value")
    d_ff = _scalar(header, f"{arch}.feed_forward_length", path)
    n_kv_heads = _scalar(header, f"{arch}.attention.head_count_kv", path, required=False) or n_heads
    head_dim = _scalar(header, f"{arch}.attention.key_length", path, required=False) or d_model // n_heads
    value_dim = _scalar(header, f"{arch}.attention.value_length", path, required=False)
    if value_dim is not None and value_dim != head_dim:
        notes.append(f"value head dim {value_dim} differs from key head dim {head_dim}; FLOPs use the key dim")
    context_length = _scalar(header, f"{arch}.context_length", path)

    tokens = meta.get("tokenizer.ggml.tokens")
    by_name = {t.name: t for t in header.tensors}
    declared_vocab = _scalar(header, f"{arch}.vocab_size", path, required=False)
    if isinstance(tokens, ArrayValue):
        vocab_size = tokens.count
    elif declared_vocab:
        vocab_size = declared_vocab
    elif "token_embd.weight" in by_name:
        vocab_size = by_name["token_embd.weight"].shape[-1]
    else:
        raise InputError(f"{path}: no vocabulary size (no tokenizer.ggml.tokens, {arch}.vocab_size or token_embd)")
    output = by_name.get("output.weight", by_name.get("token_embd.weight"))
    if output is not None and output.shape[-1] != vocab_size:
        notes.append(f"the output matrix has {output.shape[-1]} rows for {vocab_size} tokenizer tokens")

    params_total = sum(t.n_elements for t in header.tensors)
    params_embedding = sum(by_name[n].n_elements for n in EMBEDDING_TENSORS if n in by_name)
    total_bytes = embedding_bytes = 0
    tensor_types: dict[str, dict[str, float]] = {}
    for tensor in header.tensors:
        size = tensor_bytes(tensor)
        total_bytes += size
        embedding_bytes += size if tensor.name in EMBEDDING_TENSORS else 0
        entry = tensor_types.setdefault(type_name(tensor.ggml_type), {"params": 0, "bytes": 0})
        entry["params"] += tensor.n_elements
        entry["bytes"] += size
    for entry in tensor_types.values():
        entry["share_of_bytes"] = entry["bytes"] / total_bytes if total_bytes else 0.0
    file_type = meta.get("general.file_type")
    windows = layer_windows(header, arch, n_layers, path)
    card = ModelCard(
        name=name, params_total=params_total, params_non_embedding=params_total - params_embedding,
        n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_ff=d_ff, vocab_size=vocab_size,
        context_length=context_length, n_kv_heads=n_kv_heads, head_dim=head_dim, **window_fields(windows),
        quantization=file_type_name(file_type) if isinstance(file_type, int) else None,
        bits_per_weight=total_bytes * 8 / params_total if params_total else None,
    )
    return GGUFFacts(
        card=card,
        architecture=arch,
        layer_windows=windows,
        params_embedding=params_embedding,
        embedding_share_of_bytes=embedding_bytes / total_bytes if total_bytes else 0.0,
        tied_embeddings="output.weight" not in by_name,
        tensor_types=dict(sorted(tensor_types.items())),
        notes=tuple(notes),
    )


def card_from_gguf(path: str | Path, name: str | None = None) -> LoadedCard:
    """A card from a GGUF file's header; ``name`` defaults to the file name without .gguf."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such GGUF file: {str(path)!r}")
    facts = facts_from_header(read_header(path), path, name or path.stem)
    provenance = (f"GGUF {path.name}: architecture {facts.architecture}; "
                  f"counts from tensor shapes, bits from tensor sizes")
    details = {
        "architecture": facts.architecture,
        "tied_embeddings": facts.tied_embeddings,
        "embedding_share_of_bytes": facts.embedding_share_of_bytes,
        "tensor_types": facts.tensor_types,
        "notes": list(facts.notes),
    }
    return LoadedCard(replace(facts.card, provenance=provenance), facts.layer_windows, "gguf", str(path), details)
