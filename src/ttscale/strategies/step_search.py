"""Steps for tree search: how a partial solution grows by one step, and what that costs.

A *step* is what a backend generates from ``prompt + prefix`` up to a step
boundary. ``StepFormat`` says where steps end: an intermediate step ends with
the ``delimiter`` (";" in the lab's scratchpad), the final one with the task's
stop string ``final_end`` ("\\n", after "#answer"). A step that reaches neither
within ``max_step_tokens`` is *truncated* and ends the solution (malformed).
``CodeLines`` makes each line of a code completion a step (HumanEval), the
solution ending where the task's stop sequences would begin.

Scratchpad steps have two stop strings, one ``stop`` per backend call. The lab's
tiny backend stops on one string only (the first it is given), so a call stops on
the boundary this step is *expected* to
end with (``StepFormat.first_stop``: the scratchpad has a known number of
column steps before the answer). When a generation crosses the other boundary
first (the text holds it, or the call ran to its token limit), the step is cut
there, and — because its logprob and token count then include tokens past the
cut — it is drawn again **with the same seed** and the other stop string. A
sample is a pure function of (model, prompt, seed, config), so the re-draw
reproduces the step exactly and ends at the cut: the step's text, tokens and
log-probability are exact, and both calls are charged to the ledger (the
re-draws are counted as ``regenerations``). With a good ``first_stop`` hint
they are rare; without a hint (``intermediate_steps=None``) every final step
costs one re-draw.

Seeds: a step's seed is a pure function of (run seed, model, problem, node
path, child index) (``step_seed``), so a search is reproducible, resumable per
problem, and independent of which other problems share its batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from ttscale import flops
from ttscale.backends import Backend
from ttscale.backends.chat_posing import posed
from ttscale.backends.prefix_reuse import PrefixReusingBackend
from ttscale.errors import InputError
from ttscale.strategies.search_ledger import ComputeLedger
from ttscale.tasks.arith import ArithTask, columns_of
from ttscale.tasks.humaneval import HumanEvalTask
from ttscale.tasks.humaneval_chat import HumanEvalChatTask
from ttscale.tasks.spec import span
from ttscale.types import Problem, SamplingConfig, Task, stable_hash


@dataclass(frozen=True)
class StepFormat:
    """Where steps end, and how long a step and a solution may get."""

    delimiter: str  # ends an intermediate step
    final_end: str  # ends the final step: the task's stop string
    max_step_tokens: int  # token limit of one step's generation
    max_depth: int  # steps in a solution at most (the final one included)
    # Hint only (which stop to try first): intermediate steps before the final one.
    intermediate_steps: Callable[[Problem], int] | None = None

    def __post_init__(self) -> None:
        if not self.delimiter or not self.final_end or self.delimiter == self.final_end:
            raise InputError(f"StepFormat: delimiter and final_end must be distinct non-empty strings, got "
                             f"{self.delimiter!r}, {self.final_end!r}")
        if self.max_step_tokens <= 0 or self.max_depth <= 0:
            raise InputError(f"StepFormat: max_step_tokens and max_depth must be positive, got "
                             f"{self.max_step_tokens!r}, {self.max_depth!r}")

    def first_stop(self, problem: Problem, depth: int) -> str:
        """The stop string to try for the step at ``depth`` (0-based)."""
        if self.intermediate_steps is not None and depth >= self.intermediate_steps(problem):
            return self.final_end
        return self.delimiter

    def cut(self, text: str, finished: bool, stop: str) -> tuple[str, str, bool]:
        """(step text, its end, exact) for a generation made with ``stop``.

        The step runs to the earliest boundary; end "" marks a truncated step.
        ``exact`` is false when the generation went past the step's end, so its
        tokens and logprob must come from a re-draw with ``stop=end``.
        """
        full = text + (stop if finished else "")
        found = [(full.find(s), s) for s in (self.delimiter, self.final_end) if s in full]
        if not found:
            return text, "", True
        position, end = min(found)
        return full[:position], end, finished and end == stop and position == len(text)

    def split(self, text: str, finished: bool, stop: str, prefix: str = "") -> tuple[str, str, bool, bool]:
        """(step text, its end, final, exact): ``cut``, and whether the step ends the solution."""
        text, end, exact = self.cut(text, finished, stop)
        return text, end, end == self.final_end, exact

    def key(self) -> dict:
        return {"delimiter": self.delimiter, "final_end": self.final_end,
                "max_step_tokens": self.max_step_tokens, "max_depth": self.max_depth}


@dataclass(frozen=True)
class CodeLines:
    """Steps of a code completion: one line each (HumanEval's function bodies).

    A step ends at a newline. The solution ends where the task's stop
    sequences say a completion ends (a new top-level ``def``, ``class``,
    ``if __name__``, ``print(`` or comment): they all begin with a newline,
    so a generated line that would begin one marks the solution as finished
    *before* it; that line is charged but not kept (a final step with no
    text). The end of generation (EOS) ends a line like a newline (backends
    do not tell the two apart), so a second blank line in a row also ends the
    solution: a model done with its answer emits EOS again and again, and a
    function body does not hold two blank lines in a row. A line
    that reaches ``max_step_tokens`` without a newline is truncated and ends
    the solution, which is then graded as it stands, as is one that reaches
    ``max_depth`` lines.
    """

    ends: tuple[str, ...]  # the task's stop sequences, each starting with "\n"
    max_step_tokens: int = 48
    max_depth: int = 24
    delimiter: str = "\n"
    # A second blank line in a row ends a function body; a whole script (a chat answer) has two before
    # each top-level definition, so there only the ends do.
    blank_lines_end: bool = True

    def __post_init__(self) -> None:
        if not self.ends or not all(e.startswith(self.delimiter) and len(e) > 1 for e in self.ends):
            raise InputError(f"CodeLines: every end must start with a newline and go on, got {self.ends!r}")
        if self.max_step_tokens <= 0 or self.max_depth <= 0:
            raise InputError(f"CodeLines: max_step_tokens and max_depth must be positive, got "
                             f"{self.max_step_tokens!r}, {self.max_depth!r}")

    def first_stop(self, problem: Problem, depth: int) -> str:
        return self.delimiter

    def split(self, text: str, finished: bool, stop: str, prefix: str = "") -> tuple[str, str, bool, bool]:
        """``prefix``: the solution so far (a second blank line in a row ends it)."""
        line, newline, _ = text.partition(self.delimiter)
        if any((self.delimiter + line).startswith(e) for e in self.ends):
            return "", "", True, True
        previous_line_blank = prefix.endswith(self.delimiter) and not prefix[:-1].rpartition(self.delimiter)[2].strip()
        if self.blank_lines_end and not line.strip() and previous_line_blank:
            return "", "", True, True
        if newline or finished:
            return line, self.delimiter, False, True
        return line, "", False, True  # truncated: no newline within the token limit

    def key(self) -> dict:
        # "lines": the version of the rules above (2: a second blank line ends the solution).
        key = {"lines": 2, "ends": list(self.ends), "max_step_tokens": self.max_step_tokens,
               "max_depth": self.max_depth}
        return key if self.blank_lines_end else {**key, "blank_lines_end": False}


Steps = StepFormat | CodeLines


@runtime_checkable
class StepsOfAnother(Protocol):
    """A task whose steps are another task's (a served request read as a problem of a named task)."""

    def steps_task(self) -> Task: ...


def step_format_for(task: Task) -> Steps:
    """The steps of a task that has them: the lab's scratchpad sums (one column per step),
    HumanEval (one line of code per step)."""
    if isinstance(task, StepsOfAnother):
        task = task.steps_task()
    if isinstance(task, HumanEvalTask):
        return CodeLines(ends=task.stop_sequences)
    if isinstance(task, HumanEvalChatTask):  # a whole script, ending at its closing fence
        return CodeLines(ends=task.stop_sequences, max_depth=48, blank_lines_end=False)
    if isinstance(task, ArithTask) and task.scratchpad:

        digits, operands = span(task.digits)[1], span(task.operands)[1]  # the largest problem of a mixed config
        column_step = 2 * operands + 5  # "d+d+d+c=tt;": digits, pluses, carry, "=", total, ";"
        answer_step = len(str(operands * (10**digits - 1))) + 2  # "#ddd" and the stop string
        return StepFormat(
            delimiter=";",
            final_end=task.stop,
            max_step_tokens=max(column_step, answer_step) + 2,  # two tokens of slack
            max_depth=digits + 2,  # the columns, the answer, and one step of slack for a wrong turn
            intermediate_steps=columns_of,  # the problem's own columns (a mixed config varies them)
        )
    raise InputError(f"tree search: task {task.name!r} has no step format "
                     "(supported: arith with scratchpad=1, humaneval)")


@dataclass(frozen=True)
class Step:
    text: str
    end: str  # the delimiter, the final end, or "" (truncated, or a code solution's end)
    n_tokens: int  # tokens generated for it, its end included
    logprob: float  # their total log-probability (temperature 1)
    seed: int
    final: bool = False  # it ends the solution


@dataclass(eq=False)
class Node:
    """A partial solution: the steps so far. Search statistics live here too."""

    steps: tuple[Step, ...] = ()
    path: tuple[int, ...] = ()
    dead: bool = False  # no room left in the context: cannot grow
    value: float = float("nan")  # the scorer's value of this prefix
    visits: int = 0
    total: float = 0.0
    children: list[Node] = field(default_factory=list)
    expanded: bool = False
    exhausted: bool = False  # nothing below is expandable (MCTS)

    @property
    def prefix(self) -> str:
        return "".join(s.text + s.end for s in self.steps)

    @property
    def completion(self) -> str:
        """The solution without its final end (the stop string a sweep cuts off too)."""
        if self.complete:
            return "".join(s.text + s.end for s in self.steps[:-1]) + self.steps[-1].text
        return self.prefix

    @property
    def depth(self) -> int:
        return len(self.steps)

    @property
    def logprob(self) -> float:
        return sum(s.logprob for s in self.steps)

    @property
    def n_tokens(self) -> int:
        return sum(s.n_tokens for s in self.steps)

    @property
    def complete(self) -> bool:
        return bool(self.steps) and self.steps[-1].final

    def is_terminal(self, max_depth: int) -> bool:
        """Cannot grow: no room, the depth limit, or the last step was final or truncated."""
        last = self.steps[-1] if self.steps else None
        return self.dead or self.depth >= max_depth or (last is not None and (last.final or last.end == ""))

    def child(self, step: Step, index: int) -> Node:
        return Node(self.steps + (step,), self.path + (index,))


def step_seed(run_seed: int, model: str, problem_id: str, path: Sequence[int], index: int) -> int:
    """A reproducible 31-bit seed for child ``index`` of the node at ``path``."""
    return int(stable_hash([run_seed, model, problem_id, list(path), index], length=8), 16) & 0x7FFFFFFF


@dataclass(frozen=True)
class StepRequest:
    owner: int  # the problem's row in the ledger
    problem: Problem
    node: Node
    seeds: tuple[int, ...]


class StepSampler:
    """Draws steps through a Backend in batched calls and charges every call to a ledger.

    On a backend that keeps its KV cache between calls (``PrefixReusingBackend``, llama.cpp) and with
    ``reuse_cache``, a context prefills only the tokens past what the previous call left cached (its
    parent's context and step): the ledger charges those, and counts the cached ones apart.
    """

    def __init__(self, backend: Backend, step_format: Steps, temperature: float = 1.0, top_p: float = 1.0,
                 reuse_cache: bool = True):
        self.backend, self.format = backend, step_format
        self.config = SamplingConfig(temperature=temperature, top_p=top_p, max_new_tokens=step_format.max_step_tokens)
        self.reusing = reuse_cache and isinstance(backend, PrefixReusingBackend)

    def start_search(self) -> None:
        """A new search (a chunk of problems) begins: nothing cached from the last one is reused."""
        if self.reusing:
            self.backend.forget_cache()

    def problems_per_call(self, samples_per_problem: int) -> int | None:
        """How many problems' steps fit one wave of a cache-reusing backend, so that each call's contexts
        find their parents in the cells of the call before (None: any number)."""
        if not self.reusing:
            return None
        return max(1, self.backend.max_seqs // samples_per_problem)

    def has_room(self, problem: Problem, node: Node) -> bool:
        """Whether the context can take at least one more token."""
        return self.backend.count_tokens(posed(self.backend, problem) + node.prefix) < self.backend.card.context_length

    def sample(self, requests: Sequence[StepRequest], ledger: ComputeLedger) -> list[list[Step]]:
        """One list of steps per request, one step per seed ([] when the node has no room)."""
        out: list[list[Step]] = [[] for _ in requests]
        by_stop: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            if self.has_room(r.problem, r.node):
                by_stop.setdefault(self.format.first_stop(r.problem, r.node.depth), []).append(i)
        redraws: dict[str, list[tuple[int, int]]] = {}  # stop -> (request, seed position)
        for stop, members in by_stop.items():
            gens = self._call([requests[i] for i in members], [requests[i].seeds for i in members], stop, ledger)
            for i, pool in zip(members, gens):
                for j, g in enumerate(pool):
                    text, end, final, exact = self.format.split(g.text, g.finished, stop, requests[i].node.prefix)
                    out[i].append(Step(text, end, len(g.token_ids), float(g.logprob), int(g.seed), final))
                    if not exact:
                        redraws.setdefault(end, []).append((i, j))
        for stop, members in redraws.items():
            gens = self._call([requests[i] for i, _ in members], [(out[i][j].seed,) for i, j in members], stop, ledger)
            for (i, j), pool in zip(members, gens):
                g = pool[0]
                text, end, final, _ = self.format.split(g.text, g.finished, stop, requests[i].node.prefix)
                out[i][j] = replace(out[i][j], text=text, end=end, n_tokens=len(g.token_ids), logprob=float(g.logprob),
                                    final=final)
                ledger.regenerations[requests[i].owner] += 1
        for r, steps in zip(requests, out):
            ledger.step_samples[r.owner] += len(steps)
        return out

    def _call(self, requests: Sequence[StepRequest], seeds: Sequence[Sequence[int]], stop: str, ledger: ComputeLedger):
        card, shared = self.backend.card, self.backend.prefill_shared
        contexts = [posed(self.backend, r.problem) + r.node.prefix for r in requests]  # steps in the answer's turn
        started = time.perf_counter()
        if self.reusing:
            gens, cached = self.backend.generate_reusing(contexts, [list(s) for s in seeds], self.config, stop)
        else:
            gens = self.backend.generate(contexts, [list(s) for s in seeds], self.config, stop)
            cached = [(0,) if shared else (0,) * len(pool) for pool in gens]  # a full prefill per prompt (or seed)
        seconds = time.perf_counter() - started
        owners, costs = [], []
        for r, context, pool, hits in zip(requests, contexts, gens, cached):
            errors = [g.error for g in pool if getattr(g, "error", None)]
            if errors:
                raise RuntimeError(f"backend {self.backend.name!r} failed on problem {r.problem.problem_id!r}: {errors[0]}")
            tokens = self.backend.count_tokens(context)
            # One prefill per wave the prompt's samples were decoded in (per seed on a backend that does not
            # share it), each of the tokens past what that wave found cached: P - L tokens at positions L .. P-1.
            prefill = sum(flops.prefill_flops(card, tokens) - flops.prefill_flops(card, hit) for hit in hits)
            decode = sum(flops.decode_flops(card, tokens, len(g.token_ids)) for g in pool)
            ledger.prefill_tokens[r.owner] += sum(tokens - hit for hit in hits)
            ledger.cached_tokens[r.owner] += sum(hits)
            ledger.prefill_flops[r.owner] += prefill
            ledger.generated_tokens[r.owner] += sum(len(g.token_ids) for g in pool)
            ledger.calls[r.owner] += 1
            owners.append(r.owner)
            costs.append(prefill + decode)
        ledger.charge_generation(owners, costs, seconds)
        return gens
