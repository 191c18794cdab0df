"""Model variants: a model derived from another by a technique spent before deployment (quantization
here; pruning, distillation and early exit are the compression issue's other parts).

A variant is a model spec like any other, ``BASE@TYPE`` (``qwen2.5-coder-1.5b@q4_0``): its file is made
once by ``ttscale variant quantize`` (or on first use) and cached by the base file's sha256 and the type;
its card is read from the made file (parameters, real bits per weight) and takes the base's training
compute, plus what the derivation cost (0 for rounding weights), as ``types.ModelVariant`` says.
"""
