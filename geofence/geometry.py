"""Input validation: coordinates of a fix, and polygon validity and repair.

Neither PostGIS nor GEOS refuses bad input on its own (geography wraps lat 95 to 85, NaN points
are stored and match nothing), so every coordinate and polygon is checked here first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
import shapely.errors
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from geofence.errors import InvalidCoordinatesError, InvalidGeometryError
from infra.errors import InvalidInputError
from infra.geometry import check_geojson_positions

__all__ = [
    "MAX_ACCURACY_M",
    "RepairOutcome",
    "parse_geojson_geometry",
    "parse_geojson_polygon",
    "repair_polygonal",
    "require_valid_polygon",
    "validate_fix",
    "validate_fixes",
]

MAX_ACCURACY_M = 10_000.0
FloatArray = npt.NDArray[np.float64]


def validate_fix(lon: float, lat: float, accuracy_m: float, *, prefix: str = "") -> None:
    """Raise :class:`InvalidCoordinatesError` naming the field of a bad fix.

    ``lon`` in [-180, 180], ``lat`` in [-90, 90], ``accuracy_m`` in [0, 10 000]; all finite.
    ``prefix`` is put before the field name (``points[3].``) for batch input.
    """
    for name, value, low, high in (
        ("lon", lon, -180.0, 180.0),
        ("lat", lat, -90.0, 90.0),
        ("accuracy_m", accuracy_m, 0.0, MAX_ACCURACY_M),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"{prefix}{name} must be a number"
            raise InvalidCoordinatesError(msg, field=f"{prefix}{name}")
        if not math.isfinite(value):
            msg = f"{prefix}{name} must be a finite number, got {value}"
            raise InvalidCoordinatesError(msg, field=f"{prefix}{name}")
        if not low <= value <= high:
            msg = f"{prefix}{name} must be within [{low:g}, {high:g}], got {value:g}"
            raise InvalidCoordinatesError(msg, field=f"{prefix}{name}")


def validate_fixes(lon: FloatArray, lat: FloatArray, accuracy_m: FloatArray) -> None:
    """Vectorised :func:`validate_fix`; the error names the first bad ``points[i].field``."""
    for name, values, low, high in (
        ("lon", lon, -180.0, 180.0),
        ("lat", lat, -90.0, 90.0),
        ("accuracy_m", accuracy_m, 0.0, MAX_ACCURACY_M),
    ):
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
        if bad.any():
            i = int(np.argmax(bad))
            validate_fix(float(lon[i]), float(lat[i]), float(accuracy_m[i]), prefix=f"points[{i}].")
            msg = f"points[{i}].{name} is out of range"  # pragma: no cover - defensive
            raise InvalidCoordinatesError(msg, field=f"points[{i}].{name}")


@dataclass(frozen=True, slots=True)
class RepairOutcome:
    """A polygonal geometry ready to store, and what was done to it (empty when nothing)."""

    geom: BaseGeometry
    repairs: tuple[str, ...]


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    polygonal = shapely.Polygon | shapely.MultiPolygon
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, polygonal)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _as_multi(geom: BaseGeometry) -> BaseGeometry:
    return shapely.MultiPolygon([geom]) if isinstance(geom, shapely.Polygon) else geom


def repair_polygonal(geom: BaseGeometry | None) -> RepairOutcome:
    """Validate a polygon or multipolygon, repairing it when possible.

    Returns a valid MultiPolygon and the list of repairs made (dropped Z, invalid ring fixed
    with the GEOS reason, slivers dropped). Raises :class:`InvalidGeometryError` (``field`` =
    ``geometry``, ``reason`` set) for missing, empty, non-polygonal, non-finite or
    irreparable (collapsing to nothing) geometries.
    """
    if geom is None or geom.is_empty:
        raise InvalidGeometryError("empty geometry", field="geometry", reason="empty")
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        msg = f"expected a Polygon or MultiPolygon, got {geom.geom_type}"
        raise InvalidGeometryError(msg, field="geometry", reason="wrong_type")
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        msg = "coordinates must be finite numbers"
        raise InvalidGeometryError(msg, field="geometry", reason="non_finite")
    repairs: list[str] = []
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
        repairs.append("dropped Z coordinates")
    if not geom.is_valid:
        why = shapely.is_valid_reason(geom)
        fixed = _polygonal_part(shapely.make_valid(geom, method="structure", keep_collapsed=False))
        if fixed.is_empty or fixed.area <= 0.0:
            msg = f"cannot be repaired: {why}"
            raise InvalidGeometryError(msg, field="geometry", reason=why)
        repairs.append(f"repaired: {why}")
        geom = fixed
    return RepairOutcome(_as_multi(geom), tuple(repairs))


def require_valid_polygon(geom: BaseGeometry | None, *, field: str = "polygon") -> BaseGeometry:
    """A polygon given by a user (an overlay boundary) must already be valid: no repair."""
    if geom is None or geom.is_empty:
        raise InvalidGeometryError("polygon is empty", field=field, reason="empty")
    if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        msg = f"expected a Polygon or MultiPolygon, got {geom.geom_type}"
        raise InvalidGeometryError(msg, field=field, reason="wrong_type")
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise InvalidGeometryError("coordinates must be finite", field=field, reason="non_finite")
    if (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
        msg = "coordinates must be longitude in [-180, 180] and latitude in [-90, 90]"
        raise InvalidGeometryError(msg, field=field, reason="out_of_range")
    if not geom.is_valid:
        why = shapely.is_valid_reason(geom)
        msg = f"polygon is not valid: {why}"
        raise InvalidGeometryError(msg, field=field, reason=why)
    return geom


def parse_geojson_geometry(obj: object, *, field: str = "geometry") -> BaseGeometry:
    """A Shapely geometry from a GeoJSON geometry object; malformed input names ``field``.

    Positions are checked as the contract states them first (2-D numbers, closed rings, a
    vertex limit: :func:`infra.geometry.check_geojson_positions`); Shapely would close an
    open ring and keep a height silently.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("coordinates"), list | tuple):
        msg = "expected a GeoJSON geometry with coordinates"
        raise InvalidGeometryError(msg, field=field, reason="malformed")
    try:
        check_geojson_positions(obj, field=field)
    except InvalidInputError as exc:
        if exc.code != "invalid_geometry":
            raise  # too_many_vertices keeps its own code
        extra = {k: v for k, v in exc.extra.items() if k != "field"}
        raise InvalidGeometryError(exc.detail, field=field, **extra) from exc
    try:
        geom: BaseGeometry = shapely.geometry.shape(obj)
    except (KeyError, TypeError, ValueError, IndexError, shapely.errors.ShapelyError) as exc:
        msg = f"malformed GeoJSON geometry: {str(exc)[:120]}"
        raise InvalidGeometryError(msg, field=field, reason="malformed") from exc
    return geom


def parse_geojson_polygon(obj: object, *, field: str = "polygon") -> BaseGeometry:
    """A valid Polygon or MultiPolygon from a GeoJSON geometry (WGS84), or an error naming it.

    Malformed GeoJSON, non-polygonal, empty, non-finite, out-of-range and self-intersecting
    geometries raise :class:`InvalidGeometryError` with ``field`` and a ``reason``.
    """
    return require_valid_polygon(parse_geojson_geometry(obj, field=field), field=field)
