"""``factor``: factor a semiprime. A task with a cheap, exact verifier.

    prompt      "F0391="         (digits=4: n zero-padded to 4 digits)
    completion  "17*23\\n"        (smaller factor first)

Distribution: n is drawn uniformly from the *semiprimes* below 10**digits,
i.e. n = p·q with p <= q both prime (squares of primes included), n >= 4. A
semiprime has exactly one non-trivial factorisation (up to order), so guessing
is rarely right, and the one factorisation is the reference. About a quarter
of them are even (2·q: halving is all it takes), about a fifth are 3·q, an
eighth 5·q; the rest need a real search. ``Problem.difficulty`` is the smallest
prime factor p, the natural difficulty proxy (2 is easy, 97 hard).

Mixed sizes: ``digits`` also takes an inclusive range (``"factor:digits=2-5"``).
Every problem then picks a size class uniformly (a class whose split has run
out of distinct problems is passed over) and n uniformly among the semiprimes
of that many digits (the smallest class also holds the shorter ones, n >= 4);
prompts are zero-padded to the largest size, so they keep one length. An n
lies in the same split in every config (the split is hashed from n alone).

Judging: ``grade`` (with the reference) and ``verify`` (from the prompt alone)
accept the same thing: a completion ``a*b`` (decimal, either order) with
1 < a, 1 < b and a·b = n. Since n is a semiprime that is exactly the
reference factorisation, so grader and verifier agree on every completion.
Anything else — ``1*n``, a wrong product, extra text, an empty answer — fails.
The completion is read up to the stop string ``"\\n"``; surrounding spaces are
ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from ttscale.tasks import splits
from ttscale.tasks.spec import IntParam, line_task, span
from ttscale.types import Problem

PREFIX = "F"
_ANSWER = re.compile(r"([0-9]{1,12})\*([0-9]{1,12})")
_PROMPT = re.compile(PREFIX + r"([0-9]+)=")


@cache
def semiprimes_below(limit: int) -> tuple[tuple[int, int, int], ...]:
    """All (n, p, q) with n = p·q < limit, p <= q prime, sorted by n."""
    half = limit // 2 + 1
    sieve = bytearray([1]) * half
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(half**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(range(i * i, half, i)))
    primes = [i for i in range(half) if sieve[i]]
    found = []
    for i, p in enumerate(primes):
        if p * p >= limit:
            break
        for q in primes[i:]:
            if p * q >= limit:
                break
            found.append((p * q, p, q))
    return tuple(sorted(found))


@cache
def _split_members(digits: int, at_least: int = 0) -> dict[str, tuple[tuple[int, int, int], ...]]:
    """Per split, the semiprimes ``at_least <= n < 10**digits``."""
    members: dict[str, list[tuple[int, int, int]]] = {s: [] for s in splits.SPLITS}
    for item in semiprimes_below(10**digits):
        if item[0] >= at_least:
            members[splits.split_of(f"factor:{item[0]}")].append(item)
    return {s: tuple(v) for s, v in members.items()}


def parse_factors(completion: str) -> tuple[int, int] | None:
    """``(a, b)`` from a completion ``"a*b"`` (read up to the first newline), else None."""
    match = _ANSWER.fullmatch(completion.split("\n", 1)[0].strip(" "))
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def is_factorisation(n: int, factors: tuple[int, int] | None) -> bool:
    """True for a non-trivial factorisation: a·b = n with 1 < a and 1 < b."""
    if factors is None:
        return False
    a, b = factors
    return a > 1 and b > 1 and a * b == n


@dataclass(frozen=True)
@line_task  # stop, name, fingerprint, parameter checks
class FactorTask:
    """Factor a semiprime below ``10**digits`` (see the module docstring)."""

    digits: int | tuple[int, int] = 3

    family: ClassVar[str] = "factor"
    PARAMS: ClassVar[tuple[IntParam, ...]] = (
        IntParam("digits", 2, 6, "n < 10**digits, written zero-padded to this many digits "
                 "(a range low-high mixes sizes, padded to high)", ranged=True),
    )
    has_verifier: ClassVar[bool] = True

    @property
    def width(self) -> int:
        """Digits every prompt's n is padded to: the largest size of the config."""
        return span(self.digits)[1]

    @property
    def sizes(self) -> tuple[int, ...]:
        low, high = span(self.digits)
        return tuple(range(low, high + 1))

    @property
    def prompt_length(self) -> int:
        """Characters in every prompt of this config."""
        return self.width + 2

    @property
    def max_completion_length(self) -> int:
        """Characters in the longest reference completion, stop string included
        (largest q is below 10**digits / 2: ``"2*" + digits + "\\n"``)."""
        return self.width + 3

    def _class(self, size: int) -> dict[str, tuple[tuple[int, int, int], ...]]:
        """Per split, the semiprimes of size class ``size`` (the smallest class holds the shorter ones too)."""
        if size == self.sizes[0]:
            return _split_members(size)
        return _split_members(size, 10 ** (size - 1))

    def split_size(self, split: str) -> int:
        """How many distinct problems ``split`` holds."""
        splits.check_split(split)
        return sum(len(self._class(size)[split]) for size in self.sizes)

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]:
        splits.check_count(count)
        splits.check_split(split)
        available = self.split_size(split)
        if count > available:
            raise splits.too_few(self.name, split, count, available)
        if isinstance(self.digits, int):
            members = self._class(self.digits)[split]
            chosen = splits.sample_distinct(members, count, splits.rng_for(self.name, split, seed))
        else:
            streams = {size: iter(splits.sample_distinct(self._class(size)[split], len(self._class(size)[split]),
                                                         splits.rng_for(self.family, size, split, seed)))
                       for size in self.sizes}
            chosen = splits.mix(streams, count, splits.rng_for(self.family, "mix", self.name, split, seed))
        return [self._problem(item) for item in chosen]

    def demonstrations(self, count: int, seed: int) -> list[str]:
        """``count`` training strings (prompt + completion) from the train split only.
        When ``count`` exceeds the train split, problems repeat (shuffled epochs)."""
        splits.check_count(count)
        if isinstance(self.digits, int):
            train = self._class(self.digits)["train"]
            chosen = splits.sample_epochs(train, count, splits.rng_for(self.name, "demonstrations", seed))
        else:
            streams = {size: splits.epochs(self._class(size)["train"], splits.rng_for(self.family, size, "demonstrations",
                                                                                 seed))
                       for size in self.sizes}
            chosen = splits.mix(streams, count, splits.rng_for(self.family, "mix", self.name, "demonstrations", seed))
        return [self._prompt(n) + self._completion(p, q) for n, p, q in chosen]

    def solution(self, problem: Problem) -> str:
        """The reference completion a demonstration writes for ``problem``."""
        return problem.reference + self.stop

    def extract_answer(self, completion: str) -> str | None:
        """The factor pair as ``"a*b"`` with a <= b (no leading zeros), or None if malformed."""
        factors = parse_factors(completion)
        if factors is None:
            return None
        a, b = sorted(factors)
        return f"{a}*{b}"

    def grade(self, problem: Problem, completion: str) -> bool:
        """Correct iff the completion is a non-trivial factorisation of the reference's product."""
        reference = parse_factors(problem.reference)
        if reference is None:  # pragma: no cover - references are built by this class
            raise ValueError(f"problem {problem.problem_id!r}: malformed reference {problem.reference!r}")
        return is_factorisation(reference[0] * reference[1], parse_factors(completion))

    def verify(self, problem: Problem, completion: str) -> bool:
        """The inference-time check: reads n from the prompt, never the reference."""
        match = _PROMPT.fullmatch(problem.prompt)
        if match is None:
            return False
        return is_factorisation(int(match.group(1)), parse_factors(completion))

    def verifier_flops(self, problem: Problem, completion: str) -> float:
        """A rough count of the verifier's arithmetic, in elementary digit operations:
        one per character scanned to parse the answer, 2·la·lb for the schoolbook
        product of an la-digit by an lb-digit factor (a multiply and an add per digit
        pair), one per digit to compare the product with n, and two comparisons
        (1 < a, 1 < b). A malformed answer costs only the scan. Tiny next to any
        model's FLOPs; it is here so the inference-compute ledger is complete."""
        text = completion.split("\n", 1)[0]
        factors = parse_factors(completion)
        if factors is None:
            return float(len(text))
        la, lb = (len(str(f)) for f in factors)
        return float(len(text) + 2 * la * lb + self.width + 2)

    def _prompt(self, n: int) -> str:
        return f"{PREFIX}{n:0{self.width}d}="

    @staticmethod
    def _completion(p: int, q: int) -> str:
        return f"{p}*{q}\n"

    def _problem(self, item: tuple[int, int, int]) -> Problem:
        n, p, q = item
        return Problem(
            task=self.name,
            problem_id=f"{n:0{self.width}d}",
            prompt=self._prompt(n),
            reference=f"{p}*{q}",
            difficulty=p,
            meta={"n": n, "factors": [p, q]},
        )
