"""Domain views to contract Structs, by attribute.

A domain view (a dataclass of :mod:`evidence.cases`, :mod:`geofence`, ...) whose attributes
line up with a contract Struct's fields becomes that Struct with :func:`to_contract`:
msgspec reads the attributes by their snake_case names (the Struct's camelCase is only its
wire form), turns plain strings into the contract's enums, nested views into nested Structs
and tuples into lists. A field the view does not carry keeps the Struct's default; one it
carries with a value the contract does not allow fails loudly (a 500), never silently.
Views that need more than that (rounding, derived figures, shapely geometries) keep a
hand-written mapping next to their controller.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import msgspec

__all__ = ["to_contract", "to_contracts"]

T = TypeVar("T")


def to_contract(view: object, into: type[T]) -> T:
    """``view`` as an ``into`` (a contract Struct), read attribute by attribute."""
    return msgspec.convert(view, into, from_attributes=True)


def to_contracts(views: Iterable[object], into: type[T]) -> list[T]:
    """Each of ``views`` as an ``into``, in order."""
    return [msgspec.convert(v, into, from_attributes=True) for v in views]
