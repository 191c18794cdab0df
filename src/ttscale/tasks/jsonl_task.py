"""``jsonl:PATH``: your own problems, one JSON object per line.

    get_task("jsonl:problems.jsonl")
    get_task("jsonl:data/gsm.jsonl?grader=numeric,stop=blank,tolerance=1e-4")

Everything after the first colon is the path; options follow the *last* ``?``
as ``name=value`` pairs separated by commas:

- ``grader`` (``exact`` | ``numeric`` | ``regex``, default ``exact``): the
  grader of every line that names none (see ``jsonl_answers``);
- ``tolerance`` (float > 0, default 1e-6): relative tolerance of ``numeric``;
- ``stop`` (``line`` = ``"\\n"`` | ``blank`` = ``"\\n\\n"``, default ``blank``):
  where a completion ends. ``line`` suits one-line answers (the lab's tiny
  models); ``blank`` lets a model reason over several lines first.

Each line: ``id`` (string or integer, unique), ``prompt`` (non-empty string),
``answer`` (string or number; for ``numeric`` a number, for ``regex`` a valid
pattern), optional ``grader`` (overrides the file's), optional ``verifier``:
Python source run in the sandbox (``ttscale.tasks.sandbox``: no network, no
files, standard library only) with three variables defined before it:
``prompt``, ``completion`` (the model's text, stop string removed) and
``answer`` (the extracted answer, or None). The verifier *accepts* when it runs
to its end (use ``assert``); any exception, ``exit()`` or timeout rejects. It
never sees the reference answer: it is the inference-time check that
``first-verified`` uses. Other keys are ignored; blank lines are skipped.

The file is the test split, in file order: ``problems(count, seed)`` is its
first ``count`` lines whatever the seed; splits ``train`` and ``calib`` do not
exist (``InputError``). ``has_verifier`` is true when any line has a verifier;
``verify`` returns None on the lines without one. Voting uses the extracted
answer, as a normalised number when every line is graded ``numeric``.

``name`` is the canonical spec: the absolute path and every option, so the
same file lands under one name in the store; ``fingerprint`` (the file's
SHA-256) lets a sweep refuse to resume on an edited file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from ttscale.errors import InputError
from ttscale.tasks import jsonl_answers as answers
from ttscale.tasks.sandbox import run_sandboxed
from ttscale.types import Problem

STOPS = {"line": "\n", "blank": "\n\n"}
OPTIONS = ("grader", "stop", "tolerance")


def json_object(line: str, where: str, required: tuple[str, ...]) -> dict:
    """One JSONL line as a JSON object holding ``required``; InputError naming ``where`` otherwise."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise InputError(f"{where}: not valid JSON ({exc}): {line[:80]!r}") from None
    if not isinstance(record, dict):
        wanted = " and ".join(", ".join(repr(f) for f in required).rsplit(", ", 1))
        raise InputError(f"{where}: expected a JSON object with {wanted}, got {line[:80]!r}")
    for field in required:
        if field not in record:
            raise InputError(f"{where}: field {field!r} is missing")
    return record


@dataclass(frozen=True)
class JsonlProblem:
    problem: Problem
    grader: str
    verifier: str | None


