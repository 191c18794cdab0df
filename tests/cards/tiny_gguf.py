"""A tiny made-up GGUF model written with gguf.GGUFWriter, for the card tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_tiny_gguf(path: Path, arch: str = "llama", n_layers: int = 2, tied: bool = False,
                    extra=None) -> Path:
    """A made-up model: d_model 32, 4 heads of 8, 2 KV heads, d_ff 64, 40 tokens, context 128.

    Types are mixed on purpose: embedding and norms F32, attention q/k/o and output F16,
    attention v and the MLP Q8_0 (32 weights in 34 bytes). ``extra(writer)`` may add keys.
    """
    gguf = pytest.importorskip("gguf", reason="the 'cards' extra (gguf) is not installed")
    from gguf.quants import quantize

    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny test model")
    writer.add_context_length(128)
    writer.add_embedding_length(32)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(64)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_key_length(8)
    writer.add_value_length(8)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_token_list([f"tok{i}" for i in range(40)])
    if extra:
        extra(writer)

    def add(name, rows, cols=None, kind="f32"):
        shape = (rows,) if cols is None else (rows, cols)  # numpy order: (out, in)
        data = rng.standard_normal(shape).astype(np.float32)
        if kind == "f16":
            writer.add_tensor(name, data.astype(np.float16))
        elif kind == "q8_0":
            writer.add_tensor(name, quantize(data, gguf.GGMLQuantizationType.Q8_0),
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, data)

    add("token_embd.weight", 40, 32)
    for i in range(n_layers):
        add(f"blk.{i}.attn_norm.weight", 32)
        add(f"blk.{i}.attn_q.weight", 32, 32, "f16")
        add(f"blk.{i}.attn_k.weight", 16, 32, "f16")
        add(f"blk.{i}.attn_v.weight", 16, 32, "q8_0")
        add(f"blk.{i}.attn_output.weight", 32, 32, "f16")
        add(f"blk.{i}.ffn_norm.weight", 32)
        add(f"blk.{i}.ffn_gate.weight", 64, 32, "q8_0")
        add(f"blk.{i}.ffn_up.weight", 64, 32, "q8_0")
        add(f"blk.{i}.ffn_down.weight", 32, 64, "q8_0")
    add("output_norm.weight", 32)
    if not tied:
        add("output.weight", 40, 32, "f16")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
