"""Disjoint train / calib / test splits by a content hash, and seeded sampling.

Every problem *instance* (a number to factor, a multiset of summands) goes to
exactly one split, by a hash of its content: 80 % train, 10 % calib, 10 %
test. The hash is BLAKE2b of a short key string, so the assignment is the same
in every process and on every machine (Python's ``hash`` is salted per
process). Sampling then happens *within* a split with ``random.Random`` seeded
by a string, which is also stable across processes.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import TypeVar

from ttscale.errors import InputError, did_you_mean

T = TypeVar("T")

SPLITS = ("train", "calib", "test")
# Share of every split, per mille; they add up to 1000.
SHARES = {"train": 800, "calib": 100, "test": 100}


def split_of(key: str) -> str:
    """The split an instance belongs to, from its content key."""
    bucket = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % 1000
    if bucket < SHARES["train"]:
        return "train"
    if bucket < SHARES["train"] + SHARES["calib"]:
        return "calib"
    return "test"


def check_split(split: object) -> str:
    if split not in SPLITS:
        hint = did_you_mean(split, SPLITS)
        raise InputError(f"split: unknown split {split!r}{hint} (known: {', '.join(SPLITS)})")
    return split  # type: ignore[return-value]


def check_count(count: object, field: str = "count") -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InputError(f"{field}: must be a non-negative integer, got {count!r}")
    return count


def rng_for(*parts: object) -> random.Random:
    """A ``random.Random`` seeded by a string of ``parts`` (stable across processes)."""
    return random.Random(":".join(str(p) for p in parts))


def too_few(task: str, split: str, count: int, available: int, approx: bool = False) -> InputError:
    about = "about " if approx else ""
    return InputError(
        f"count: task {task!r} asked for {count} distinct problems from split {split!r}, "
        f"which holds {about}{available}; ask for fewer or use a larger configuration"
    )


def sample_distinct(items: Sequence[T], count: int, rng: random.Random) -> list[T]:
    """The first ``count`` items of a seeded shuffle (caller checks the size). Asking
    for more extends the list: ``count=100`` starts with the ``count=50`` draw."""
    order = list(items)
    rng.shuffle(order)
    return order[:count]


def sample_epochs(items: Sequence[T], count: int, rng: random.Random) -> list[T]:
    """``count`` items drawn as successive shuffled passes over ``items`` (training epochs):
    every item appears once before any appears twice."""
    return list(itertools.islice(epochs(items, rng), count))


def epochs(items: Sequence[T], rng: random.Random) -> Iterator[T]:
    """Endless shuffled passes over ``items`` (``sample_epochs`` without an end)."""
    if not items:
        raise InputError("demonstrations: the train split is empty")
    while True:
        order = list(items)
        rng.shuffle(order)
        yield from order


def mix(streams: Mapping[object, Iterator[T]], count: int, selector: random.Random) -> list[T]:
    """Up to ``count`` items of a mixed config: each from a stream chosen uniformly by
    ``selector`` among those not yet run out (so a small stream is passed over once empty).
    Drawing more extends the draw: the first ``k`` items do not depend on ``count``."""
    live = list(streams)
    chosen: list[T] = []
    while len(chosen) < count and live:
        key = selector.choice(live)
        try:
            chosen.append(next(streams[key]))
        except StopIteration:
            live.remove(key)
    return chosen