@dataclass(frozen=True)
class JsonlTask:
    """Problems read from a JSONL file (see the module docstring)."""

    path: Path
    grader: str = "exact"
    stop_name: str = "blank"
    tolerance: float = answers.DEFAULT_TOLERANCE
    verifier_timeout_s: float = 5.0

    family: ClassVar[str] = "jsonl"
    PARAMS: ClassVar[tuple] = ()  # not built from name=value parameters: see ``from_spec``

    @classmethod
    def from_spec(cls, rest: str) -> "JsonlTask":
        """Build from what follows ``jsonl:`` (``PATH[?name=value,...]``)."""
        path_text, _, option_text = rest.strip().rpartition("?") if "?" in rest else (rest.strip(), "", "")
        if not path_text.strip():
            raise InputError(f"task spec 'jsonl:{rest}': give a file path, e.g. 'jsonl:problems.jsonl'")
        options = _parse_options(rest, option_text)
        tolerance = options.get("tolerance", str(answers.DEFAULT_TOLERANCE))
        try:
            tol = float(tolerance)
        except ValueError:
            tol = float("nan")
        if not tol > 0 or tol == float("inf"):
            raise InputError(f"task 'jsonl': option 'tolerance' must be a number > 0, got {tolerance!r}")
        return cls(Path(path_text.strip()), options.get("grader", "exact"), options.get("stop", "blank"), tol)

    def __post_init__(self) -> None:
        _check_choice("grader", self.grader, answers.GRADERS, "option")
        _check_choice("stop", self.stop_name, tuple(STOPS), "option")
        object.__setattr__(self, "path", Path(self.path).expanduser().resolve())
        _ = self._problems  # read and check the whole file now: bad input fails before any sampling

    # --- the file ----------------------------------------------------------------

    @cached_property
    def _bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"task 'jsonl': no such file {str(self.path)!r}") from None
        except OSError as exc:
            raise InputError(f"task 'jsonl': cannot read {str(self.path)!r}: {exc}") from None

    @cached_property
    def _problems(self) -> tuple[JsonlProblem, ...]:
        try:
            text = self._bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"task 'jsonl': {str(self.path)!r} is not UTF-8 text ({exc})") from None
        rows: list[JsonlProblem] = []
        seen: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                row = self._parse_line(line, number)
                first = seen.setdefault(row.problem.problem_id, number)
                if first != number:
                    raise InputError(f"{self.path} line {number}: field 'id': {row.problem.problem_id!r} "
                                     f"is a duplicate of line {first}")
                rows.append(row)
        if not rows:
            raise InputError(f"task 'jsonl': {str(self.path)!r} holds no problems")
        return tuple(rows)

    def _parse_line(self, line: str, number: int) -> JsonlProblem:
        where = f"{self.path} line {number}"
        record = json_object(line, where, ("id", "prompt", "answer"))
        problem_id, prompt, answer = record["id"], record["prompt"], record["answer"]
        if isinstance(problem_id, bool) or not isinstance(problem_id, (str, int)) or not str(problem_id).strip():
            raise InputError(f"{where}: field 'id' must be a non-empty string or an integer, got {problem_id!r}")
        if not isinstance(prompt, str) or not prompt:
            raise InputError(f"{where}: field 'prompt' must be a non-empty string, got {prompt!r}")
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
            raise InputError(f"{where}: field 'answer' must be a string or a number, got {answer!r}")
        if isinstance(answer, float) and not math.isfinite(answer):  # Python's json reads NaN and Infinity
            raise InputError(f"{where}: field 'answer' must be a finite number, got {answer!r}")
        grader = record.get("grader", self.grader)
        _check_choice("grader", grader, answers.GRADERS, "field", where)
        answer = answer if isinstance(answer, str) else json.dumps(answer)
        _check_answer(grader, answer, where)
        verifier = record.get("verifier")
        if verifier is not None:
            if not isinstance(verifier, str) or not verifier.strip():
                raise InputError(f"{where}: field 'verifier' must be Python source (a string), got {verifier!r}")
            try:
                compile(verifier, where, "exec")
            except SyntaxError as exc:
                raise InputError(f"{where}: field 'verifier' is not valid Python: {exc.msg} "
                                 f"(verifier line {exc.lineno})") from None
        problem = Problem(task=self.name, problem_id=str(problem_id), prompt=prompt, reference=answer,
                          meta={"grader": grader, "line": number})
        return JsonlProblem(problem, grader, verifier)

    @cached_property
    def _by_id(self) -> dict[str, JsonlProblem]:
        return {row.problem.problem_id: row for row in self._problems}

    # --- the Task protocol ----------------------------------------------------------

    @property
    def name(self) -> str:
        return f"jsonl:{self.path}?grader={self.grader},stop={self.stop_name},tolerance={self.tolerance:g}"

    @property
    def stop(self) -> str:
        return STOPS[self.stop_name]

    @property
    def stop_sequences(self) -> tuple[str, ...]:
        return (self.stop,)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the file: what a resumed sweep must find unchanged."""
        return hashlib.sha256(self._bytes).hexdigest()

    @cached_property
    def has_verifier(self) -> bool:
        return any(row.verifier is not None for row in self._problems)

    @cached_property
    def _votes_on_numbers(self) -> bool:
        return all(row.grader == "numeric" for row in self._problems)

    def split_size(self, split: str = "test") -> int:
        if split != "test":
            raise InputError(f"task 'jsonl': the file is the test split; split {split!r} does not exist")
        return len(self._problems)

    def problems(self, count: int, seed: int = 0, split: str = "test") -> list[Problem]:
        """The file's first ``count`` problems, in file order (``seed`` is not used)."""
        total = self.split_size(split)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= total:
            raise InputError(f"task 'jsonl': count must be an integer in 0..{total} "
                             f"(the problems in {str(self.path)!r}), got {count!r}")
        return [row.problem for row in self._problems[:count]]

    def extract_answer(self, completion: str) -> str | None:
        if self._votes_on_numbers:
            return answers.extract_number(completion)
        return answers.extract_text(completion)

    def grade(self, problem: Problem, completion: str) -> bool:
        return answers.grade_answer(self._row(problem).grader, problem.reference, completion, self.tolerance)

    def verifier_program(self, problem: Problem, completion: str) -> str | None:
        verifier = self._row(problem).verifier
        if verifier is None:
            return None
        header = (f"prompt = {problem.prompt!r}\ncompletion = {completion!r}\n"
                  f"answer = {self.extract_answer(completion)!r}\n")
        return header + verifier + "\n"

    def verify(self, problem: Problem, completion: str) -> bool | None:
        program = self.verifier_program(problem, completion)
        if program is None:
            return None
        # The file holds the reference answers: a verifier that runs model-written
        # code must not be able to read them.
        hide = () if self.path.parent == Path(self.path.anchor) else (str(self.path.parent),)
        return run_sandboxed(program, timeout_s=self.verifier_timeout_s, hide=hide).passed

    def verifier_flops(self, problem: Problem | None = None, completion: str | None = None) -> float:
        """0.0: the verifier runs Python on a CPU, no model FLOPs (its seconds are measured)."""
        return 0.0

    def _row(self, problem: Problem) -> JsonlProblem:
        row = self._by_id.get(problem.problem_id)
        if row is None:
            raise InputError(f"task {self.name!r}: unknown problem id {problem.problem_id!r}")
        return row


