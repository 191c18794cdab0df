"""Built-in synthetic tasks for the lab, one registry, one way to name them.

    get_task("factor:digits=3")                        # FactorTask(digits=3)
    get_task("arith:operands=3,digits=2,scratchpad=1")  # ArithTask(2, 3, 1)

A spec is ``family`` or ``family:name=value,...``; left-out parameters take
their defaults; ``task.name`` is the canonical spec (every parameter, sorted).
Families:

- ``factor`` (digits 2..6, default 3): factor a semiprime; cheap exact verifier.
- ``arith`` (digits 1..5, default 2; operands 2..6, default 3; scratchpad 0/1,
  default 0): a sum, answered directly or after column-by-column steps; no verifier.
- ``sums`` (digits 1..5, default 3; operands 2..6, default 2): ``arith``'s problems
  asked in words ("Q: What is 347 + 588?"), for real language models.
- ``humaneval``: the 164 HumanEval problems, graded in the sandbox.
- ``humaneval-chat``: the same problems asked as a chat turn (posed ``--prompt chat``), the
  answer's code read from its fenced block.
- ``jsonl:PATH[?grader=...,stop=...,tolerance=...]``: your own problems from a
  JSONL file (``jsonl_task``). A task class with a ``from_spec`` classmethod,
  like this one, gets everything after the first colon verbatim (a path may
  hold ``,`` and ``=``) instead of ``name=value`` parameters.

Besides the ``Task`` protocol (``ttscale.types``), the lab's generated tasks offer,
for the trainer, ``demonstrations(count, seed)`` (train split only),
``prompt_length``, ``max_completion_length`` and ``solution(problem)``; a code
task offers ``grade_verdict`` (the ``CodeTask`` capability of ``tasks.sandbox``).
Splits "train" / "calib" / "test" are disjoint (80 / 10 / 10 by a content hash).
"""

from __future__ import annotations

from ttscale.registry import Registry
from ttscale.tasks.arith import ArithTask
from ttscale.tasks.factor import FactorTask
from ttscale.tasks.humaneval import HumanEvalTask
from ttscale.tasks.humaneval_chat import HumanEvalChatTask
from ttscale.tasks.jsonl_task import JsonlTask
from ttscale.tasks.spec import build, parse_spec
from ttscale.tasks.sum_questions import SumQuestionsTask
from ttscale.tasks.splits import SPLITS
from ttscale.types import Task

# Each entry is a task class: a frozen dataclass with ``PARAMS`` whose
# ``__post_init__`` validates its fields.
TASKS: Registry[type] = Registry("task")
TASKS.register("factor")(FactorTask)
TASKS.register("arith")(ArithTask)
TASKS.register("sums")(SumQuestionsTask)  # arith's problems asked in words, for real language models
TASKS.register("humaneval")(HumanEvalTask)  # code: graded in the sandbox
TASKS.register("humaneval-chat")(HumanEvalChatTask)  # the same, asked of an instruct model as a chat turn
TASKS.register("jsonl")(JsonlTask)  # user problems: "jsonl:PATH[?options]"


def get_task(spec: str) -> Task:
    """The task named by ``spec``; InputError (with "did you mean") on a bad name or value."""
    if isinstance(spec, str) and spec.strip():
        family, _, rest = spec.strip().partition(":")
        cls = TASKS.get(family.strip())
        if hasattr(cls, "from_spec"):
            return cls.from_spec(rest)
    family, raw = parse_spec(spec)
    return build(TASKS.get(family), family, raw)


__all__ = ["SPLITS", "TASKS", "ArithTask", "FactorTask", "JsonlTask", "SumQuestionsTask", "get_task"]
