"""Checking geometry that arrives from outside, before anything is stored.

PostGIS wraps out-of-range coordinates and stores NaN silently (DESIGN.md section 3), so
ranges, finiteness and validity are checked here, at the edge.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from infra.errors import InvalidInputError

__all__ = ["POLYGONAL", "check_lon_lat", "parse_geometry", "parse_polygonal", "to_ewkt"]


def check_lon_lat(lon: float, lat: float, *, field: str = "") -> None:
    prefix = f"{field}." if field else ""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInputError(
            "coordinates must be finite numbers", code="invalid_coordinates", field=f"{prefix}lon"
        )
    if not -180.0 <= lon <= 180.0:
        raise InvalidInputError(
            f"longitude {lon} is outside [-180, 180]",
            code="invalid_coordinates",
            field=f"{prefix}lon",
        )
    if not -90.0 <= lat <= 90.0:
        raise InvalidInputError(
            f"latitude {lat} is outside [-90, 90]",
            code="invalid_coordinates",
            field=f"{prefix}lat",
        )


POLYGONAL = frozenset({"Polygon", "MultiPolygon"})


def parse_geometry(
    obj: Any, *, field: str = "geometry", types: frozenset[str] = POLYGONAL
) -> BaseGeometry:
    """A GeoJSON geometry (WGS84) of one of ``types``: valid, non-empty, in range, or a 422."""
    if not isinstance(obj, dict) or obj.get("type") not in types:
        expected = " or ".join(sorted(types))
        raise InvalidInputError(
            f"expected a GeoJSON {expected}", code="invalid_geometry", field=field
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN is reported below instead
            geom: BaseGeometry = shape(obj)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidInputError(
            f"malformed GeoJSON geometry: {exc}", code="invalid_geometry", field=field
        ) from exc
    if geom.is_empty:
        raise InvalidInputError("geometry is empty", code="invalid_geometry", field=field)
    coords = shapely.get_coordinates(geom)
    if not bool(shapely.is_valid(geom)) or not coords.size:
        reason = shapely.is_valid_reason(geom)
        raise InvalidInputError(
            f"geometry is not valid: {reason}", code="invalid_geometry", field=field
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
            code="invalid_coordinates",
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
