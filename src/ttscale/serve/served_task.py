"""The task of a served request: the request's own prompt and stop strings, no reference.

Without ``--task``, votes need an answer to count: a served completion's answer is its text with
surrounding whitespace removed and inner whitespace collapsed, so two samples that say the same thing
the same way vote together, and there is no verifier.

With ``--task NAME`` (``ttscale serve --task humaneval``), a request's prompt is read as a problem of
that task (the task's ``served_problem`` when it has one: HumanEval finds the function the prompt
defines; else the prompt alone): its answer extractor groups the votes, its verifier checks each
sample without any reference (code run against the prompt's own examples in the sandbox), and its
stop strings apply when the request gives none. A request is never graded: ``correct`` is always false
and the response never reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ttscale.errors import InputError
from ttscale.types import Problem, Task, stable_hash


@runtime_checkable
class ServableTask(Protocol):
    def served_problem(self, prompt: str, problem_id: str, task: str) -> Problem:
        """A request's prompt as a problem of this task, with no reference (InputError naming ``prompt``)."""
        ...


@dataclass(frozen=True)
class ServedTask:
    stop_given: tuple[str, ...] = ()  # the request's stop strings
    base: Task | None = None  # the named task (--task), if any
    family: str = "served"
    fingerprint: str | None = None

    @property
    def name(self) -> str:
        # Samples are stored under the task's name: requests with other stop strings are other tasks.
        head = "served" if self.base is None else f"served:task={self.base.name}"
        return head if not self.stop_given else f"{head},stop={stable_hash(list(self.stop_given), 8)}"

    @property
    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop_given or self.base is None:
            return self.stop_given
        return tuple(self.base.stop_sequences)

    @property
    def stop(self) -> str:
        return self.stop_sequences[0] if self.stop_sequences else ""

    @property
    def has_verifier(self) -> bool:
        return self.base is not None and self.base.has_verifier

    def split_size(self, split: str) -> int:
        return 0

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]:
        raise InputError("task 'served': its problems are the requests it is sent")

    def problem(self, prompt: str, seed: int = 0) -> Problem:
        """A request's prompt as a problem, identified by its content and the request's seed: the same prompt
        with the same seed draws the same samples (stored once), with another seed other samples (kept too)."""
        problem_id = f"{stable_hash(prompt, 16)}-s{seed}"
        if isinstance(self.base, ServableTask):  # a task that reads more than the prompt from it
            return self.base.served_problem(prompt, problem_id, self.name)
        return Problem(task=self.name, problem_id=problem_id, prompt=prompt, reference="")

    def steps_task(self) -> Task:
        """The task whose steps a tree search takes (``strategies.step_search.StepsOfAnother``)."""
        if self.base is None:
            raise InputError("ttscale.strategy: a tree search needs the steps of a task; serve with --task NAME "
                             "(humaneval: one line of code per step)")
        return self.base

    def extract_answer(self, completion: str) -> str | None:
        if self.base is not None:
            return self.base.extract_answer(completion)
        text = " ".join(completion.split())
        return text or None

    def grade(self, problem: Problem, completion: str) -> bool:
        return False

    def verify(self, problem: Problem, completion: str) -> bool | None:
        return None if self.base is None else self.base.verify(problem, completion)

    def verifier_flops(self, problem: Problem, completion: str) -> float:
        return 0.0 if self.base is None else self.base.verifier_flops(problem, completion)
