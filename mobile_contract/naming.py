"""The wire's naming rule: a Python name as the camelCase name msgspec gives it on the wire.

Every contract Struct is declared ``rename="camel"``; names that travel outside a Struct
(a problem's ``details`` keys, a sync conflict's field names, query parameter aliases) are
renamed by :func:`camel`, which asks msgspec itself, so the two never disagree
(``occupied_area_m2`` → ``occupiedAreaM2``, ``ab_cD`` → ``abCd``, ``_x`` → ``_x``).
"""

from __future__ import annotations

from functools import lru_cache

import msgspec

__all__ = ["camel"]


@lru_cache(maxsize=4096)
def camel(name: str) -> str:
    """``name`` as msgspec's ``rename="camel"`` writes it."""
    struct = msgspec.defstruct("_Name", [(name, object)], rename="camel")
    return str(struct.__struct_encode_fields__[0])
