"""Turn the examples in a function's docstring into asserts: a cheap verifier.

Code prompts (HumanEval and the like) show the expected behaviour in the
docstring. Those examples need no reference solution, so a candidate can be
checked against them at inference time. Forms understood, each only when both
sides parse as Python and the expected side is a literal:

- doctest: ``>>> expr`` (with ``...`` continuation lines) followed by the
  ``repr`` of the value on the next line(s). No output line means ``None``,
  except ``>>> f(x) == y`` with no output (HumanEval writes these), which is
  read as an assertion;
- one line ``f(args) SEP value`` where SEP is ``==>``, ``=>``, ``->``, ``➞``,
  ``==``, ``=``, ``returns``, ``should return``, ``should be`` or ``is``, each
  optionally after a ``#`` (the call's arguments must be literals too;
  ``true``/``false`` are read as booleans; one trailing ``.`` or ``,`` or a
  trailing ``(note)`` is dropped). When the prompt defines the function by a
  recurrence (``f(n) = ...``), ``=`` lines are definitions and are skipped;
- ``For x = [1, 2] the output should be 3`` and ``Input: x = [1, 2]`` followed
  by ``Output: 3``, when ``x`` is a parameter of the entry point (or a single
  literal is given).

Everything else (prose, a different function name, arithmetic on the right-hand
side such as ``f(x) -> 19 - 5 - 6 = 8``, ``grid : [...]`` blocks) is skipped: a
verifier that guesses is worse than none. Each example must call the entry
point, so examples of helper functions the prompt already implements are left out.

On HumanEval: 150 of the 164 prompts have at least one parseable example (430
in all); the canonical solutions pass the examples of all but 3 (47, 116, 148,
whose docstrings are wrong: see tests/sandbox/test_humaneval.py).

The asserts compare with ``==``, except that where the expected value holds a
float the comparison is ``math.isclose`` (``rel_tol = abs_tol = 1e-6``),
elementwise through lists and tuples.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

_SEPARATORS = r"==>|=>|->|➞|==|=|returns|should\s+return|should\s+be|is"
_AFTER_CALL = re.compile(rf"^\s*(?:#\s*)?(?P<sep>{_SEPARATORS})\s*(?P<rest>.+?)\s*$")
_FOR_OUTPUT = re.compile(r"^\s*For\s+(?P<args>.+?),?\s+the output should be\s+(?P<rest>.+?)\s*$")
_INPUT = re.compile(r"^\s*Input:\s*(?P<args>\S.*?)\s*$")
_OUTPUT = re.compile(r"^\s*Output:\s*(?P<rest>\S.*?)\s*$")
_PAREN_NOTE = re.compile(r"\s+\([^()]*\)$")
_BOOLS = {"true": "True", "false": "False"}


@dataclass(frozen=True)
class Example:
    """One docstring example: evaluating ``call`` should give ``expected``."""

    call: str
    expected: object
    form: str
    line: int  # 1-based line in the prompt


def _literal(text: str) -> tuple[bool, object]:
    text = _BOOLS.get(text.strip(), text.strip())
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None
    return (True, value) if _finite(value) else (False, None)  # repr(inf) is not Python


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, complex):
        return math.isfinite(value.real) and math.isfinite(value.imag)
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(k) and _finite(v) for k, v in value.items())
    return True


def _expected(rest: str) -> tuple[bool, object]:
    """The literal on the right-hand side, allowing one trailing '.'/',' or '(note)'."""
    # Prose ends sentences with '.', so "should be 1." means 1, not 1.0.
    for candidate in (rest[:-1] if rest[-1:] in ".," else "", rest, _PAREN_NOTE.sub("", rest)):
        if candidate:
            ok, value = _literal(candidate)
            if ok:
                return True, value
    return False, None


def _parameters(prompt: str, entry_point: str) -> list[str] | None:
    """Parameter names of ``def entry_point(...)`` in the prompt (None if not found)."""
    lines = prompt.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"\s*def\s+{re.escape(entry_point)}\s*\(", line):
            for j in range(i, min(i + 10, len(lines))):
                head = "\n".join(part.strip() for part in lines[i:j + 1])
                try:
                    tree = ast.parse(head + "\n    pass\n")
                except SyntaxError:
                    continue
                args = tree.body[0].args
                return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
            return None
    return None


def _literal_call(entry_point: str, args: str, params: list[str] | None) -> str | None:
    """``entry_point(args)`` if ``args`` are literal arguments that fit the signature."""
    if params is None:
        return None
    tree = _parse_expr(f"{entry_point}({args})")
    if tree is None or not isinstance(tree.body, ast.Call):
        return None
    call = tree.body
    if len(call.args) > len(params) or any(kw.arg not in params for kw in call.keywords):
        return None
    if not call.args and not call.keywords:
        return None
    try:
        for arg in [*call.args, *(kw.value for kw in call.keywords)]:
            ast.literal_eval(arg)
    except (ValueError, SyntaxError, TypeError):
        return None
    return ast.unparse(call)


def _mentions(expr: ast.AST, name: str) -> bool:
    return any(isinstance(node, ast.Name) and node.id == name for node in ast.walk(expr))


def _parse_expr(text: str) -> ast.Expression | None:
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _doctest_examples(lines: list[str], entry_point: str) -> list[Example]:
    found = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            i += 1
            continue
        start = i
        source = [stripped[3:].strip()]
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            source.append(lines[i].strip()[3:].strip())
            i += 1
        want = []
        while i < len(lines):
            text = lines[i].strip()
            if text.endswith('"""') or text.endswith("'''"):
                text = text[:-3].strip()
                if text:
                    want.append(text)
                break
            if not text or text.startswith(">>>"):
                break
            want.append(text)
            i += 1
        call = "\n".join(source)
        tree = _parse_expr(call)
        if tree is None or not _mentions(tree, entry_point):
            continue
        if want:
            ok, value = _literal(" ".join(want))
        else:
            # No output line: doctest means the value is None. HumanEval also writes
            # ">>> f(x) == y" with no "True" below; read that as an assertion.
            body = tree.body
            is_eq = isinstance(body, ast.Compare) and len(body.ops) == 1 and isinstance(body.ops[0], ast.Eq)
            is_call = isinstance(body, ast.Call) and isinstance(body.func, ast.Name)
            ok, value = (True, True) if is_eq else (is_call, None)
        if ok:  # unparse drops comments ("# f(x) = 1 + 2x") that would swallow the assert
            found.append(Example(call=ast.unparse(tree.body), expected=value, form="doctest", line=start + 1))
    return found


