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

Mixed configs: ``digits`` and ``operands`` also take inclusive ranges
(``"arith:digits=1-3,operands=2-4,scratchpad=1"``). Such a task mixes *cells*,
one per (digits, operands) pair of the ranges: every problem picks a cell
uniformly (a cell whose split has run out of distinct problems is passed
over; both forms pick the same cells, so they share problems as single-valued
configs do), then its operands as the single-valued config of that cell would (all
operands of one problem have the same number of digits, so the scratchpad has
one step per column of that problem). Prompts then vary in length
(``prompt_length`` is the longest); the split of a problem is still hashed
from its sorted operands alone, so an instance lies in the same split in every
config that can draw it. ``Problem.difficulty`` of a mixed config adds to the
carries the single-digit additions the problem's scratchpad does beyond the
config's smallest cell: ``carries + digits·operands − min(digits·operands)``
(a single-valued config: the carries alone).

Length: the lab's models see 64 positions (BOS, prompt and completion): the
largest cell that fits with a scratchpad is 3 digits x 4 operands (63).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from ttscale.errors import InputError
from ttscale.tasks import splits
from ttscale.tasks.spec import IntParam, format_param, line_task, span
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


Cell = tuple[int, int]  # (digits, operands)


def _cell_space(digits: int, operands: int) -> int:
    return (9 * 10 ** (digits - 1)) ** operands


def _rejection(digits: int, operands: int, split: str, rng, distinct: bool) -> Iterator[Operands]:
    """Endless uniform draws of operand tuples in ``split`` (distinct ones only if asked)."""
    low, high = 10 ** (digits - 1), 10**digits
    seen: set[Operands] = set()
    while True:
        ops = tuple(rng.randrange(low, high) for _ in range(operands))
        if splits.split_of(_split_key(ops)) != split or (distinct and ops in seen):
            continue
        seen.add(ops)
        yield ops


def _cell_problems(family: str, cell: Cell, split: str, seed: int) -> Iterator[Operands]:
    """The distinct problems of one cell's ``split`` in the order its single-valued config
    draws them (ends when an enumerated split runs out)."""
    digits, operands = cell
    rng = splits.rng_for(family, digits, operands, split, seed)
    if _cell_space(digits, operands) <= ENUMERATE_LIMIT:
        members = _enumerated(digits, operands)[split]
        yield from splits.sample_distinct(members, len(members), rng)
    else:
        yield from _rejection(digits, operands, split, rng, distinct=True)


def _cell_demonstrations(family: str, cell: Cell, seed: int) -> Iterator[Operands]:
    """Endless train-split problems of one cell: shuffled epochs over enumerated cells,
    independent draws over large ones."""
    digits, operands = cell
    rng = splits.rng_for(family, digits, operands, "demonstrations", seed)
    if _cell_space(digits, operands) <= ENUMERATE_LIMIT:
        yield from splits.epochs(_enumerated(digits, operands)["train"], rng)
    else:
        yield from _rejection(digits, operands, "train", rng, distinct=False)


