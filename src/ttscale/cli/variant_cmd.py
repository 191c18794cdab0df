"""``ttscale variant quantize`` and ``ttscale variant prune-layers``: variants of a GGUF model, each usable as
the spec ``BASE@TYPE`` or ``BASE@drop=LAYERS``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ttscale.cli.app import app
from ttscale.errors import InputError
from ttscale.report.json_out import check_folder_target, check_json_target, write_json

variant_app = typer.Typer(help="Model variants made before deployment (quantization), usable as BASE@TYPE specs.",
                          no_args_is_help=True)
app.add_typer(variant_app, name="variant")


def _types(text: str) -> list[str]:
    from ttscale.variants.quant_types import check_quant_type

    names = [part for part in text.split(",") if part.strip()]
    if not names:
        raise InputError(f"--types {text!r}: give one or more types, e.g. q8_0,q4_0")
    return list(dict.fromkeys(check_quant_type(name) for name in names))  # all checked before any work


@variant_app.command("quantize")
def quantize(
    model: str = typer.Option(..., "--model", help="A GGUF model spec: a model of `ttscale models` or gguf:PATH."),
    types: str = typer.Option(..., "--types", help="Comma-separated llama.cpp types, e.g. q8_0,q5_0,q4_0,q3_k_m,q2_k."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Where variants are kept (default: "
                                              "$TTSCALE_CACHE or ~/.cache/ttscale)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write the variants' cards here ('-': stdout)."),
) -> None:
    """Quantize MODEL to each type (in a subprocess; cached by the base file's sha256 and the type) and show
    each variant's file size, bits per weight and card. The spec MODEL@TYPE then works wherever a model does."""
    from ttscale.cards.model_files import default_cache_dir
    from ttscale.variants.spec import base_file, load_variant

    names = _types(types)
    _make(model, [f"{model}@{name}" for name in names], cache_dir, json_out)


@variant_app.command("prune-layers")
def prune_layers(
    model: str = typer.Option(..., "--model", help="A GGUF model spec: a model of `ttscale models` or gguf:PATH."),
    drop: str = typer.Option(..., "--drop", help="The layers to drop, e.g. 20-23 or 3,5,7-9 (0-based)."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Where variants are kept (default: "
                                              "$TTSCALE_CACHE or ~/.cache/ttscale)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write the variant's card here ('-': stdout)."),
) -> None:
    """Drop whole transformer blocks of MODEL (renumbering the rest; no retraining) and show the variant's card.
    The spec MODEL@drop=LAYERS then works wherever a model does."""
    from ttscale.variants.prune_layers import drop_text, parse_drop

    _make(model, [f"{model}@drop={drop_text(parse_drop(drop))}"], cache_dir, json_out)


def _make(model: str, specs: list[str], cache_dir: Optional[Path], json_out: Optional[str]) -> None:
    """Make (or find cached) each variant spec of ``model``; a table of them, and their cards in --json."""
    from ttscale.cards.model_files import default_cache_dir
    from ttscale.variants.spec import base_file, load_variant

    if json_out:
        check_json_target(json_out)
    if cache_dir is not None:
        check_folder_target(cache_dir, "--cache-dir")
    cache = cache_dir or default_cache_dir()
    base_file(model)  # a missing or non-GGUF base: one line, before any work
    console = Console(stderr=bool(json_out == "-"))
    rows = []
    for spec in specs:
        loaded = load_variant(spec, cache, say=lambda line: console.print(line))
        card = loaded.variant.card
        rows.append({"spec": card.name, "path": str(loaded.path), "file_bytes": loaded.path.stat().st_size,
                     "bits_per_weight": card.bits_per_weight, "layers": card.n_layers,
                     "params_total": card.params_total, "derivation": loaded.variant.derivation,
                     "derive_flops": loaded.variant.derive_flops, "card": card.to_dict()})
    table = Table(title=f"variants of {model}", box=box.SIMPLE_HEAD)
    for column in ("spec", "file", "layers", "bits/weight", "training FLOPs"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        flops = row["card"]["train_flops"]
        table.add_row(row["spec"], f"{row['file_bytes'] / 1e6:,.0f} MB", str(row["layers"]),
                      f"{row['bits_per_weight']:.2f}", "unknown" if flops is None else f"{flops:.3g} (the base's)")
    console.print(table)
    if json_out:
        write_json({"model": model, "variants": rows}, json_out)