def _call_at(text: str, start: int, entry_point: str) -> tuple[str, int] | None:
    """The shortest ``entry_point(...)`` at ``start`` that parses as a call with literal arguments."""
    for end in range(start + len(entry_point), len(text)):
        if text[end] != ")":
            continue
        tree = _parse_expr(text[start:end + 1])
        if tree is None:
            continue
        call = tree.body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == entry_point):
            return None
        for arg in [*call.args, *(kw.value for kw in call.keywords)]:
            try:
                ast.literal_eval(arg)
            except (ValueError, SyntaxError, TypeError):
                return None
        return text[start:end + 1], end + 1
    return None


def _inline_examples(lines: list[str], entry_point: str) -> list[Example]:
    found = []
    pattern = re.compile(rf"(?<![\w.]){re.escape(entry_point)}\s*\(")
    # "tri(n) = 1 + n / 2" defines a recurrence; its "tri(1) = 3" is then a term of
    # the sequence, not the function's return value, so '=' lines are not examples.
    recurrence = re.compile(rf"(?<![\w.]){re.escape(entry_point)}\s*\((?P<args>[^)]*)\)\s*=(?!=)")
    defines = any(not _literal(f"({m.group('args')},)")[0]
                  for line in lines if not line.strip().startswith(">>>") for m in recurrence.finditer(line))
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith(">>>"):
            continue
        for match in pattern.finditer(line):
            located = _call_at(line, match.start(), entry_point)
            if located is None:
                continue
            call, end = located
            after = _AFTER_CALL.match(line[end:])
            if after is None:
                continue
            if after.group("sep") == "=" and defines:
                continue
            ok, value = _expected(after.group("rest"))
            if ok:
                sep = re.sub(r"\s+", " ", after.group("sep"))
                found.append(Example(call=call, expected=value, form=sep, line=number))
    return found


def _described_examples(lines: list[str], entry_point: str, params: list[str] | None) -> list[Example]:
    """``For x = 1 the output should be 2`` and ``Input: x = 1`` / ``Output: 2`` blocks."""
    found = []
    for number, line in enumerate(lines, start=1):
        match = _FOR_OUTPUT.match(line)
        form, rest = "for-output", None
        if match:
            args, rest = match.group("args"), match.group("rest")
        elif (match := _INPUT.match(line)) is not None:
            following = [text for text in lines[number:number + 3] if text.strip()]
            output = _OUTPUT.match(following[0]) if following else None
            if output is None:
                continue
            form, args, rest = "input-output", match.group("args"), output.group("rest")
        else:
            continue
        call = _literal_call(entry_point, args, params)
        ok, value = _expected(rest) if call else (False, None)
        if ok:
            found.append(Example(call=call, expected=value, form=form, line=number))
    return found


def parse_examples(prompt: str, entry_point: str) -> tuple[Example, ...]:
    """The parseable examples of ``entry_point`` in ``prompt``, in order, without duplicates."""
    lines = prompt.splitlines()
    params = _parameters(prompt, entry_point)
    seen, unique = set(), []
    found = (_doctest_examples(lines, entry_point) + _inline_examples(lines, entry_point)
             + _described_examples(lines, entry_point, params))
    for example in sorted(found, key=lambda e: e.line):
        key = (example.call, repr(example.expected))
        if key not in seen:
            seen.add(key)
            unique.append(example)
    return tuple(unique)


_CLOSE = '''
def _ttscale_close(got, want):
    import math
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(want, (list, tuple)) and type(got) is type(want) and len(got) == len(want):
        return all(_ttscale_close(g, w) for g, w in zip(got, want))
    return got == want
'''


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_float(v) for v in value)
    return False


def examples_program(examples: tuple[Example, ...] | list[Example]) -> str:
    """Python source asserting every example, in order (append it to prompt + completion)."""
    out = ["", "", _CLOSE.strip(), ""]
    for example in examples:
        call = example.call
        check = "_ttscale_close" if _has_float(example.expected) else None
        want = repr(example.expected)
        message = repr(f"docstring example at prompt line {example.line}: {example.call} -> {want}")
        if check:
            out.append(f"assert {check}({call}, {want}), {message}")
        else:
            out.append(f"assert ({call}) == {want}, {message}")
    return "\n".join(out) + "\n"
