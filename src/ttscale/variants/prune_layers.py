"""Layer-pruned variants of a GGUF model: whole transformer blocks dropped, the rest renumbered.

Written with the ``gguf`` package: every metadata field copied (``{arch}.block_count`` set to the blocks
kept, and any per-layer array under the architecture's prefix cut to them), every tensor of a kept block
renamed ``blk.{new index}...``, the dropped blocks' tensors left out. No retraining: the variant's training
compute is its base's (marginal 0), and it is genuinely smaller (fewer FLOPs per token). Made and cached
as ``files.make_checked`` says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ttscale.errors import InputError
from ttscale.variants.files import make_checked, variant_file

_BLOCK = re.compile(r"blk\.(\d+)\.(.+)")


def parse_drop(text: str, option: str = "--drop") -> tuple[int, ...]:
    """``20-23`` or ``3,5,7-9`` -> the sorted layer indices; a bad one is one line naming it."""
    layers: set[int] = set()
    for part in str(text).split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise InputError(f"{option} {text!r}: expected layers like 20-23 or 3,5,7-9") from None
        if first < 0 or last < first:
            raise InputError(f"{option} {text!r}: {part.strip()!r} is not a range of layer indices")
        layers.update(range(first, last + 1))
    return tuple(sorted(layers))


def drop_text(layers: tuple[int, ...]) -> str:
    """The canonical form of a set of layers: runs joined by commas (``20-23``, ``3,5,7-9``)."""
    runs: list[list[int]] = []
    for layer in layers:
        if runs and layer == runs[-1][1] + 1:
            runs[-1][1] = layer
        else:
            runs.append([layer, layer])
    return ",".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs)


def prune_layers(source: Path, layers: tuple[int, ...], cache_dir: Path,
                 say: Callable[[str], None] = lambda line: None) -> Path:
    import gguf

    source = Path(source)
    reader = gguf.GGUFReader(str(source))
    arch = reader.fields["general.architecture"].contents()
    count_key = f"{arch}.block_count"
    n_layers = int(reader.fields[count_key].contents())
    outside = [layer for layer in layers if layer >= n_layers]
    if outside:
        raise InputError(f"--drop {drop_text(layers)}: {source.name} has layers 0-{n_layers - 1}; "
                         f"{', '.join(map(str, outside))}: not among them")
    if len(layers) >= n_layers:
        raise InputError(f"--drop {drop_text(layers)}: that drops every one of the {n_layers} layers")
    kept = [layer for layer in range(n_layers) if layer not in layers]
    renumbered = {old: new for new, old in enumerate(kept)}
    target = variant_file(source, f"drop={drop_text(layers)}", cache_dir)

    def write(partial: Path) -> None:
        say(f"dropping layers {drop_text(layers)} of {source.name} -> {target}")
        _write(reader, gguf, arch, count_key, n_layers, kept, renumbered, partial)

    return make_checked(target, write, f"drop layers {drop_text(layers)} of {source.name}")


def _write(reader, gguf, arch: str, count_key: str, n_layers: int, kept: list[int], renumbered: dict[int, int],
           partial: Path) -> None:
    writer = gguf.GGUFWriter(str(partial), arch=arch, endianess=reader.endianess)
    alignment = reader.fields.get("general.alignment")
    if alignment is not None:
        writer.data_alignment = int(alignment.contents())
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue  # written by the writer itself
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == count_key:
            value = len(kept)
        elif sub is not None and field.name.startswith(arch + ".") and len(value) == n_layers:
            value = [value[i] for i in kept]  # a per-layer setting (heads, windows ...) of the kept layers
        writer.add_key_value(field.name, value, kind, sub_type=sub)
    tensors = []
    for tensor in reader.tensors:
        match = _BLOCK.fullmatch(tensor.name)
        if match and int(match.group(1)) not in renumbered:
            continue
        name = f"blk.{renumbered[int(match.group(1))]}.{match.group(2)}" if match else tensor.name
        tensors.append((name, tensor))
        writer.add_tensor_info(name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, tensor in tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()
