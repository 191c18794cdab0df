"""One parser for everything spec-shaped: ``NAME[:param=value,...]``.

Strategies (``majority:k=4``), tasks (``arith:digits=2,operands=3``) and
searches (``beam:width=2``) are written the same way. ``parse_spec`` splits a
spec into its name and its raw values (strings, unchecked: the owner's typed
settings check them); every error names the option (``what``) and the spec.
"""

from __future__ import annotations

from collections.abc import Mapping

from ttscale.errors import InputError


def parse_spec(spec: object, what: str) -> tuple[str, dict[str, str]]:
    """``"name:a=1,b=2"`` -> ``("name", {"a": "1", "b": "2"})``."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"{what}: expected 'NAME' or 'NAME:param=value,...', got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    if not name.strip():
        raise InputError(f"{what} {spec!r}: the name before ':' is missing")
    raw: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key or not value:
            raise InputError(f"{what} {spec!r}: expected param=value, got {item!r}")
        if key in raw:
            raise InputError(f"{what} {spec!r}: parameter {key!r} is given twice")
        raw[key] = value
    return name.strip(), raw


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_spec(name: str, values: Mapping[str, object]) -> str:
    """The canonical spec: parameters sorted by name, numbers in their shortest form."""
    if not values:
        return name
    return name + ":" + ",".join(f"{key}={format_value(values[key])}" for key in sorted(values))
