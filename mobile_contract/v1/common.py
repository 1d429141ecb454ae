"""Shared shapes: problem details, references, GeoJSON geometry."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

__all__ = ["FieldError", "GeoJsonGeometry", "Problem", "Ref"]

GeoJsonGeometry = Annotated[
    dict[str, Any],
    msgspec.Meta(description="A GeoJSON geometry in WGS84 (EPSG:4326) longitude/latitude"),
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
