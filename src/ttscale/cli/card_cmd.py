"""``ttscale card MODEL``: the model card read from metadata, with FLOPs per token.

MODEL is ``gguf:PATH`` or a ``.gguf`` path, a model of ``ttscale models`` (``gemma3-270m`` ...), a
Hugging Face ``config.json`` or its folder, or a hand-written ``.yaml`` card. With
``--json -`` the JSON goes to stdout and the table to stderr, so stdout parses.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ttscale.cli.app import app
from ttscale.report.json_out import write_json


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def card_table(summary: dict) -> Table:
    table = Table(title=f"model card: {summary['name']}", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    heads = f"{summary['n_heads']} / {_fmt(summary['n_kv_heads'])} / {_fmt(summary['head_dim'])}"
    window = (f"{_fmt(summary['sliding_window'])} ({summary['windowed_layers']} layers; "
              f"global: {summary['global_layers'] or 'none'})")
    rows = [
        ("source", summary["source"]),
        ("architecture", summary.get("architecture")),
        ("parameters (total)", summary["params_total"]),
        ("parameters (non-embedding)", summary["params_non_embedding"]),
        ("layers / d_model / d_ff", f"{summary['n_layers']} / {summary['d_model']} / {summary['d_ff']}"),
        ("heads / kv heads / head dim", heads),
        ("vocab / context length", f"{summary['vocab_size']:,} / {summary['context_length']:,}"),
        ("sliding window", window),
        ("quantization", summary["quantization"]),
        ("bits per weight", summary["bits_per_weight"]),
        ("training tokens", summary["train_tokens"]),
        ("training FLOPs" + (" (estimated)" if summary["estimated"] else ""), summary["train_flops"]),
        (f"decode FLOPs/token at {summary['context']:,}", summary["decode_flops_per_token"]),
        (f"prefill FLOPs/token at {summary['context']:,}", summary["prefill_flops_per_token"]),
        ("provenance", summary["provenance"]),
    ]
    for name, value in rows:
        table.add_row(name, _fmt(value))
    for note in summary.get("notes", []):
        table.add_row("note", note)
    return table


@app.command("card")
def card(
    model: str = typer.Argument(
        ..., help="gguf:PATH, PATH.gguf, a model of `ttscale models` (gemma3-270m, smollm2-135m ...), "
                  "a config.json (or its folder), or PATH.yaml."),
    context: int = typer.Option(
        None, help="Context (keys attended) for the per-token FLOPs; default min(2048, context_length)."),
    json_out: str = typer.Option(None, "--json", help="Write the JSON here ('-' for stdout)."),
) -> None:
    """Parameters, shapes, quantization, training compute and FLOPs per token of a model."""
    from ttscale.cards import card_summary, check_context
    from ttscale.variants.spec import load_card_or_variant

    loaded = load_card_or_variant(model)  # a BASE@TYPE variant too
    if context is not None:
        check_context(loaded.card, context, "--context")
    summary = card_summary(loaded, context)
    if json_out:
        write_json(summary, json_out)
    Console(stderr=json_out == "-").print(card_table(summary))
