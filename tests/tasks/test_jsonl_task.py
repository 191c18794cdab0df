"""``jsonl:PATH``: user problems, graded exact / numeric / regex, optional sandboxed
verifiers, and errors that name the file, the line, the field and the value."""

from __future__ import annotations

import json

import pytest

from ttscale.errors import InputError
from ttscale.tasks import JsonlTask, get_task
from ttscale.tasks.jsonl_answers import extract_number, extract_text, grade_answer
from ttscale.tasks.sandbox import sandbox_capabilities
from ttscale.types import Task

LINES = [
    {"id": "sum", "prompt": "A12+34=", "answer": 46, "grader": "numeric"},
    {"id": 7, "prompt": "Capital of France?", "answer": "Paris",
     "verifier": "assert answer is not None and answer[:1].isupper()"},
    {"id": "digits", "prompt": "Some digits:", "answer": "[0-9]+", "grader": "regex"},
]


def write_lines(path, lines) -> str:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return str(path)


@pytest.fixture
def task(tmp_path):
    return get_task(f"jsonl:{write_lines(tmp_path / 'p.jsonl', LINES)}?stop=line")


def needs_sandbox():
    caps = sandbox_capabilities()
    if not caps.isolated:
        pytest.skip("this machine cannot isolate code: " + "; ".join(caps.problems))


def test_the_file_is_the_test_split_in_file_order(task, tmp_path):
    assert isinstance(task, Task) and isinstance(task, JsonlTask)
    assert [p.problem_id for p in task.problems(3, seed=5)] == ["sum", "7", "digits"]
    assert task.problems(2, seed=0) == task.problems(2, seed=99)  # the seed does not choose problems
    assert task.split_size("test") == 3 and task.problems(0, seed=0) == []
    assert task.stop == "\n" and task.has_verifier
    assert task.name == f"jsonl:{tmp_path / 'p.jsonl'}?grader=exact,stop=line,tolerance=1e-06"
    assert get_task(task.name).name == task.name  # the canonical spec round-trips
    assert len(task.fingerprint) == 64


def test_spec_options_and_their_errors(tmp_path):
    path = write_lines(tmp_path / "a,b=c.jsonl", LINES[:1])  # ',' and '=' belong to the path
    task = get_task(f"jsonl:{path}?grader=numeric,tolerance=0.01,stop=blank")
    assert (task.grader, task.tolerance, task.stop) == ("numeric", 0.01, "\n\n")
    for spec, words in [
        (f"jsonl:{path}?grader=fuzzy", ["grader", "'fuzzy'", "exact, numeric, regex"]),
        (f"jsonl:{path}?tolerance=-1", ["tolerance", "'-1'"]),
        (f"jsonl:{path}?stop=never", ["stop", "'never'"]),
        (f"jsonl:{path}?colour=red", ["unknown option 'colour'"]),
        (f"jsonl:{path}?grader", ["option=value"]),
        ("jsonl:", ["give a file path"]),
        ("jsonl:/no/such/file.jsonl", ["no such file", "/no/such/file.jsonl"]),
        ("jsnl:x.jsonl", ["did you mean 'jsonl'"]),
    ]:
        with pytest.raises(InputError) as info:
            get_task(spec)
        for word in words:
            assert word in str(info.value), (spec, str(info.value))


def test_other_splits_and_bad_counts_are_clear_errors(task):
    with pytest.raises(InputError, match="test split; split 'calib' does not exist"):
        task.problems(1, seed=0, split="calib")
    with pytest.raises(InputError, match=r"count must be an integer in 0\.\.3.*got 4"):
        task.problems(4, seed=0)


def test_answer_extraction():
    assert extract_text("let me think\n#### 42\n") == "42"
    assert extract_text("Answer: Paris\nmore text") == "Paris"
    assert extract_text("first answer: 1\nThe ANSWER : 2") == "2"  # the last marker wins
    assert extract_text("a\n\n  last line  \n\n") == "last line"
    assert extract_text("  \n") is None and extract_text("Answer:   ") is None
    assert extract_number("so it costs $1,234.50 in total") == "1234.5"
    assert extract_number("x = 42.0") == extract_number("#### 42") == "42"
    assert extract_number("no number here") is None


@pytest.mark.parametrize(
    "grader, reference, completion, expected",
    [
        ("exact", "Paris", "  Paris \n", True),
        ("exact", "Paris", "Answer: paris", False),
        ("exact", "a\nb", "a\nb\n", True),  # a multi-line reference matches the whole completion
        ("numeric", "46", "the sum is 46.0000001", True),
        ("numeric", "46", "45 or 47", False),
        ("numeric", "-0.5", "#### -.5", True),
        ("numeric", "46", "forty-six", False),
        ("regex", "[0-9]+", "Answer: 123", True),
        ("regex", "[0-9]+", "123a", False),
    ],
)
def test_graders(grader, reference, completion, expected):
    assert grade_answer(grader, reference, completion) is expected


