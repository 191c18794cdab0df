"""Monte Carlo tree search over reasoning steps (UCT), rollout-free.

Each iteration, per problem: *select* from the root by UCT,

    Q(child) + exploration · sqrt(ln N(parent) / N(child)),   Q = mean backed-up value,

down to a node never expanded; *expand* it by sampling ``branch`` steps (one
backend call, duplicates merged); *evaluate* every new child with the scorer —
no rollouts: the scorer's value of the prefix stands in for the outcome of
finishing it, which is what a learned value model is trained to predict, and
costs one value-model forward pass instead of a completion per leaf; *back up*
each child's value to the root. A finished child (final step, truncated, no
room, or at ``max_depth``) is never expanded; a subtree with nothing left to
expand is skipped, so the search ends early when the tree is exhausted.

Budget: at most ``expansions`` node expansions per problem, i.e. at most
``expansions x branch`` step samples (``MCTSSettings.max_step_samples``).
The answer is the complete solution with the highest value found; if none was
found within the budget, the highest-valued node as it stands (incomplete:
graded wrong). Problems run in lockstep: one backend call per iteration
serves one expansion of every problem.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from ttscale.strategies.search_ledger import ComputeLedger, outcome
from ttscale.strategies.step_scorers import StepScorer, StepSearchSettings, score_nodes
from ttscale.strategies.step_search import Node, StepRequest, StepSampler, step_seed
from ttscale.types import Problem, SearchOutcome, Task


class MCTSSettings(StepSearchSettings):
    expansions: int = Field(8, ge=1, le=100_000, description="node expansions per problem: the budget")
    branch: int = Field(4, ge=1, le=10_000, description="steps sampled per expansion")
    exploration: float = Field(1.0, ge=0.0, le=100.0, description="the UCT constant (values are in [0, 1])")

    algorithm: ClassVar[str] = "mcts"

    def max_step_samples(self, max_depth: int) -> int:
        return self.expansions * self.branch

    def samples_per_call(self) -> int:
        """Steps sampled per problem in one call (one expansion)."""
        return self.branch


def _uct(parent: Node, child: Node, exploration: float) -> float:
    return child.total / child.visits + exploration * math.sqrt(math.log(parent.visits) / child.visits)


def _select(root: Node, exploration: float) -> list[Node] | None:
    """The path from the root to an unexpanded node, or None when the tree is exhausted."""
    if root.exhausted:
        return None
    path = [root]
    while path[-1].expanded:
        node = path[-1]
        options = [c for c in node.children if not c.exhausted]
        # Not exhausted, so some child is open (exhaustion is kept up to date below).
        path.append(max(options, key=lambda c: _uct(node, c, exploration)))
    return path


def _all_nodes(root: Node) -> list[Node]:
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


def _answer(root: Node) -> Node:
    nodes = [n for n in _all_nodes(root) if n is not root]
    complete = [n for n in nodes if n.complete]
    pool = complete or nodes or [root]
    return max(pool, key=lambda n: (n.value if not math.isnan(n.value) else -1.0, n.depth))


def mcts_search(task: Task, problems: Sequence[Problem], sampler: StepSampler, scorer: StepScorer,
                settings: MCTSSettings, run_seed: int = 0) -> list[SearchOutcome]:
    fmt, model = sampler.format, sampler.backend.name
    ledger = ComputeLedger(len(problems))
    roots = [Node() for _ in problems]
    for _ in range(settings.expansions):
        picks = [(row, path) for row, root in enumerate(roots) if (path := _select(root, settings.exploration))]
        if not picks:
            break
        requests = [
            StepRequest(row, problems[row], path[-1],
                        tuple(step_seed(run_seed, model, problems[row].problem_id, path[-1].path, j)
                              for j in range(settings.branch)))
            for row, path in picks
        ]
        drawn = sampler.sample(requests, ledger)
        fresh: list[tuple[int, Problem, Node]] = []
        for (row, path), steps in zip(picks, drawn):
            leaf = path[-1]
            leaf.expanded = True
            ledger.expansions[row] += 1
            if not steps:
                leaf.dead = True
            seen: set[str] = set()
            for j, step in enumerate(steps):
                child = leaf.child(step, j)
                if child.prefix in seen:
                    continue
                seen.add(child.prefix)
                child.exhausted = child.is_terminal(fmt.max_depth)
                leaf.children.append(child)
                fresh.append((row, problems[row], child))
        score_nodes(scorer, fresh, ledger)
        paths = dict(picks)
        for row, _, child in fresh:
            child.visits, child.total = 1, child.value
            for node in paths[row]:
                node.visits += 1
                node.total += child.value
        for _, path in picks:
            for node in reversed(path):
                node.exhausted = node.expanded and all(c.exhausted for c in node.children)
    return [outcome(task, p, _answer(root), ledger, row) for row, (p, root) in enumerate(zip(problems, roots))]
