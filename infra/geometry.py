"""Checking geometry that arrives from outside, before anything is stored.

PostGIS wraps out-of-range coordinates and stores NaN silently (measured), so
ranges, finiteness and validity are checked here, at the edge.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from infra import error_codes as codes
from infra.errors import InvalidInputError

__all__ = [
    "MAX_VERTICES",
    "POLYGONAL",
    "check_geojson_positions",
    "check_lon_lat",
    "parse_geometry",
    "parse_polygonal",
    "to_ewkt",
]

#: The most positions one geometry given to the API may have (the contract states it too).
MAX_VERTICES = 200_000


def check_lon_lat(lon: float, lat: float, *, field: str = "") -> None:
    prefix = f"{field}." if field else ""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInputError(
            "coordinates must be finite numbers",
            code=codes.INVALID_COORDINATES,
            field=f"{prefix}lon",
        )
    if not -180.0 <= lon <= 180.0:
        raise InvalidInputError(
            f"longitude {lon} is outside [-180, 180]",
            code=codes.INVALID_COORDINATES,
            field=f"{prefix}lon",
        )
    if not -90.0 <= lat <= 90.0:
        raise InvalidInputError(
            f"latitude {lat} is outside [-90, 90]",
            code=codes.INVALID_COORDINATES,
            field=f"{prefix}lat",
        )


POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
# how deep the position lists of each GeoJSON type sit below "coordinates"
_LIST_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def _refuse(detail: str, field: str, reason: str, **extra: Any) -> InvalidInputError:
    return InvalidInputError(
        detail, code=codes.INVALID_GEOMETRY, field=field, reason=reason, **extra
    )


def _sequences(coords: Any, depth: int, field: str) -> list[Any]:
    """The position lists of a geometry (a Point's one position as a list of one)."""
    if depth == 0:
        return [[coords]]
    out: list[Any] = [coords]
    for _ in range(depth - 1):
        if not all(isinstance(part, list | tuple) for part in out):
            raise _refuse("malformed GeoJSON coordinates", field, "malformed")
        out = [inner for part in out for inner in part]
    return out


def _positions(seq: Any, field: str) -> Any:
    """A list of ``[lon, lat]`` numbers as an (n, 2) float array, or the reason it is not."""
    if not isinstance(seq, list | tuple) or not all(isinstance(p, list | tuple) for p in seq):
        raise _refuse("malformed GeoJSON coordinates", field, "malformed")
    try:
        arr = np.asarray(seq) if seq else np.empty((0, 2))
    except ValueError:  # ragged: positions of different lengths
        arr = None
    if arr is None or arr.ndim != 2 or arr.shape[1] != 2:
        if any(len(p) > 2 for p in seq):
            msg = "positions are 2-D: send [longitude, latitude] without a height"
            raise _refuse(msg, field, "not_2d")
        raise _refuse("a position is [longitude, latitude]", field, "malformed")
    if arr.dtype.kind not in "fi":  # strings, booleans, integers beyond 64 bits
        raise _refuse("coordinates must be numbers", field, "not_numbers")
    return arr.astype(np.float64, copy=False)


def check_geojson_positions(
    obj: Any, *, field: str = "geometry", max_vertices: int = MAX_VERTICES
) -> None:
    """The positions of a GeoJSON geometry as the contract states them, or a 422 with a reason.

    Positions are 2-D numbers (``not_2d``, ``not_numbers``); polygon rings are closed, with
    at least 4 positions (``ring_not_closed``, ``ring_too_short``: an open ring is refused,
    never closed silently); a geometry has at most ``max_vertices`` positions (code
    ``too_many_vertices``). Types other than the six simple ones are left to the caller.
    """
    if not isinstance(obj, dict):
        return
    depth = _LIST_DEPTH.get(obj.get("type"))  # type: ignore[arg-type]
    if depth is None:
        return
    rings = obj["type"] in POLYGONAL
    total = 0
    for number, seq in enumerate(_sequences(obj.get("coordinates"), depth, field), start=1):
        arr = _positions(seq, field)
        total += len(arr)
        if total > max_vertices:
            raise InvalidInputError(
                f"a geometry may have at most {max_vertices:,} positions",
                code=codes.TOO_MANY_VERTICES,
                field=field,
                limit=max_vertices,
            )
        if not rings:
            continue
        if len(arr) < 4:
            msg = f"ring {number} has {len(arr)} positions; a ring needs at least 4"
            raise _refuse(msg, field, "ring_too_short")
        if not np.array_equal(arr[0], arr[-1]):
            msg = f"ring {number} is not closed: its last position must repeat its first"
            raise _refuse(msg, field, "ring_not_closed")


def parse_geometry(
    obj: Any, *, field: str = "geometry", types: frozenset[str] = POLYGONAL
) -> BaseGeometry:
    """A GeoJSON geometry (WGS84) of one of ``types``: valid, non-empty, in range, or a 422."""
    if not isinstance(obj, dict) or obj.get("type") not in types:
        expected = " or ".join(sorted(types))
        raise InvalidInputError(
            f"expected a GeoJSON {expected}",
            code=codes.INVALID_GEOMETRY,
            field=field,
            reason="wrong_type",
        )
    check_geojson_positions(obj, field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN is reported below instead
            geom: BaseGeometry = shape(obj)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidInputError(
            f"malformed GeoJSON geometry: {exc}",
            code=codes.INVALID_GEOMETRY,
            field=field,
            reason="malformed",
        ) from exc
    if geom.is_empty:
        raise InvalidInputError(
            "geometry is empty", code=codes.INVALID_GEOMETRY, field=field, reason="empty"
        )
    coords = shapely.get_coordinates(geom)
    if not bool(shapely.is_valid(geom)) or not coords.size:
        reason = shapely.is_valid_reason(geom)
        raise InvalidInputError(
            f"geometry is not valid: {reason}",
            code=codes.INVALID_GEOMETRY,
            field=field,
            reason=reason,
        )
    xs, ys = coords[:, 0], coords[:, 1]
    if not (
        bool((xs >= -180).all())
        and bool((xs <= 180).all())
        and bool((ys >= -90).all())
        and bool((ys <= 90).all())
    ):
        raise InvalidInputError(
            "coordinates are outside longitude/latitude ranges",
            code=codes.INVALID_COORDINATES,
            field=field,
        )
    return geom


def parse_polygonal(obj: Any, *, field: str = "geometry") -> MultiPolygon:
    """A GeoJSON Polygon/MultiPolygon (WGS84) as a valid, non-empty MultiPolygon, or a 422."""
    geom = parse_geometry(obj, field=field)
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    assert isinstance(geom, MultiPolygon)
    return geom


def to_ewkt(geom: BaseGeometry, srid: int = 4326) -> str:
    return f"SRID={srid};{geom.wkt}"
