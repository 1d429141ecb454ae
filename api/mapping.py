"""Domain views to wire Structs, by attribute name.

A contract Struct's fields are snake_case in Python (``rename="camel"`` only changes the wire
names), so a domain view (a dataclass, a row, anything with attributes) whose attributes are
named like the Struct's fields converts as it is, nested views and properties included, and
``str`` values become the contract's enums. :func:`to_wire` takes the fields that need
computing (a GeoJSON geometry, a formatted month, a renamed attribute) as keywords; every
other field is read from the views in the order given, and a field none of them has keeps the
Struct's default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

__all__ = ["to_wire", "to_wire_list"]

S = TypeVar("S", bound=msgspec.Struct)


class _Layered:
    """Attributes from ``values`` first, then from each of ``sources`` in turn."""

    __slots__ = ("_sources", "_values")

    def __init__(self, sources: tuple[object, ...], values: dict[str, Any]) -> None:
        self._sources = sources
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        for source in self._sources:
            try:
                return getattr(source, name)
            except AttributeError:
                continue
        raise AttributeError(name)


def to_wire(struct: type[S], view: object, /, *more: object, **values: Any) -> S:
    """``struct`` from ``values``, then the attributes of ``view`` (then of ``more``)."""
    source = view if not (more or values) else _Layered((view, *more), values)
    return msgspec.convert(source, struct, from_attributes=True)


def to_wire_list(struct: type[S], views: Iterable[object]) -> list[S]:
    """Each of ``views`` as ``struct`` (no computed fields)."""
    return msgspec.convert(list(views), list[struct], from_attributes=True)  # type: ignore[valid-type]
