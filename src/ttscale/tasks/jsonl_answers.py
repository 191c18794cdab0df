"""Answers of free-form completions: where the answer is, and the three graders.

Extraction (what votes, and what the graders compare):

- if the completion holds ``####`` or ``Answer:`` (any case), the answer is the
  rest of the line after the *last* such marker (GSM8K writes ``#### 42``;
  prompts often end in ``Answer:``);
- otherwise it is the last non-empty line;
- stripped of surrounding whitespace; ``None`` when that leaves nothing.

Graders, each comparing the extracted answer with the reference ``answer``:

- ``exact``: equal after stripping whitespace (the whole completion, stripped,
  may match too, so a multi-line reference can be graded);
- ``numeric``: the last number in the extracted answer (``1,234.5``, ``-3``,
  ``2e-3``; thousands separators dropped) equals the reference number within
  ``tolerance`` relative to ``max(1, |reference|)``;
- ``regex``: the reference is a regular expression that must ``fullmatch`` the
  extracted answer (or the whole completion, stripped).
"""

from __future__ import annotations

import math
import re

GRADERS = ("exact", "numeric", "regex")
DEFAULT_TOLERANCE = 1e-6

_MARKER = re.compile(r"####|answer\s*:", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?")


def extract_text(completion: str) -> str | None:
    """The answer part of a completion (see the module docstring)."""
    markers = list(_MARKER.finditer(completion))
    if markers:
        answer = completion[markers[-1].end():].split("\n", 1)[0].strip()
        return answer or None
    lines = [line.strip() for line in completion.splitlines() if line.strip()]
    return lines[-1] if lines else None


def parse_number(text: str) -> float | None:
    """The last number written in ``text``, or None."""
    matches = _NUMBER.findall(text)
    if not matches:
        return None
    try:
        value = float(matches[-1].replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def number_text(value: float) -> str:
    """One spelling per number, so ``42``, ``42.0`` and ``4.2e1`` vote together."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def extract_number(completion: str) -> str | None:
    """The numeric answer of a completion, normalised (None if there is none)."""
    text = extract_text(completion)
    value = None if text is None else parse_number(text)
    return None if value is None else number_text(value)


def grade_answer(grader: str, reference: str, completion: str, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Is ``completion`` correct under ``grader`` (one of GRADERS)?"""
    extracted = extract_text(completion)
    whole = completion.strip()
    if grader == "exact":
        return reference.strip() in (extracted, whole)
    if grader == "numeric":
        got = None if extracted is None else parse_number(extracted)
        want = parse_number(reference)
        return got is not None and want is not None and abs(got - want) <= tolerance * max(1.0, abs(want))
    if grader == "regex":
        pattern = re.compile(reference)
        return any(text is not None and pattern.fullmatch(text) for text in (extracted, whole))
    raise ValueError(f"unknown grader {grader!r} (known: {', '.join(GRADERS)})")
