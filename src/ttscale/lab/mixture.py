"""The lab's task forms and their training mixture (the lab's technique table reads these too)."""

from __future__ import annotations

# Mixed configs, so that problems range from easy to hard within each form and
# accuracy (and what sampling adds to it) grows over the whole ladder rather
# than in one step: factoring 2- to 4-digit semiprimes (the few test problems
# below 1000 drawn whole, the rest 4-digit), sums of 2 to 5 one- or two-digit
# numbers (the longest scratchpad prompt + completion is 53 of the models' 64
# positions).
FACTOR = "factor:digits=3-4"
SUMS = "arith:digits=1-2,operands=2-5,scratchpad=0"
SUMS_COT = "arith:digits=1-2,operands=2-5,scratchpad=1"
TRAIN_MIXTURE = (FACTOR, SUMS, SUMS_COT)
# Documents of each task per block of the training stream, relative to 256:
# most to the scratchpad sums (the form most techniques read), fewest to the
# direct sums (only chain of thought reads them).
MIXTURE_WEIGHTS = (1.0, 0.5, 1.5)
SHORT_NAMES = {FACTOR: "factoring", SUMS: "sums", SUMS_COT: "sums+cot"}  # for progress bars


def mixture_key(mixture: tuple[str, ...] = TRAIN_MIXTURE, weights: tuple[float, ...] = MIXTURE_WEIGHTS) -> str:
    """The checkpoints' data key: the task specs, with their weights when they are not all 1."""
    if all(w == 1 for w in weights):
        return "+".join(mixture)
    return "+".join(f"{spec}*{w:g}" for spec, w in zip(mixture, weights))
