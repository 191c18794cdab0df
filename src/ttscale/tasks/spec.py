"""Task specs: ``"family:name=value,name=value"`` <-> a validated task object.

A spec names a task family and its parameters, e.g. ``"factor:digits=3"`` or
``"arith:operands=3,digits=2,scratchpad=1"``. Parameters left out take their
defaults. A task's ``name`` is its *canonical* spec: every parameter, sorted by
name (``"arith:digits=2,operands=3,scratchpad=1"``), so two spellings of one
task land under one name in the store.

Every parameter is a bounded integer (``IntParam``). Errors name the task, the
parameter and the bad value, and say what would have been accepted.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ttscale.errors import InputError


@dataclass(frozen=True)
class IntParam:
    """One integer parameter of a task family, accepted in ``low..high``."""

    name: str
    low: int
    high: int
    doc: str

    def check(self, family: str, value: object) -> int:
        """The value as an int, or InputError naming the parameter and the value."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(
                f"task {family!r}: parameter {self.name!r} must be an integer in {self.low}..{self.high}, "
                f"got {value!r}"
            )
        if not self.low <= value <= self.high:
            raise InputError(
                f"task {family!r}: parameter {self.name!r} must be in {self.low}..{self.high}, got {value}"
            )
        return value


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``"family:a=1,b=2"`` into ``("family", {"a": "1", "b": "2"})`` (values unparsed)."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"task spec: expected 'family' or 'family:name=value,...', got {spec!r}")
    family, _, rest = spec.strip().partition(":")
    family = family.strip()
    raw: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise InputError(f"task spec {spec!r}: expected name=value, got {item!r}")
        if name in raw:
            raise InputError(f"task spec {spec!r}: parameter {name!r} is given twice")
        raw[name] = value
    return family, raw


def build(cls: Any, family: str, raw: Mapping[str, str]) -> Any:
    """Instantiate task class ``cls`` (a frozen dataclass with ``PARAMS``) from unparsed values."""
    params = {p.name: p for p in cls.PARAMS}
    values: dict[str, int] = {}
    for name, text in raw.items():
        if name not in params:
            close = difflib.get_close_matches(name, params, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(params))
            raise InputError(f"task {family!r}: unknown parameter {name!r}{hint} (known: {known})")
        param = params[name]
        try:
            number = int(text)
        except ValueError:
            raise InputError(
                f"task {family!r}: parameter {name!r} must be an integer in {param.low}..{param.high}, "
                f"got {text!r}"
            ) from None
        values[name] = number
    return cls(**values)  # __post_init__ range-checks every field


def check_params(task: Any) -> None:
    """Range-check every field of a task dataclass (called from ``__post_init__``)."""
    for param in task.PARAMS:
        param.check(task.family, getattr(task, param.name))


def canonical_name(task: Any) -> str:
    """``family:name=value,...`` with every parameter, sorted by name."""
    names = sorted(f.name for f in fields(task))
    return f"{task.family}:" + ",".join(f"{n}={getattr(task, n)}" for n in names)
