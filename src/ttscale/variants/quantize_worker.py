"""``python -m ttscale.variants.quantize_worker SOURCE TARGET TYPE``: one quantization, in a process of its own
so that a native crash in llama.cpp ends this process and not its caller. Writes TARGET only; the caller
renames it into place after checking it."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    source, target, ftype_name = argv
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, ftype_name)
    params.allow_requantize = True  # the packaged files are already quantized: the card says from what
    status = llama_cpp.llama_model_quantize(source.encode(), target.encode(), params)
    if status != 0:
        print(f"llama_model_quantize returned {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