@dataclass(frozen=True)
@line_task  # stop, name, fingerprint, parameter checks
class ArithTask:
    """Sum ``operands`` numbers of ``digits`` digits, directly or with a scratchpad.
    ``digits`` and ``operands`` may be ``(low, high)`` ranges: a mixed config."""

    digits: int | tuple[int, int] = 2
    operands: int | tuple[int, int] = 3
    scratchpad: int = 0

    family: ClassVar[str] = "arith"
    PARAMS: ClassVar[tuple[IntParam, ...]] = (
        IntParam("digits", 1, 5, "digits of every operand (a range low-high mixes problems)", ranged=True),
        IntParam("operands", 2, 6, "how many numbers are summed (a range low-high mixes problems)", ranged=True),
        IntParam("scratchpad", 0, 1, "1: write column-by-column steps before the answer"),
    )
    has_verifier: ClassVar[bool] = False

    @property
    def mixed(self) -> bool:
        return not (isinstance(self.digits, int) and isinstance(self.operands, int))

    @property
    def cells(self) -> tuple[Cell, ...]:
        """Every (digits, operands) pair this config draws problems from."""
        (d_low, d_high), (m_low, m_high) = span(self.digits), span(self.operands)
        return tuple((d, m) for d in range(d_low, d_high + 1) for m in range(m_low, m_high + 1))

    @property
    def space(self) -> int:
        """How many distinct instances (ordered operand tuples) this config has."""
        return sum(_cell_space(d, m) for d, m in self.cells)

    @property
    def prompt_length(self) -> int:
        """Characters in the longest prompt of this config (every prompt, when single-valued)."""
        return max(1 + m * (d + 1) for d, m in self.cells)

    @property
    def max_completion_length(self) -> int:
        """Characters in the longest reference completion, stop string included."""
        return max(self._completion_length(d, m) for d, m in self.cells)

    def _completion_length(self, digits: int, operands: int) -> int:
        answer = len(str(operands * (10**digits - 1)))
        steps = digits * (2 * operands + 5) + 1 if self.scratchpad else 0
        return steps + answer + 1

    def split_size(self, split: str) -> int:
        """Distinct problems in ``split``: exact for cells of at most ENUMERATE_LIMIT
        instances, else the expected number (space x the split's share)."""
        splits.check_split(split)
        return sum(
            len(_enumerated(d, m)[split]) if _cell_space(d, m) <= ENUMERATE_LIMIT
            else _cell_space(d, m) * splits.SHARES[split] // 1000
            for d, m in self.cells
        )

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]:
        splits.check_count(count)
        splits.check_split(split)
        available = self.split_size(split)
        if all(_cell_space(d, m) <= ENUMERATE_LIMIT for d, m in self.cells):
            if count > available:
                raise splits.too_few(self.name, split, count, available)
        elif count > available // 2:
            raise InputError(
                f"count: task {self.name!r} asked for {count} distinct problems from split {split!r}, "
                f"which holds about {available}; configs this large are sampled by rejection, so at most "
                f"{available // 2} (half a split) can be asked for at once"
            )
        streams = {cell: _cell_problems(self.family, cell, split, seed) for cell in self.cells}
        return [self._problem(ops) for ops in self._mixed(streams, count, split, seed)]

    def demonstrations(self, count: int, seed: int) -> list[str]:
        """``count`` training strings (prompt + completion) from the train split only.
        Problems may repeat: shuffled epochs over small cells, independent draws
        over large ones."""
        splits.check_count(count)
        streams = {cell: _cell_demonstrations(self.family, cell, seed) for cell in self.cells}
        chosen = self._mixed(streams, count, "demonstrations", seed)
        return [self._prompt(ops) + self._completion(ops) for ops in chosen]

    def _mixed(self, streams: dict, count: int, purpose: str, seed: int) -> list[Operands]:
        """``count`` items over the cells' streams (``splits.mix``; one cell: its own stream in order)."""
        selector = splits.rng_for(self.family, "mix", *map(format_param, (self.digits, self.operands)), purpose, seed)
        return splits.mix(streams, count, selector)

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

    def _prompt(self, ops: Operands) -> str:
        return PREFIX[self.scratchpad] + "+".join(map(str, ops)) + "="

    def _completion(self, ops: Operands) -> str:
        return scratchpad(ops, operand_digits(ops)) if self.scratchpad else f"{sum(ops)}\n"

    def _problem(self, ops: Operands) -> Problem:
        digits = operand_digits(ops)
        carries = sum(1 for _, _, total in columns(ops, digits) if total >= 10)
        extra = digits * len(ops) - min(d * m for d, m in self.cells)
        return Problem(
            task=self.name,
            problem_id="+".join(map(str, ops)),
            prompt=self._prompt(ops),
            reference=str(sum(ops)),
            difficulty=carries + extra,
            meta={"operands": list(ops)},
        )


def operand_digits(ops: Operands) -> int:
    """Digits of every operand of a problem (they all have the same number)."""
    return len(str(ops[0]))


def columns_of(problem: Problem) -> int:
    """Scratchpad steps (columns) of an arith problem before its answer step."""
    return operand_digits(tuple(problem.meta["operands"]))  # type: ignore[arg-type]
