"""Shared shapes: problem details, references, GeoJSON geometry."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

__all__ = ["MAX_GEOMETRY_VERTICES", "FieldError", "GeoJsonGeometry", "Problem", "Ref"]

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
