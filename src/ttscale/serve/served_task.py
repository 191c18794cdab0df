"""The task of a served request: the request's own prompt and stop strings, no reference, no verifier.

Votes need an answer to count: a served completion's answer is its text with surrounding whitespace
removed and inner whitespace collapsed, so two samples that say the same thing the same way vote
together. A request is never graded (there is no reference): ``correct`` is always false and the
response never reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ttscale.errors import InputError
from ttscale.types import Problem, stable_hash


@dataclass(frozen=True)
class ServedTask:
    stop_sequences: tuple[str, ...] = ()
    family: str = "served"
    has_verifier: bool = False
    fingerprint: str | None = None

    @property
    def name(self) -> str:
        # Samples are stored under the task's name: requests with other stop strings are other tasks.
        return "served" if not self.stop_sequences else f"served:stop={stable_hash(list(self.stop_sequences), 8)}"

    @property
    def stop(self) -> str:
        return self.stop_sequences[0] if self.stop_sequences else ""

    def split_size(self, split: str) -> int:
        return 0

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]:
        raise InputError("task 'served': its problems are the requests it is sent")

    def problem(self, prompt: str) -> Problem:
        """A request's prompt as a problem, identified by its content (the same prompt, the same samples)."""
        return Problem(task=self.name, problem_id=stable_hash(prompt, 16), prompt=prompt, reference="")

    def extract_answer(self, completion: str) -> str | None:
        text = " ".join(completion.split())
        return text or None

    def grade(self, problem: Problem, completion: str) -> bool:
        return False

    def verify(self, problem: Problem, completion: str) -> bool | None:
        return None

    def verifier_flops(self, problem: Problem, completion: str) -> float:
        return 0.0
