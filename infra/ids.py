"""UUIDv7 identifiers (RFC 9562): time-ordered, minted by phones offline too."""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["is_uuid7", "uuid7"]


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7 (48-bit unix milliseconds, 74 random bits)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF
    return uuid.UUID(int=value)


def is_uuid7(value: uuid.UUID) -> bool:
    return value.version == 7 and value.variant == uuid.RFC_4122
