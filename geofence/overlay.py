"""Overlay of an area (a walked boundary) on the reference layers (套合).

The answer gives the area of the polygon by parcel land class, how much of it lies in
planning zones that permit construction (conforming) and how much does not (not conforming,
and of that how much in basic-farmland and ecological red-line zones), the closed-mine sites
and satellite change polygons it touches, and the layer versions used.

Areas are computed on the county's in-process index (:mod:`geofence.index`): geometries
projected to a transverse Mercator centred on the county, corrected for the projection's
scale factor, which agrees with ellipsoidal (geography) areas to better than 1e-4.
Areas are m²; every ``*_mu`` is the same area in mu (1 mu = 10 000 / 15 ≈ 666.67 m²).

Parsing, validating and measuring the polygon is CPU work proportional to its vertices (a
150k-vertex boundary takes seconds): it runs on a worker thread, so the event loop keeps
serving other requests, and polygons above :data:`MAX_OVERLAY_VERTICES` are refused first.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.check import LayerRef
from geofence.enums import LandClass, LayerKind, MineStatus, SiteKind, ZoneKind
from geofence.errors import OutsideCountyError
from geofence.geometry import parse_geojson_polygon, require_valid_polygon
from geofence.index import DEFAULT_INDEX, CountyIndex, GeofenceIndex, LayerSnapshot
from infra import error_codes as codes
from infra.errors import InvalidInputError
from infra.geometry import MAX_VERTICES
from infra.scope import Principal

__all__ = [
    "M2_PER_MU",
    "MAX_OVERLAY_VERTICES",
    "ClassArea",
    "OverlayChange",
    "OverlayResult",
    "OverlaySite",
    "overlay_area",
    "to_mu",
]

M2_PER_MU = 10_000.0 / 15.0

#: Most vertices an overlay polygon may have: the limit of every geometry the API takes
#: (a boundary walked with a vertex every metre around 200 km, about 5 MB of JSON).
MAX_OVERLAY_VERTICES = MAX_VERTICES


def to_mu(area_m2: float, ndigits: int | None = None) -> float:
    """Square metres to mu (1 mu = 666.67 m²), rounded to ``ndigits`` decimals if given."""
    mu = area_m2 / M2_PER_MU
    return mu if ndigits is None else round(mu, ndigits)


def _r(value: float) -> float:
    return round(value, 2)


def _mu(value: float) -> float:
    return to_mu(value, 4)


@dataclass(frozen=True, slots=True)
class ClassArea:
    """Part of the area in parcels of one land class."""

    land_class: LandClass
    area_m2: float
    parcels: int

    @property
    def area_mu(self) -> float:
        return to_mu(self.area_m2)

    def to_json(self) -> dict[str, Any]:
        return {
            "land_class": self.land_class.value,
            "area_m2": _r(self.area_m2),
            "area_mu": _mu(self.area_m2),
            "parcels": self.parcels,
        }


@dataclass(frozen=True, slots=True)
class OverlaySite:
    """A closed-mine or dredging-boat site the area touches (``overlap_m2`` 0 for points)."""

    site_id: uuid.UUID
    code: str
    name: str
    site_kind: SiteKind
    status: MineStatus
    overlap_m2: float

    def to_json(self) -> dict[str, Any]:
        return {
            "site_id": str(self.site_id),
            "code": self.code,
            "name": self.name,
            "site_kind": self.site_kind.value,
            "status": self.status.value,
            "overlap_m2": _r(self.overlap_m2),
            "overlap_mu": _mu(self.overlap_m2),
        }


@dataclass(frozen=True, slots=True)
class OverlayChange:
    """A satellite change polygon the area overlaps."""

    feature_id: uuid.UUID
    monitoring_no: str
    batch_year: int
    batch_quarter: int
    overlap_m2: float

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_id": str(self.feature_id),
            "monitoring_no": self.monitoring_no,
            "batch_year": self.batch_year,
            "batch_quarter": self.batch_quarter,
            "overlap_m2": _r(self.overlap_m2),
            "overlap_mu": _mu(self.overlap_m2),
        }


@dataclass(frozen=True, slots=True)
class OverlayResult:
    """The overlay answer. Planning figures are ``None`` when the county has no zone layer.

    ``unmapped_m2`` is the part of the area no parcel covers. ``conforming_m2`` lies in zones
    that permit construction (urban development, village construction); the rest is
    ``not_conforming_m2``, of which ``not_conforming_basic_farmland_m2`` lies in basic-farmland
    zones and ``not_conforming_ecological_m2`` in the ecological red line.
    """

    area_m2: float
    land_classes: tuple[ClassArea, ...]
    unmapped_m2: float
    conforming_m2: float | None
    not_conforming_m2: float | None
    not_conforming_basic_farmland_m2: float | None
    not_conforming_ecological_m2: float | None
    zone_areas: dict[ZoneKind, float]
    mine_sites: tuple[OverlaySite, ...]
    change_polygons: tuple[OverlayChange, ...]
    layer_versions: tuple[LayerRef, ...]

    @property
    def area_mu(self) -> float:
        return to_mu(self.area_m2)

    def class_m2(self, *classes: LandClass) -> float:
        """Area in parcels of any of ``classes``."""
        return sum(c.area_m2 for c in self.land_classes if c.land_class in classes)

    @property
    def farmland_m2(self) -> float:
        return sum(c.area_m2 for c in self.land_classes if c.land_class.is_farmland)

    @property
    def cultivated_m2(self) -> float:
        return sum(c.area_m2 for c in self.land_classes if c.land_class.is_cultivated)

    @property
    def construction_m2(self) -> float:
        return sum(c.area_m2 for c in self.land_classes if c.land_class.is_construction)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (m² to the centimetre, mu to 4 decimals), stored with findings."""

        def opt(value: float | None) -> dict[str, float | None]:
            if value is None:
                return {"m2": None, "mu": None}
            return {"m2": _r(value), "mu": _mu(value)}

        approved = self.class_m2(LandClass.CONSTRUCTION_APPROVED)
        basic = self.class_m2(LandClass.PERMANENT_BASIC_FARMLAND)
        return {
            "area_m2": _r(self.area_m2),
            "area_mu": _mu(self.area_m2),
            "land_classes": [c.to_json() for c in self.land_classes],
            "unmapped": opt(self.unmapped_m2),
            "current_use": {
                "farmland": opt(self.farmland_m2),
                "cultivated": opt(self.cultivated_m2),
                "permanent_basic_farmland": opt(basic),
                "construction": opt(self.construction_m2),
                "construction_approved": opt(approved),
                "unused": opt(self.class_m2(LandClass.UNUSED)),
            },
            "planning": {
                "conforming": opt(self.conforming_m2),
                "not_conforming": opt(self.not_conforming_m2),
                "not_conforming_basic_farmland": opt(self.not_conforming_basic_farmland_m2),
                "not_conforming_ecological": opt(self.not_conforming_ecological_m2),
                "zones": {k.value: opt(v) for k, v in self.zone_areas.items()},
            },
            "mine_sites": [s.to_json() for s in self.mine_sites],
            "change_polygons": [c.to_json() for c in self.change_polygons],
            "layer_versions": [v.to_json() for v in self.layer_versions],
        }


