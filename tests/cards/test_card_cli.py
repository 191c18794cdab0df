"""`ttscale card MODEL [--json FILE] [--context N]` through the typer app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import ttscale.cli.card_cmd  # noqa: F401  (registers the command)
from ttscale.cli import _load_commands, app
from ttscale.errors import InputError
from ttscale.types import ModelCard

_load_commands()  # the other commands too, so that `card` is a subcommand, as in `ttscale`
runner = CliRunner()
REQUIRED = {"params_total", "params_non_embedding", "train_flops", "decode_flops_per_token",
            "prefill_flops_per_token", "bits_per_weight", *ModelCard.__dataclass_fields__}


def test_json_to_stdout_parses(tiny_gguf):
    result = runner.invoke(app, ["card", str(tiny_gguf), "--json", "-"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert REQUIRED <= set(summary)
    assert summary["context"] == 128  # min(2048, context_length)
    assert summary["params_total"] == 21_152 and summary["train_flops"] is None


def test_json_file_and_context(tiny_gguf, tmp_path):
    out = tmp_path / "card.json"
    result = runner.invoke(app, ["card", f"gguf:{tiny_gguf}", "--json", str(out), "--context", "16"])
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["context"] == 16
    # 2N + 2*d*V + 4*layers*context*d_attn with N = 18,592, d = 32, V = 40, 2 layers, d_attn = 32
    assert summary["decode_flops_per_token"] == 2 * 18_592 + 2 * 32 * 40 + 4 * 2 * 16 * 32
    assert "tiny-llama" in result.output  # the table


def test_gemma_card(gemma):
    result = runner.invoke(app, ["card", "gemma3-270m", "--json", "-"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["params_total"] == 268_098_176 and summary["global_layers"] == [5, 11, 17]
    assert summary["train_flops"] == gemma.card.train_flops and summary["estimated"] is True


def test_bad_context_and_unknown_model(tiny_gguf):
    result = runner.invoke(app, ["card", str(tiny_gguf), "--context", "129"])
    assert isinstance(result.exception, InputError)
    assert "--context must be an integer from 1 to the model's context_length 128, got 129" in str(result.exception)
    result = runner.invoke(app, ["card", "gpt-17"])
    assert isinstance(result.exception, InputError) and "unknown built-in model 'gpt-17'" in str(result.exception)
