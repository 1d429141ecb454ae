"""Shared shapes: problem details, references, GeoJSON geometry, time ranges and paging.

New fields use :class:`TimeRange` for a span of time and :class:`PageInfo` for a page of a
list (one paging style: an opaque cursor); existing shapes keep theirs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

__all__ = [
    "MAX_GEOMETRY_VERTICES",
    "FieldError",
    "GeoJsonGeometry",
    "PageInfo",
    "Problem",
    "Ref",
    "TimeRange",
]

#: The most positions one geometry sent to the API may have.
MAX_GEOMETRY_VERTICES = 200_000

GeoJsonGeometry = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description=(
            "A GeoJSON geometry in WGS84 (EPSG:4326) longitude/latitude. Sent to the API, "
            "positions are 2-D [longitude, latitude] numbers (a third coordinate is refused), "
            "longitude in [-180, 180] and latitude in [-90, 90]; polygon rings are closed "
            "(the last position repeats the first, at least 4 positions) and an open ring is "
            "refused, never closed silently (422 invalid_geometry with a reason: not_2d, "
            "not_numbers, ring_not_closed, ring_too_short, malformed); a geometry has at most "
            f"{MAX_GEOMETRY_VERTICES:,} positions (422 too_many_vertices)."
        )
    ),
]


class FieldError(msgspec.Struct, kw_only=True, rename="camel"):
    field: str | None = None
    message: str


class Problem(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """RFC 9457 problem details; ``code`` is stable and meant for programs.

    ``details`` carries what a program needs to act on the error (e.g. ``missingParts``).
    """

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None
    retry_after_s: int | None = None
    details: dict[str, Any] | None = None


class Ref(msgspec.Struct, kw_only=True, rename="camel"):
    id: str
    name: str


class TimeRange(msgspec.Struct, kw_only=True, rename="camel"):
    """A span of time, half-open: from ``from`` (included) to ``to`` (excluded).

    Both carry a UTC offset. A missing (null) end is open on that side. The same span in a
    query string is ``<name>From`` and ``<name>To`` (e.g. ``capturedFrom``/``capturedTo``).
    """

    from_: Annotated[datetime, msgspec.Meta(tz=True)] | None = msgspec.field(
        default=None, name="from"
    )
    to: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class PageInfo(msgspec.Struct, kw_only=True, rename="camel"):
    """Where a page of a list stands; the one paging style of new list answers.

    Ask for a page with the query parameters ``limit`` (how many at most) and ``cursor``
    (omitted for the first page). ``nextCursor`` is an opaque string to send back as
    ``cursor`` for the next page, null on the last page (``hasMore`` false). A cursor is only
    valid with the same filters it was issued for.
    """

    limit: int
    has_more: bool
    next_cursor: str | None = None
