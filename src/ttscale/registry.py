"""One registry per family of parts (tasks, strategies, techniques, backends).

One way to register (the ``register`` decorator), one way to look up (``get``),
and a "did you mean ...?" on a typo.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from ttscale.errors import InputError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, family: str) -> None:
        self.family = family
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.family} {name!r} is registered twice")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            hint = did_you_mean(name, self._items)
            known = ", ".join(sorted(self._items))
            raise InputError(f"unknown {self.family} {name!r}{hint} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