def _hits(layer: LayerSnapshot | None, poly: BaseGeometry) -> tuple[Any, Any]:
    """Indices of the layer's features touching ``poly`` and their overlap areas (projected)."""
    if layer is None or not len(layer):
        return np.array([], dtype=np.intp), np.array([], dtype=np.float64)
    idx = layer.intersecting(poly)
    areas = shapely.area(shapely.intersection(layer.geometries(idx), poly))
    return idx, np.asarray(areas, dtype=np.float64)


def _land_classes(
    layer: LayerSnapshot | None, poly: BaseGeometry, k2: float
) -> tuple[tuple[ClassArea, ...], float]:
    idx, areas = _hits(layer, poly)
    totals: dict[LandClass, list[float]] = {}
    for i, area in zip(idx.tolist(), areas.tolist(), strict=True):
        if area <= 0.0 or layer is None:
            continue
        cls = LandClass(layer.land_class[i] or LandClass.OTHER.value)
        entry = totals.setdefault(cls, [0.0, 0.0])
        entry[0] += area / k2
        entry[1] += 1
    order = {c: n for n, c in enumerate(LandClass)}
    ranked = sorted(totals.items(), key=lambda t: order[t[0]])
    classes = tuple(ClassArea(cls, a, int(n)) for cls, (a, n) in ranked)
    covered = 0.0
    if layer is not None and len(idx):
        pieces = shapely.intersection(layer.geometries(idx), poly)
        covered = float(shapely.union_all(pieces).area) / k2
    return classes, covered


