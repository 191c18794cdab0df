"""``arith``: the sum of ``operands`` numbers of ``digits`` digits. Answer-only:
there is no cheap verifier (``verify`` returns None); answers are voted on.

Two forms of the same problems, told apart by the prompt's first letter so one
model can be trained on a mixture:

    scratchpad=0   prompt "A12+34+56="   completion "102\\n"
    scratchpad=1   prompt "S12+34+56="   completion "2+4+6+0=12;1+3+5+1=10;#102\\n"

The scratchpad adds column by column from the ones: each step copies the
column's digits (top operand first) and the carry in, then writes the column
total as two digits ``tt``; its first digit is the next column's carry, its
second the answer digit. After the last column, ``#`` and the answer. Every
step has the same shape, so per step a tiny char-level model only copies digits
from fixed prompt positions and adds a few single digits; the answer is read
back off the steps (last carry, then the second digits in reverse).
Completion length: ``digits·(2·operands + 5) + len(answer) + 2`` characters
(27 for digits=2, operands=3).

Distribution: every operand uniform in [10**(digits-1), 10**digits) (exactly
``digits`` digits, so all prompts of a config have the same length). The split
of an instance is hashed from its sorted operands, so every ordering of the
same summands lies in one split, and both forms share splits, ids and — for the
same (count, seed, split) — the very same problems. ``Problem.difficulty`` is
the number of columns that carry.

Judging: ``extract_answer`` reads the completion up to the stop string
``"\\n"``: the answer form must be digits only; the scratchpad form must be
scratchpad characters (digits, ``+ = ;``) followed by ``#`` and digits. The
answer is normalised to an integer without leading zeros; anything else is
malformed (None). ``grade`` compares that answer with the reference; the
scratchpad's steps are not graded, only its final answer.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from ttscale.errors import InputError
from ttscale.tasks import splits
from ttscale.tasks.spec import IntParam, canonical_name, check_params
from ttscale.types import Problem

PREFIX = {0: "A", 1: "S"}
# Configs with at most this many instances are enumerated (exact split sizes);
# larger ones are sampled by rejection within the split.
ENUMERATE_LIMIT = 100_000
_ANSWER = re.compile(r"([0-9]{1,12})")
_SCRATCHPAD = re.compile(r"[0-9+=;]*#([0-9]{1,12})")

Operands = tuple[int, ...]


def _split_key(operands: Operands) -> str:
    return "arith:" + "+".join(map(str, sorted(operands)))


@cache
def _enumerated(digits: int, operands: int) -> dict[str, tuple[Operands, ...]]:
    members: dict[str, list[Operands]] = {s: [] for s in splits.SPLITS}
    values = range(10 ** (digits - 1), 10**digits)
    for item in itertools.product(values, repeat=operands):
        members[splits.split_of(_split_key(item))].append(item)
    return {s: tuple(v) for s, v in members.items()}


def columns(operands: Operands, digits: int) -> list[tuple[list[int], int, int]]:
    """Per column, from the ones: (the operands' digits, carry in, column total)."""
    steps, carry = [], 0
    for col in range(digits):
        column = [(x // 10**col) % 10 for x in operands]
        total = sum(column) + carry
        steps.append((column, carry, total))
        carry = total // 10
    return steps


def scratchpad(operands: Operands, digits: int) -> str:
    """The scratchpad completion, stop string included."""
    steps = "".join(
        "+".join(map(str, column)) + f"+{carry}={total:02d};" for column, carry, total in columns(operands, digits)
    )
    return f"{steps}#{sum(operands)}\n"


@dataclass(frozen=True)
class ArithTask:
    """Sum ``operands`` numbers of ``digits`` digits, directly or with a scratchpad."""

    digits: int = 2
    operands: int = 3
    scratchpad: int = 0

    family: ClassVar[str] = "arith"
    PARAMS: ClassVar[tuple[IntParam, ...]] = (
        IntParam("digits", 1, 5, "digits of every operand"),
        IntParam("operands", 2, 6, "how many numbers are summed"),
        IntParam("scratchpad", 0, 1, "1: write column-by-column steps before the answer"),
    )
    has_verifier: ClassVar[bool] = False
    stop: ClassVar[str] = "\n"

    def __post_init__(self) -> None:
        check_params(self)

    @property
    def name(self) -> str:
        return canonical_name(self)

    @property
    def space(self) -> int:
        """How many distinct instances (ordered operand tuples) this config has."""
        return (9 * 10 ** (self.digits - 1)) ** self.operands

    @property
    def prompt_length(self) -> int:
        """Characters in every prompt of this config."""
        return 1 + self.operands * (self.digits + 1)

    @property
    def max_completion_length(self) -> int:
        """Characters in the longest reference completion, stop string included."""
        answer = len(str(self.operands * (10**self.digits - 1)))
        steps = self.digits * (2 * self.operands + 5) + 1 if self.scratchpad else 0
        return steps + answer + 1

    def split_size(self, split: str) -> int:
        """Distinct problems in ``split``: exact for configs of at most ENUMERATE_LIMIT
        instances, else the expected number (space x the split's share)."""
        splits.check_split(split)
        if self.space <= ENUMERATE_LIMIT:
            return len(_enumerated(self.digits, self.operands)[split])
        return self.space * splits.SHARES[split] // 1000

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]:
        splits.check_count(count)
        splits.check_split(split)
        rng = splits.rng_for(self.family, self.digits, self.operands, split, seed)
        if self.space <= ENUMERATE_LIMIT:
            members = _enumerated(self.digits, self.operands)[split]
            if count > len(members):
                raise splits.too_few(self.name, split, count, len(members))
            chosen = splits.sample_distinct(members, count, rng)
        else:
            expected = self.split_size(split)
            if count > expected // 2:
                raise InputError(
                    f"count: task {self.name!r} asked for {count} distinct problems from split {split!r}, "
                    f"which holds about {expected}; configs this large are sampled by rejection, so at most "
                    f"{expected // 2} (half a split) can be asked for at once"
                )
            chosen = self._rejection_sample(count, split, rng, distinct=True)
        return [self._problem(ops) for ops in chosen]

    def demonstrations(self, count: int, seed: int) -> list[str]:
        """``count`` training strings (prompt + completion) from the train split only.
        Problems may repeat: shuffled epochs over small configs, independent draws
        over large ones."""
        splits.check_count(count)
        rng = splits.rng_for(self.family, self.digits, self.operands, "demonstrations", seed)
        if self.space <= ENUMERATE_LIMIT:
            chosen = splits.sample_epochs(_enumerated(self.digits, self.operands)["train"], count, rng)
        else:
            chosen = self._rejection_sample(count, "train", rng, distinct=False)
        return [self._prompt(ops) + self._completion(ops) for ops in chosen]

    def solution(self, problem: Problem) -> str:
        """The reference completion a demonstration writes for ``problem``."""
        return self._completion(tuple(problem.meta["operands"]))  # type: ignore[arg-type]

    def extract_answer(self, completion: str) -> str | None:
        """The final answer as an integer string, or None if the completion is malformed."""
        line = completion.split("\n", 1)[0].strip(" ")
        match = (_SCRATCHPAD if self.scratchpad else _ANSWER).fullmatch(line)
        return None if match is None else str(int(match.group(1)))

    def grade(self, problem: Problem, completion: str) -> bool:
        return self.extract_answer(completion) == problem.reference

    def verify(self, problem: Problem, completion: str) -> None:
        """No cheap verifier: checking a sum costs as much as computing it."""

    def verifier_flops(self, problem: Problem, completion: str) -> float:
        return 0.0

    def _rejection_sample(self, count: int, split: str, rng, distinct: bool) -> list[Operands]:
        low, high = 10 ** (self.digits - 1), 10**self.digits
        chosen: list[Operands] = []
        seen: set[Operands] = set()
        while len(chosen) < count:
            ops = tuple(rng.randrange(low, high) for _ in range(self.operands))
            if splits.split_of(_split_key(ops)) != split or (distinct and ops in seen):
                continue
            seen.add(ops)
            chosen.append(ops)
        return chosen

    def _prompt(self, ops: Operands) -> str:
        return PREFIX[self.scratchpad] + "+".join(map(str, ops)) + "="

    def _completion(self, ops: Operands) -> str:
        return scratchpad(ops, self.digits) if self.scratchpad else f"{sum(ops)}\n"

    def _problem(self, ops: Operands) -> Problem:
        carries = sum(1 for _, _, total in columns(ops, self.digits) if total >= 10)
        return Problem(
            task=self.name,
            problem_id="+".join(map(str, ops)),
            prompt=self._prompt(ops),
            reference=str(sum(ops)),
            difficulty=carries,
            meta={"operands": list(ops)},
        )
