"""Typed settings: one validated object per part that takes parameters.

A part (a strategy, a search) declares its settings as a frozen pydantic model,
one field per parameter with its type, bounds and a description. ``parse``
turns raw values (the strings of a spec, or numbers from code) into the model
and every failure into one ``InputError`` that names the owner, the parameter
and the value, with "did you mean" for a misspelt name. Booleans are refused
where a number is expected (pydantic would read True as 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ttscale.errors import InputError, did_you_mean


class TypedSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_booleans(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if isinstance(value, bool) and field is not None and field.annotation in (int, float, int | None,
                                                                                          float | None):
                    raise ValueError(f"parameter {name!r} must be a number, got {value!r}")
        return data

    @classmethod
    def parse(cls, owner: str, raw: Mapping[str, object], names: Mapping[str, str] | None = None):
        """The settings from raw values; errors name ``owner``, the parameter and the value.

        ``names``: how the user spells some parameters (a CLI option, ``--n-boot``); the rest
        are named ``--name`` when any are given, else ``parameter 'name'``."""
        known = list(cls.model_fields)
        for name in raw:
            if name not in cls.model_fields:
                hint = did_you_mean(name, known)
                raise InputError(f"{owner}: unknown parameter {name!r}{hint} (known: {', '.join(sorted(known))})")
        try:
            return cls(**raw)
        except ValidationError as exc:
            raise InputError(f"{owner}: {_first_error(exc, raw, names)}") from None

    def numbers(self) -> dict[str, float]:
        """The numeric parameters that are set (for a spec, a CSV column, the JSON)."""
        return {name: value for name, value in self.model_dump().items()
                if isinstance(value, (int, float)) and not isinstance(value, bool)}

    def values(self) -> dict[str, object]:
        """Every parameter that is set (None left out)."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


def _first_error(exc: ValidationError, raw: Mapping[str, object], names: Mapping[str, str] | None) -> str:
    error = exc.errors()[0]
    if not error["loc"]:  # a model-level check: its message names what it checks
        return str(error["msg"]).removeprefix("Value error, ")
    name = str(error["loc"][0])
    value = raw.get(name, error.get("input"))
    shown = f"parameter {name!r}" if names is None else names.get(name, "--" + name.replace("_", "-"))
    if error["type"] == "value_error":  # our own check: its message says what is wrong
        return f"{shown}: {str(error['msg']).removeprefix('Value error, ')}"
    return f"{shown} {_reword(str(error['msg']))}, got {value!r}"


def _reword(message: str) -> str:
    # pydantic says "Input should be greater than or equal to 1": make it read after the parameter's name.
    if message.startswith("Input should be "):
        return "must be " + message.removeprefix("Input should be ")
    return "is invalid: " + message
