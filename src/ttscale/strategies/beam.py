"""Beam search over reasoning steps, guided by a scorer.

Level by level: the root is expanded with ``width x expansions`` sampled steps
(so the first level is as wide as the later ones), every later live beam with
``expansions``; the new partial solutions (duplicates of the same text merged:
they would waste beam slots) and the finished beams carried over are ranked by
the scorer, and the top ``width`` are kept. The search stops when every beam is
finished (final step, truncated, no room left, or at ``max_depth``). The answer
is the best-scored complete solution in the final beam, else the best complete
one seen, else the best beam as it stands (incomplete: graded wrong).

Budget: at most ``width x expansions x max_depth`` step samples per problem
(``BeamSettings.max_step_samples``). All problems of a call run in lockstep,
so one backend call serves every live beam of every problem at a level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from ttscale.strategies.search_ledger import ComputeLedger, outcome
from ttscale.strategies.step_scorers import StepScorer, StepSearchSettings, score_nodes
from ttscale.strategies.step_search import Node, StepRequest, StepSampler, step_seed
from ttscale.types import Problem, SearchOutcome, Task


class BeamSettings(StepSearchSettings):
    width: int = Field(4, ge=1, le=10_000, description="partial solutions kept per level")
    expansions: int = Field(4, ge=1, le=10_000, description="steps sampled per kept partial solution")

    algorithm: ClassVar[str] = "beam"

    def max_step_samples(self, max_depth: int) -> int:
        return self.width * self.expansions * max_depth

    def samples_per_call(self) -> int:
        """Steps sampled per problem in one call (every level: width x expansions at most)."""
        return self.width * self.expansions


def _ranked(nodes: list[Node]) -> list[Node]:
    # Stable sort: ties keep the (deterministic) candidate order.
    return sorted(nodes, key=lambda n: -n.value)


def _answer(beam: list[Node], complete_seen: list[Node]) -> Node:
    for pool in ([n for n in beam if n.complete], complete_seen, beam):
        if pool:
            return _ranked(pool)[0]
    raise AssertionError("a beam is never empty")


def beam_search(task: Task, problems: Sequence[Problem], sampler: StepSampler, scorer: StepScorer,
                settings: BeamSettings, run_seed: int = 0) -> list[SearchOutcome]:
    fmt, model = sampler.format, sampler.backend.name
    ledger = ComputeLedger(len(problems))
    beams: list[list[Node]] = [[Node()] for _ in problems]
    complete_seen: list[list[Node]] = [[] for _ in problems]
    for depth in range(fmt.max_depth):
        per_node = settings.width * settings.expansions if depth == 0 else settings.expansions
        requests = [
            StepRequest(row, problem, node,
                        tuple(step_seed(run_seed, model, problem.problem_id, node.path, j) for j in range(per_node)))
            for row, problem in enumerate(problems)
            for node in beams[row]
            if not node.is_terminal(fmt.max_depth)
        ]
        if not requests:
            break
        drawn = sampler.sample(requests, ledger)
        candidates: list[list[Node]] = [[n for n in beam if n.is_terminal(fmt.max_depth)] for beam in beams]
        seen = [{n.prefix for n in c} for c in candidates]
        fresh: list[tuple[int, Problem, Node]] = []
        for request, steps in zip(requests, drawn):
            row, node = request.owner, request.node
            ledger.expansions[row] += 1
            node.expanded = True
            if not steps:  # no room in the context: the partial solution stays as it is, finished
                node.dead = True
                candidates[row].append(node)
            for j, step in enumerate(steps):
                child = node.child(step, j)
                if child.prefix in seen[row]:
                    continue
                seen[row].add(child.prefix)
                candidates[row].append(child)
                fresh.append((row, request.problem, child))
        score_nodes(scorer, fresh, ledger)
        for row, _, child in fresh:
            if child.complete:
                complete_seen[row].append(child)
        for row, pool in enumerate(candidates):
            if pool:
                beams[row] = _ranked(pool)[: settings.width]
    return [outcome(task, p, _answer(beams[row], complete_seen[row]), ledger, row) for row, p in enumerate(problems)]