def _parse_options(rest: str, text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, eq, value = (s.strip() for s in item.partition("="))
        if not eq or not key or not value:
            raise InputError(f"task spec 'jsonl:{rest}': expected option=value after '?', got {item!r}")
        if key not in OPTIONS:
            raise InputError(f"task 'jsonl': unknown option {key!r} (known: {', '.join(OPTIONS)})")
        if key in options:
            raise InputError(f"task 'jsonl': option {key!r} is given twice")
        options[key] = value
    return options


def _check_choice(name: str, value: object, choices: tuple[str, ...], kind: str, where: str = "task 'jsonl'") -> None:
    if value not in choices:
        raise InputError(f"{where}: {kind} {name!r} must be one of {', '.join(choices)}, got {value!r}")


def _check_answer(grader: str, answer: str, where: str) -> None:
    if grader == "numeric":
        try:
            number = float(answer.strip().replace(",", ""))
        except ValueError:
            raise InputError(f"{where}: field 'answer' must be a number for grader 'numeric', got {answer!r}") from None
        if not math.isfinite(number):  # "nan" and "inf" parse, and no completion can equal them
            raise InputError(f"{where}: field 'answer' must be a finite number for grader 'numeric', got {answer!r}")
    elif grader == "regex":
        try:
            re.compile(answer)
        except re.error as exc:
            raise InputError(f"{where}: field 'answer' is not a valid regex ({exc}): {answer!r}") from None
