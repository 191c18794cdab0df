"""Task specs: ``"family:name=value,name=value"`` <-> a validated task object.

A spec names a task family and its parameters, e.g. ``"factor:digits=3"`` or
``"arith:operands=3,digits=2,scratchpad=1"``. Parameters left out take their
defaults. A task's ``name`` is its *canonical* spec: every parameter, sorted by
name (``"arith:digits=2,operands=3,scratchpad=1"``), so two spellings of one
task land under one name in the store.

Every parameter is a bounded integer (``IntParam``). A parameter marked
``ranged`` also takes an inclusive range ``low-high`` (``"arith:digits=1-3"``):
the task then mixes problems of every value in the range. A range is held as a
``(low, high)`` tuple with low < high (a one-value range is the plain integer,
so ``digits=2-2`` is ``digits=2``) and named ``low-high``. Errors name the task,
the parameter and the bad value, and say what would have been accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol

from ttscale import specs
from ttscale.errors import InputError, did_you_mean


@dataclass(frozen=True)
class IntParam:
    """One integer parameter of a task family, accepted in ``low..high``."""

    name: str
    low: int
    high: int
    doc: str
    ranged: bool = False  # also accepts an inclusive range "low-high" (a tuple)

    def _accepted(self) -> str:
        what = f"an integer in {self.low}..{self.high}"
        return what + (f" or a range like {self.low}-{self.high}" if self.ranged else "")

    def check(self, family: str, value: object) -> int | tuple[int, int]:
        """The value as an int (or, for a ranged parameter, an int or a ``(low, high)`` tuple
        with low < high; a one-value range comes back as the int), or InputError naming the
        parameter and the value."""
        if self.ranged and isinstance(value, (tuple, list)) and len(value) == 2:
            low, high = (self.check(family, v) for v in value)
            if low > high:
                raise InputError(
                    f"task {family!r}: parameter {self.name!r}: range {low}-{high} runs backwards "
                    f"(write it low-high, e.g. {high}-{low})"
                )
            return low if low == high else (low, high)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(
                f"task {family!r}: parameter {self.name!r} must be {self._accepted()}, got {value!r}"
            )
        if not self.low <= value <= self.high:
            raise InputError(
                f"task {family!r}: parameter {self.name!r} must be in {self.low}..{self.high}, got {value}"
            )
        return value

    def parse(self, family: str, text: str) -> int | tuple[int, int]:
        """The value of ``text`` (``"3"``, or ``"1-3"`` when ranged), range-checked."""
        parts = text.split("-", 1) if self.ranged and "-" in text.strip().lstrip("-") else [text]
        try:
            numbers = [int(part) for part in parts]
        except ValueError:
            raise InputError(
                f"task {family!r}: parameter {self.name!r} must be {self._accepted()}, got {text!r}"
            ) from None
        return self.check(family, numbers[0] if len(numbers) == 1 else tuple(numbers))


def span(value: int | tuple[int, int]) -> tuple[int, int]:
    """``(low, high)`` of a parameter value: a range as it is, an integer as a one-value range."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def format_param(value: int | tuple[int, int]) -> str:
    """A parameter value as a spec writes it: ``3`` or ``1-3``."""
    return str(value) if isinstance(value, int) else f"{value[0]}-{value[1]}"


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``"family:a=1,b=2"`` into ``("family", {"a": "1", "b": "2"})`` (values unparsed)."""
    return specs.parse_spec(spec, "task spec")


def build(cls: Any, family: str, raw: Mapping[str, str]) -> Any:
    """Instantiate task class ``cls`` (a frozen dataclass with ``PARAMS``) from unparsed values."""
    params = {p.name: p for p in cls.PARAMS}
    values: dict[str, int | tuple[int, int]] = {}
    for name, text in raw.items():
        if name not in params:
            hint = did_you_mean(name, params)
            known = ", ".join(sorted(params))
            raise InputError(f"task {family!r}: unknown parameter {name!r}{hint} (known: {known})")
        values[name] = params[name].parse(family, text)
    return cls(**values)  # __post_init__ range-checks every field


class ParameterisedTask(Protocol):
    """A task family made from ``IntParam`` fields (``arith``, ``factor``)."""

    family: ClassVar[str]
    PARAMS: ClassVar[tuple[IntParam, ...]]


def check_params(task: ParameterisedTask) -> None:
    """Range-check every field of a (frozen) task dataclass and store it normalised: a range
    as a ``(low, high)`` tuple, a one-value range as its int (called from ``__post_init__``)."""
    for param in task.PARAMS:
        object.__setattr__(task, param.name, param.check(task.family, getattr(task, param.name)))


def canonical_name(task: ParameterisedTask) -> str:
    """``family:name=value,...`` with every parameter, sorted by name (a range as ``low-high``)."""
    return specs.format_spec(task.family, {f.name: format_param(getattr(task, f.name)) for f in fields(task)})


def line_task(cls):
    """What every task made from ``IntParam`` fields shares, put on its class (apply it under
    ``@dataclass``): one completion per line, the canonical spec as its name, parameters
    checked and normalised on construction, no data file behind it (``fingerprint`` None)."""
    cls.stop = "\n"
    cls.stop_sequences = (cls.stop,)
    cls.fingerprint = None
    cls.__post_init__ = check_params
    cls.name = property(canonical_name)
    return cls