def test_per_line_graders_and_votes(task, tmp_path):
    sums, capital, digits = task.problems(3, seed=0)
    assert task.grade(sums, "46") and task.grade(sums, "Answer: 46.0") and not task.grade(sums, "47")
    assert task.grade(capital, "Paris") and not task.grade(capital, "46")
    assert task.grade(digits, "007") and not task.grade(digits, "x7")
    assert task.extract_answer("46.0") == "46.0"  # mixed graders: votes on the extracted text
    numeric = get_task(f"jsonl:{write_lines(tmp_path / 'n.jsonl', LINES[:1])}?grader=numeric")
    assert numeric.extract_answer("46.0") == numeric.extract_answer("Answer: 46") == "46"
    assert not numeric.has_verifier and numeric.verify(numeric.problems(1, 0)[0], "46") is None


def test_the_verifier_runs_in_the_sandbox_without_the_reference(task):
    needs_sandbox()
    sums, capital, _ = task.problems(3, seed=0)
    assert task.verify(sums, "46") is None  # this line has no verifier
    assert task.verify(capital, "Answer: Paris") is True
    assert task.verify(capital, "paris") is False
    program = task.verifier_program(capital, "Paris")
    assert "completion = 'Paris'" in program and "answer = 'Paris'" in program
    assert "prompt = 'Capital of France?'" in program
    assert task.verifier_flops(capital, "Paris") == 0.0


@pytest.mark.parametrize(
    "line, words",
    [
        ({"prompt": "p", "answer": "a"}, ["line 2", "'id'", "missing"]),
        ({"id": "sum", "prompt": "p", "answer": "a"}, ["line 2", "'id'", "'sum'", "duplicate of line 1"]),
        ({"id": "x", "prompt": 5, "answer": "a"}, ["line 2", "'prompt'", "5"]),
        ({"id": "x", "prompt": "p"}, ["line 2", "'answer'", "missing"]),
        ({"id": "x", "prompt": "p", "answer": [1]}, ["line 2", "'answer'", "[1]"]),
        ({"id": True, "prompt": "p", "answer": "a"}, ["line 2", "'id'", "True"]),
        ({"id": "x", "prompt": "p", "answer": "a", "grader": "fuzzy"}, ["line 2", "'grader'", "'fuzzy'"]),
        ({"id": "x", "prompt": "p", "answer": "many", "grader": "numeric"}, ["line 2", "'answer'", "'many'"]),
        ({"id": "x", "prompt": "p", "answer": float("nan")}, ["line 2", "'answer'", "finite", "nan"]),  # JSON NaN
        ({"id": "x", "prompt": "p", "answer": "-inf", "grader": "numeric"}, ["line 2", "'answer'", "'-inf'"]),
        ({"id": "x", "prompt": "p", "answer": "(", "grader": "regex"}, ["line 2", "not a valid regex", "'('"]),
        ({"id": "x", "prompt": "p", "answer": "a", "verifier": "assert ("}, ["line 2", "'verifier'", "not valid Python"]),
        ({"id": "x", "prompt": "p", "answer": "a", "verifier": 3}, ["line 2", "'verifier'", "3"]),
        ("{not json", ["line 2", "not valid JSON"]),
        ("[1, 2]", ["line 2", "JSON object"]),
    ],
)
def test_bad_lines_name_the_file_line_field_and_value(tmp_path, line, words):
    path = write_lines(tmp_path / "bad.jsonl", [LINES[0], line])
    with pytest.raises(InputError) as info:
        get_task(f"jsonl:{path}")
    message = str(info.value)
    assert "bad.jsonl" in message
    for word in words:
        assert word in message, message


def test_empty_unreadable_and_non_utf8_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="holds no problems"):
        get_task(f"jsonl:{tmp_path / 'empty.jsonl'}")
    (tmp_path / "latin.jsonl").write_bytes(b'{"id": "\xe9"}\n')
    with pytest.raises(InputError, match="not UTF-8"):
        get_task(f"jsonl:{tmp_path / 'latin.jsonl'}")
    with pytest.raises(InputError, match="cannot read"):
        get_task(f"jsonl:{tmp_path}")  # a directory


def test_the_fingerprint_is_the_files_hash_and_follows_its_content(task, tmp_path):
    import hashlib

    path = tmp_path / "p.jsonl"
    assert isinstance(task, Task) and task.family == "jsonl" and task.stop_sequences == (task.stop,)
    assert task.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    write_lines(path, LINES[:2])
    assert get_task(task.name).fingerprint != task.fingerprint