def _planning(
    layer: LayerSnapshot | None, poly: BaseGeometry, k2: float
) -> tuple[tuple[float, float, float, float] | None, dict[ZoneKind, float]]:
    if layer is None:
        return None, {}
    idx, _ = _hits(layer, poly)
    by_kind: dict[ZoneKind, list[Any]] = {}
    for i, geom in zip(idx.tolist(), layer.geometries(idx), strict=True):
        kind = ZoneKind(layer.attributes[i]["zone_kind"])
        by_kind.setdefault(kind, []).append(geom)
    unions = {k: shapely.intersection(shapely.union_all(g), poly) for k, g in by_kind.items()}
    permits = [u for k, u in unions.items() if k.permits_construction]
    conforming = shapely.union_all(permits) if permits else shapely.Polygon()
    rest = shapely.difference(poly, conforming)

    def part(kind: ZoneKind) -> float:
        zone = unions.get(kind)
        return 0.0 if zone is None else float(shapely.intersection(rest, zone).area) / k2

    figures = (
        float(conforming.area) / k2,
        float(rest.area) / k2,
        part(ZoneKind.BASIC_FARMLAND),
        part(ZoneKind.ECOLOGICAL_REDLINE),
    )
    order = {c: n for n, c in enumerate(ZoneKind)}
    zones = {k: float(u.area) / k2 for k, u in sorted(unions.items(), key=lambda t: order[t[0]])}
    return figures, zones


def _sites(layer: LayerSnapshot | None, poly: BaseGeometry, k2: float) -> tuple[OverlaySite, ...]:
    idx, areas = _hits(layer, poly)
    if layer is None:
        return ()
    out = []
    for i, area in zip(idx.tolist(), areas.tolist(), strict=True):
        a = layer.attributes[i]
        out.append(
            OverlaySite(
                layer.ids[i], a["code"], a["name"], SiteKind(a["site_kind"]),
                MineStatus(a["status"]), area / k2,
            )
        )  # fmt: skip
    return tuple(sorted(out, key=lambda s: s.code))


def _changes(
    layer: LayerSnapshot | None, poly: BaseGeometry, k2: float
) -> tuple[OverlayChange, ...]:
    idx, areas = _hits(layer, poly)
    if layer is None:
        return ()
    out = []
    for i, area in zip(idx.tolist(), areas.tolist(), strict=True):
        a = layer.attributes[i]
        out.append(
            OverlayChange(
                layer.ids[i], a["monitoring_no"], int(a["batch_year"]), int(a["batch_quarter"]),
                area / k2,
            )
        )  # fmt: skip
    return tuple(sorted(out, key=lambda c: (c.monitoring_no, str(c.feature_id))))


