"""``sums``: the ``arith`` problems asked of a real language model in words.

    prompt "Q: What is 347 + 588?\\nA:"   reference completion " 935\\n"

Same problems as ``arith`` with the same ``digits`` and ``operands`` (a range mixes
difficulties): the same ids, the same hash-disjoint train / calib / test splits, the same
exact answers. Only the form differs, so a real model gets a question it can read, and the
lab's character-level form is untouched. A completion ends at its line; its answer is the
last integer written on that line (" 935", "347 + 588 = 935" and "935." all answer 935),
so a model that restates the sum before answering is not marked wrong for it. No cheap
verifier: votes decide.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import ClassVar

from ttscale.tasks.arith import ArithTask
from ttscale.tasks.spec import IntParam, line_task
from ttscale.types import Problem

_INTEGER = re.compile(r"-?[0-9][0-9,]*")


@dataclass(frozen=True)
@line_task  # stop, name, fingerprint, parameter checks
class SumQuestionsTask:
    digits: int | tuple[int, int] = 3
    operands: int | tuple[int, int] = 2

    family: ClassVar[str] = "sums"
    PARAMS: ClassVar[tuple[IntParam, ...]] = (
        IntParam("digits", 1, 5, "digits of every operand (a range low-high mixes problems)", ranged=True),
        IntParam("operands", 2, 6, "how many numbers are summed (a range low-high mixes problems)", ranged=True),
    )
    has_verifier: ClassVar[bool] = False

    @property
    def arith(self) -> ArithTask:
        """The lab task that draws the same problems."""
        return ArithTask(digits=self.digits, operands=self.operands, scratchpad=0)

    def split_size(self, split: str) -> int:
        return self.arith.split_size(split)

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]:
        return [self._asked(p) for p in self.arith.problems(count, seed, split)]

    def demonstrations(self, count: int, seed: int) -> list[str]:
        chosen = self.arith.problems(count, seed, "train")
        return [self.question(p.meta["operands"]) + self.solution(p) for p in chosen]

    def solution(self, problem: Problem) -> str:
        return f" {problem.reference}\n"

    @staticmethod
    def question(operands) -> str:
        return f"Q: What is {' + '.join(map(str, operands))}?\nA:"

    def extract_answer(self, completion: str) -> str | None:
        """The last integer on the completion's first line, normalised; None when there is none."""
        found = _INTEGER.findall(completion.split("\n", 1)[0])
        if not found:
            return None
        return str(int(found[-1].replace(",", "")))

    def grade(self, problem: Problem, completion: str) -> bool:
        return self.extract_answer(completion) == problem.reference

    def verify(self, problem: Problem, completion: str) -> None:
        """No cheap verifier: checking a sum costs as much as computing it."""

    def verifier_flops(self, problem: Problem, completion: str) -> float:
        return 0.0

    def _asked(self, problem: Problem) -> Problem:
        return dataclasses.replace(problem, task=self.name, prompt=self.question(problem.meta["operands"]))
