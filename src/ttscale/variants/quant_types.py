"""The quantization types a variant can be made with: llama.cpp's own (``llama_model_quantize``'s ftype).

k-quants pack rows in blocks of 256 weights; a tensor whose rows are not a multiple of 256 wide falls back to
a 32-block type inside llama.cpp (so a "q4_k_m" file of a small model is mostly q5_0 / q8_0): the cards read
real bits per weight from the tensors, never from the type's name.
"""

from __future__ import annotations

from ttscale.errors import InputError

# name -> the LLAMA_FTYPE_MOSTLY_* constant in llama_cpp
QUANT_TYPES: dict[str, str] = {
    "f16": "LLAMA_FTYPE_MOSTLY_F16",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "q5_0": "LLAMA_FTYPE_MOSTLY_Q5_0",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
    "q4_1": "LLAMA_FTYPE_MOSTLY_Q4_1",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q3_k_m": "LLAMA_FTYPE_MOSTLY_Q3_K_M",
    "q2_k": "LLAMA_FTYPE_MOSTLY_Q2_K",
}


def check_quant_type(name: str, option: str = "--types") -> str:
    """The type's canonical (lower-case) name; an unknown one is one line naming it and the known ones."""
    canonical = name.strip().lower() if isinstance(name, str) else ""
    if canonical not in QUANT_TYPES:
        raise InputError(f"{option}: unknown quantization type {name!r} (known: {', '.join(QUANT_TYPES)})")
    return canonical
