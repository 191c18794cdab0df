"""``humaneval-chat``: HumanEval asked of an instruct model as a chat turn, the form such models are
trained on and evaluated in by their authors.

The user turn asks for the whole function in one Python code block and shows the HumanEval prompt
(signature and docstring) inside one; the assistant's turn is begun with the block's opening fence
(``Problem.meta["answer_start"]``, appended after the model's own chat template by
``chat_posing.posed``), so the completion is the code itself and ends at the closing fence. A
sweep must pose it ``--prompt chat``.

Grading runs the completion as a script: the import lines of the HumanEval prompt (a model that
writes ``List[int]`` without importing it is not failed for the prompt's own imports), then the
completion, then the hidden test and ``check(entry_point)``, in the same sandbox as ``humaneval``.
The docstring examples are the same cheap verifier; answers are voted on their normalised code.
"""

from __future__ import annotations

import ast
import dataclasses

from ttscale.errors import InputError
from ttscale.tasks.docstring_examples import Example, examples_program
from ttscale.tasks.humaneval import HumanEvalTask
from ttscale.tasks.sandbox import SandboxResult
from ttscale.types import Problem, stable_hash

ANSWER_START = "```python\n"
FENCE_END = "\n```"


def ask(prompt: str) -> str:
    """The user's turn for a HumanEval prompt."""
    return ("Complete the Python function below. Answer with the whole function, its imports and any helper it "
            "needs, in one Python code block; keep its name and signature.\n\n"
            f"```python\n{prompt.rstrip()}\n```")


def prompt_imports(prompt: str) -> str:
    """The import lines at the top level of a HumanEval prompt."""
    return "".join(line + "\n" for line in prompt.splitlines() if line.startswith(("import ", "from ")))


class HumanEvalChatTask:
    """The 164 HumanEval problems as chat turns; graded by their hidden tests in the sandbox."""

    name = "humaneval-chat"
    family = "humaneval-chat"
    PARAMS: tuple = ()
    has_verifier = True
    stop = FENCE_END
    stop_sequences = (FENCE_END,)
    fingerprint = stable_hash(["humaneval-chat", [FENCE_END], ANSWER_START])  # see HumanEvalTask.fingerprint
    prompt_style = "chat"  # the only style it can be posed in

    def __init__(self, timeout_s: float = 5.0, memory_mb: int = 512, allow_unsafe: bool = False) -> None:
        self.code = HumanEvalTask(timeout_s=timeout_s, memory_mb=memory_mb, allow_unsafe=allow_unsafe)
        self._asked: dict[str, Problem] = {}

    def task_ids(self) -> list[str]:
        return self.code.task_ids()

    def problem(self, task_id: str) -> Problem:
        if task_id not in self._asked:
            original = self.code.problem(task_id)
            self._asked[task_id] = dataclasses.replace(
                original, task=self.name, prompt=ask(original.prompt),
                meta={**original.meta, "function_prompt": original.prompt, "answer_start": ANSWER_START})
        return self._asked[task_id]

    def split_size(self, split: str = "test") -> int:
        if split != "test":
            raise InputError(f"humaneval-chat has one split, 'test'; got split={split!r}")
        return self.code.split_size(split)

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]:
        self.split_size(split)
        return [self.problem(p.problem_id) for p in self.code.problems(count, seed, split)]

    # --- judging ------------------------------------------------------------------
    def script(self, problem: Problem, completion: str) -> str:
        return prompt_imports(problem.meta["function_prompt"]) + completion

    def program(self, problem: Problem, completion: str) -> str:
        meta = problem.meta
        return f"{self.script(problem, completion)}\n\n{meta['test']}\n\ncheck({meta['entry_point']})\n"

    def grade_verdict(self, problem: Problem, completion: str) -> SandboxResult:
        return self.code.run_program(self.program(problem, completion))

    def grade(self, problem: Problem, completion: str) -> bool:
        return self.grade_verdict(problem, completion).passed

    def examples(self, problem: Problem) -> tuple[Example, ...]:
        original = dataclasses.replace(problem, prompt=problem.meta["function_prompt"])
        return self.code.examples(original)

    def verifier_program(self, problem: Problem, completion: str) -> str | None:
        examples = self.examples(problem)
        if not examples:
            return None
        return self.script(problem, completion) + "\n" + examples_program(examples)

    def verify_verdict(self, problem: Problem, completion: str) -> SandboxResult | None:
        program = self.verifier_program(problem, completion)
        return None if program is None else self.code.run_program(program)

    def verify(self, problem: Problem, completion: str) -> bool | None:
        result = self.verify_verdict(problem, completion)
        return None if result is None else result.passed

    def verifier_flops(self, problem: Problem | None = None, completion: str | None = None) -> float:
        return 0.0  # sandbox seconds, not model FLOPs (see ``HumanEvalTask.verifier_flops``)

    def extract_answer(self, completion: str) -> str | None:
        """The script's code normalised (``ast.unparse``): formatting and comments do not split votes."""
        try:
            tree = ast.parse(completion)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return None
        return ast.unparse(tree).strip() or None