def _project(county: CountyIndex, geom: BaseGeometry) -> tuple[BaseGeometry, float]:
    """The polygon in the county's metric projection and the squared scale factor there."""
    projected: BaseGeometry = county.projection.project_geoms(np.array([geom], dtype=object))[0]
    projected = shapely.make_valid(projected) if not projected.is_valid else projected
    x = np.array([projected.centroid.x], dtype=np.float64)
    k = float(county.projection.scale_at(x)[0])
    return projected, k * k


def _parse(polygon: dict[str, Any] | BaseGeometry, field: str) -> BaseGeometry:
    if isinstance(polygon, dict):  # positions and their number are checked while parsing
        return parse_geojson_polygon(polygon, field=field)
    if shapely.get_num_coordinates(polygon) > MAX_OVERLAY_VERTICES:
        msg = f"a geometry may have at most {MAX_OVERLAY_VERTICES:,} positions"
        raise InvalidInputError(
            msg, code=codes.TOO_MANY_VERTICES, field=field, limit=MAX_OVERLAY_VERTICES
        )
    return require_valid_polygon(polygon, field=field)


def _overlay(idx: CountyIndex, geom: BaseGeometry, field: str) -> OverlayResult:
    """The overlay proper: CPU work on Shapely geometries, run on a worker thread."""
    poly, k2 = _project(idx, geom)
    if not idx.area.intersects(poly):
        msg = "the polygon lies outside the county (wrong coordinates or coordinate system?)"
        raise OutsideCountyError(msg, field=field)
    classes, covered = _land_classes(idx.layers.get(LayerKind.PARCELS), poly, k2)
    planning, zones = _planning(idx.layers.get(LayerKind.PLANNING_ZONES), poly, k2)
    area = float(poly.area) / k2
    kinds = (LayerKind.PARCELS, LayerKind.PLANNING_ZONES, LayerKind.MINE_SITES,
             LayerKind.CHANGE_POLYGONS)  # fmt: skip
    return OverlayResult(
        area_m2=area,
        land_classes=classes,
        unmapped_m2=max(area - covered, 0.0),
        conforming_m2=None if planning is None else planning[0],
        not_conforming_m2=None if planning is None else planning[1],
        not_conforming_basic_farmland_m2=None if planning is None else planning[2],
        not_conforming_ecological_m2=None if planning is None else planning[3],
        zone_areas=zones,
        mine_sites=_sites(idx.layers.get(LayerKind.MINE_SITES), poly, k2),
        change_polygons=_changes(idx.layers.get(LayerKind.CHANGE_POLYGONS), poly, k2),
        layer_versions=tuple(LayerRef(k, *idx.versions[k]) for k in kinds if k in idx.versions),
    )


async def overlay_area(
    session: AsyncSession,
    county: Principal | uuid.UUID,
    polygon: dict[str, Any] | BaseGeometry,
    *,
    field: str = "polygon",
    index: GeofenceIndex | None = None,
) -> OverlayResult:
    """Overlay a WGS84 polygon (GeoJSON geometry or Shapely) on the county's current layers.

    ``county`` is the caller (their county is used) or a county id. Raises
    :class:`~geofence.errors.InvalidGeometryError` naming ``field`` for malformed, empty,
    non-polygonal, out-of-range or self-intersecting polygons (never repaired: a walked
    boundary that crosses itself must be walked again) and, with code ``too_many_vertices``,
    for more than :data:`MAX_OVERLAY_VERTICES` vertices; :class:`OutsideCountyError` when
    the polygon lies wholly outside the county (and its 10 km margin) and
    :class:`~geofence.errors.CountyNotFoundError`.

    The polygon is checked before the county's index is read, and the geometry work runs
    on a worker thread.
    """
    geom = await asyncio.to_thread(_parse, polygon, field)
    county_id = county.county_id if isinstance(county, Principal) else county
    idx = await (index or DEFAULT_INDEX).county(session, county_id)
    return await asyncio.to_thread(_overlay, idx, geom, field)
