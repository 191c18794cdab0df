"""What inference compute (IC) is counted in: FLOPs, weight bytes read, or measured seconds.

FLOPs are the default and what every published law is stated in. They miss what compression buys:
a 4-bit model does the same arithmetic as its 16-bit parent but reads a quarter of the bytes, and
one-sequence decoding is bound by those reads. So every point also carries the bytes of weights its
samples read (``Pool.inference_bytes``: parameters x bits per weight / 8 per pass, one sequence at a
time) and the seconds they took on the machine that drew them. The engine is the same for all three;
only the IC axis changes, and the result says which (``cost``).

Training compute stays in FLOPs on every axis: there is no bytes figure for training.
"""

from __future__ import annotations

import math

from ttscale.errors import InputError

COSTS = {
    "flops": "FLOPs per problem",
    "bytes": "weight bytes read per problem, one sequence at a time (parameters x bits per weight / 8 per "
             "forward pass)",
    "seconds": "measured seconds per problem, on the machine that drew the samples",
}
# The points-file column that holds each cost (the lab and the sweep write all three).
COST_COLUMNS = {"flops": "infer_flops", "bytes": "infer_bytes", "seconds": "infer_seconds"}
# Short unit words for axis labels and tables.
COST_UNITS = {"flops": "FLOPs", "bytes": "bytes", "seconds": "s"}


def check_cost(value: str, flag: str = "--cost") -> str:
    if value not in COSTS:
        raise InputError(f"{flag}: unknown cost {value!r} (choose one of: {', '.join(COSTS)})")
    return value


def usable_cost(value: float) -> bool:
    """A cost the log-log engine can place: finite and positive (NaN: not counted for that point)."""
    return math.isfinite(value) and value > 0
