"""Accuracy-aware location checks: which features does a GPS fix (a circle) touch?

A fix is ``(lon, lat)`` with an accuracy radius in metres. Every feature of the current layer
versions within that radius is returned with its relation (:class:`~geofence.enums.Relation`),
its distance in metres (0 when the fix lies inside) and, for areal features the fix lies in,
the distance to the feature's edge. The answer is PostGIS's ``ST_DWithin`` on geography:
the in-process index computes distances on a county-centred transverse Mercator corrected
for its scale factor, and the rare pairs whose distance is within a few millimetres of the
radius are settled by PostGIS itself.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast, overload

import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy import Float as SqlFloat
from sqlalchemy import and_, bindparam, case, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Float, Integer, Uuid

from geofence.enums import LayerKind, MineStatus, Relation, RosterRole
from geofence.errors import (
    InvalidCoordinatesError,
    OutsideCountyError,
    TooManyPointsError,
    UnknownCrsError,
)
from geofence.gcj02 import gcj02_to_wgs84_array
from geofence.geometry import validate_fix, validate_fixes
from geofence.index import (
    DEFAULT_INDEX,
    AttrColumn,
    CodeColumn,
    CountyIndex,
    GeofenceIndex,
    IdColumn,
    LayerSnapshot,
    attribute_columns,
    feature_attributes,
)
from geofence.layers import DIRTY_KEY, parse_kinds, register_as_of
from geofence.mines import RosterEntry, load_rosters

__all__ = [
    "MAX_BATCH_POINTS",
    "BatchResult",
    "CheckResult",
    "FeatureHit",
    "HitColumns",
    "LayerRef",
    "SiteState",
    "check_location",
    "check_location_in_memory",
    "check_locations",
    "county_covers",
]

MAX_BATCH_POINTS = 10_000
_CRS = ("wgs84", "gcj02", "cgcs2000")
_ABS_TOL_M = 0.005  # in-process vs PostGIS geography distance differ by far less (measured)
_REL_TOL = 1e-5
_TABLES = {
    LayerKind.PARCELS: "geofence_parcels",
    LayerKind.PLANNING_ZONES: "geofence_planning_zones",
    LayerKind.CHANGE_POLYGONS: "geofence_change_polygons",
    LayerKind.MINE_SITES: "geofence_mine_sites",
}
_RELATIONS = (Relation.INSIDE, Relation.BOUNDARY, Relation.NEAR)


@dataclass(frozen=True, slots=True)
class SiteState:
    """Status and five-to-one roster of a mine site at check time."""

    status: MineStatus
    roster: tuple[RosterEntry, ...]
    missing_roles: tuple[RosterRole, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "roster": [m.to_json() for m in self.roster],
            "missing_roles": [r.value for r in self.missing_roles],
            "roster_complete": not self.missing_roles,
        }


# FeatureHit and CheckResult are read-only by convention but not frozen: a frozen dataclass
# costs three times as much to build, and a 100,000-point batch builds hundreds of thousands.
@dataclass(slots=True)
class FeatureHit:
    """One feature within the accuracy circle. ``attributes`` is shared: do not mutate it."""

    kind: LayerKind
    feature_id: uuid.UUID
    layer_version_id: uuid.UUID
    relation: Relation
    distance_m: float
    edge_distance_m: float | None
    land_class: str | None
    attributes: dict[str, Any]
    site: SiteState | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "feature_id": str(self.feature_id),
            "layer_version_id": str(self.layer_version_id),
            "relation": self.relation.value,
            "distance_m": round(self.distance_m, 3),
            "edge_distance_m": None
            if self.edge_distance_m is None
            else round(self.edge_distance_m, 3),
            "land_class": self.land_class,
            "attributes": self.attributes,
        }
        if self.kind is LayerKind.MINE_SITES:
            out["mine_site_id"] = str(self.feature_id)
        if self.site is not None:
            out["site"] = self.site.to_json()
        return out


@dataclass(frozen=True, slots=True)
class LayerRef:
    kind: LayerKind
    version_id: uuid.UUID
    version_no: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "version_id": str(self.version_id),
            "version_no": self.version_no,
        }


@dataclass(slots=True)
class CheckResult:
    """The answer for one fix: WGS84 position used, features (nearest first), versions used.

    ``outside_county`` is only ever true in batch answers (a single check refuses such a fix).
    """

    lon: float
    lat: float
    accuracy_m: float
    crs: str
    input_lon: float
    input_lat: float
    features: tuple[FeatureHit, ...]
    layer_versions: tuple[LayerRef, ...]
    outside_county: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict to store with evidence and findings, enough to reproduce the
        answer later. Closed-mine-site features carry ``mine_site_id``."""
        return {
            "lon": self.lon,
            "lat": self.lat,
            "accuracy_m": self.accuracy_m,
            "crs": self.crs,
            "input_lon": self.input_lon,
            "input_lat": self.input_lat,
            "outside_county": self.outside_county,
            "features": [f.to_json() for f in self.features],
            "layer_versions": [v.to_json() for v in self.layer_versions],
        }

    def of_kind(self, kind: str) -> tuple[FeatureHit, ...]:
        return tuple(f for f in self.features if f.kind == kind)


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(slots=True)
class _Found:
    """Features PostGIS found for a check of a county the index does not hold: one entry
    per hit, in the shape of a :class:`LayerSnapshot`'s per-feature columns."""

    kind: LayerKind
    version_id: uuid.UUID
    ids: list[uuid.UUID]
    land_class: list[str | None]
    attributes: list[dict[str, Any]]


@dataclass(slots=True)
class _Pairs:
    """Hits of one layer: point index, feature index, distance, edge distance, relation."""

    layer: LayerSnapshot | _Found
    point: IntArray
    feature: IntArray
    distance: FloatArray
    edge: FloatArray
    relation: npt.NDArray[np.int8]

    def subset(self, keep: npt.NDArray[np.bool_]) -> _Pairs:
        return _Pairs(self.layer, self.point[keep], self.feature[keep], self.distance[keep],
                      self.edge[keep], self.relation[keep])  # fmt: skip


def _to_wgs84(crs: str, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    key = crs.strip().lower()
    if key not in _CRS:
        msg = f"crs must be one of {', '.join(_CRS)}, got {crs[:20]!r}"
        raise _unknown_crs(msg)
    if key == "gcj02":
        return gcj02_to_wgs84_array(lon, lat)
    return lon, lat  # CGCS2000 and WGS84 agree to a few centimetres


def _unknown_crs(msg: str) -> Exception:
    return UnknownCrsError(msg, field="crs")


def _measure(
    layer: LayerSnapshot, pi: IntArray, fi: IntArray, x: FloatArray, y: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Projected distance from each point to its feature (0 inside) and to the outline.

    Simple outlines are measured by :meth:`Segments.measure`; complex ones (which keep their
    GEOS geometries) by GEOS.
    """
    areal = layer.areal[fi]
    simple = layer.segments.simple[fi]
    dist = np.empty(len(pi))
    edge = np.empty(len(pi))
    rows = np.flatnonzero(simple)
    if len(rows):
        edge[rows], inside = layer.segments.measure(fi[rows], x[pi[rows]], y[pi[rows]], areal[rows])
        dist[rows] = np.where(inside, 0.0, edge[rows])
    rest = np.flatnonzero(~simple)
    if len(rest):
        p = pi[rest]
        dist[rest], edge[rest] = _geos_measure(layer, fi[rest], x[p], y[p], areal[rest])
    return dist, edge


def _geos_measure(
    layer: LayerSnapshot, fi: IntArray, px: FloatArray, py: FloatArray, areal: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    assert layer.geoms is not None and layer.boundaries is not None  # complex features
    pts = shapely.points(px, py)
    dist: FloatArray = shapely.distance(pts, layer.geoms[fi])
    edge = dist.copy()
    at = np.flatnonzero((dist == 0.0) & areal)
    if len(at):
        edge[at] = shapely.distance(pts[at], layer.boundaries[fi[at]])
    return dist, edge


@dataclass(slots=True)
class _Fixes:
    """A run of fixes, projected: positions, scale factors, accuracies, search boxes."""

    x: FloatArray
    y: FloatArray
    scale: FloatArray  # the projection's point scale factor (distances are divided by it)
    acc: FloatArray
    tol: FloatArray  # how far past the accuracy a distance still counts (then PostGIS decides)
    reach: FloatArray  # half the side of the search box: accuracy and tolerance, scaled

    @classmethod
    def of(cls, index: CountyIndex, lon: FloatArray, lat: FloatArray, acc: FloatArray) -> _Fixes:
        x, y = index.projection.project(lon, lat)
        scale = index.projection.scale_at(x)
        tol = _ABS_TOL_M + _REL_TOL * acc
        return cls(x, y, scale, acc, tol, (acc + tol) * scale)


def _candidates(layer: LayerSnapshot, fixes: _Fixes) -> tuple[IntArray, IntArray]:
    """``(fix, feature)`` pairs whose bounding boxes meet the fix's search box."""
    x, y, r = fixes.x, fixes.y, fixes.reach
    if len(x) == 1:  # a single check: the grid's scalar path, when the box suits the grid
        x0, y0, r0 = float(x[0]), float(y[0]), float(r[0])
        one = layer.grid.query_one(x0 - r0, y0 - r0, x0 + r0, y0 + r0)
        if one is not None:
            return np.zeros(len(one), dtype=np.intp), one
    pi, fi, wide = layer.grid.query(x - r, y - r, x + r, y + r)
    if len(wide):  # fixes with a very large accuracy circle: a scan of every box
        xw, yw, rw = x[wide], y[wide], r[wide]
        wi, wf = layer.grid.scan(xw - rw, yw - rw, xw + rw, yw + rw)
        pi = np.concatenate([pi, wide[wi]])
        fi = np.concatenate([fi, wf])
    return pi, fi


def _match_layer(layer: LayerSnapshot, fixes: _Fixes) -> tuple[_Pairs, IntArray]:
    """Vectorised matching of fixes against one layer; returns pairs and borderline rows.

    Pairs come sorted by point, then distance.
    """
    pi, fi = _candidates(layer, fixes)
    if not len(pi):  # nothing near (most layers, for most fixes)
        none = np.empty(0, dtype=np.float64)
        return _Pairs(layer, pi, fi, none, none, np.empty(0, dtype=np.int8)), pi
    dist, edge = _measure(layer, pi, fi, fixes.x, fixes.y)
    s = fixes.scale[pi]
    dist /= s
    edge /= s
    near = np.flatnonzero(dist <= fixes.acc[pi] + fixes.tol[pi])  # the pairs kept
    # by point, then distance, then feature: one order whatever order the candidates came in
    order = near[np.lexsort((fi[near], dist[near], pi[near]))]
    pi, fi, dist, edge = pi[order], fi[order], dist[order], edge[order]
    areal = layer.areal[fi]
    inside = (dist == 0.0) & areal
    edge[~inside] = np.nan
    a, tol = fixes.acc[pi], fixes.tol[pi]
    border = ((dist > 0.0) & (np.abs(dist - a) <= tol)) | (inside & (edge <= tol) & (a <= tol))
    relation = _relations(dist, edge, areal, inside, a, tol)
    pairs = _Pairs(layer, pi, fi, dist, edge, relation)
    return pairs, np.flatnonzero(border | (dist > a))


def _relations(  # noqa: PLR0917 - parallel arrays
    dist: FloatArray, edge: FloatArray, areal: npt.NDArray[np.bool_],
    inside: npt.NDArray[np.bool_], a: FloatArray, tol: FloatArray,
) -> npt.NDArray[np.int8]:  # fmt: skip
    """Index into :data:`_RELATIONS` of each pair (``edge`` NaN where not inside)."""
    # inside: the whole circle is in the feature; a fix on the edge (within the numerical
    # tolerance) is on the boundary whatever side the arithmetic put it
    on_edge = areal & (dist <= tol) & ~(inside & (edge > np.maximum(a, tol)))
    relation = np.where(inside & ~on_edge, np.where(edge > a, 0, 1), np.where(on_edge, 1, 2))
    return relation.astype(np.int8)


async def _settle_borderline(
    session: AsyncSession, pairs: _Pairs, rows: IntArray, fixes: FloatArray
) -> npt.NDArray[np.bool_]:
    """Ask PostGIS about the pairs whose distance is within tolerance of the radius."""
    keep = np.ones(len(pairs.point), dtype=bool)
    if not len(rows):
        return keep
    keep[rows] = False
    table = _TABLES[pairs.layer.kind]
    # the table name comes from a fixed map, never from input
    sql = (
        "SELECT t.n FROM unnest(:ids, :lons, :lats, :accs, :ns) AS t(id, lon, lat, acc, n) "  # noqa: S608
        f"JOIN {table} f ON f.id = t.id "
        "WHERE ST_DWithin(geography(f.geom), "
        "geography(ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)), t.acc)"
    )
    stmt = text(sql).bindparams(
        bindparam("ids", type_=ARRAY(Uuid())),
        bindparam("lons", type_=ARRAY(Float())),
        bindparam("lats", type_=ARRAY(Float())),
        bindparam("accs", type_=ARRAY(Float())),
        bindparam("ns", type_=ARRAY(Integer())),
    )
    p = pairs.point[rows]
    lon, lat, acc = fixes[0], fixes[1], fixes[2]
    result = await session.execute(
        stmt,
        {
            "ids": [pairs.layer.ids[i] for i in pairs.feature[rows]],
            "lons": lon[p].tolist(),
            "lats": lat[p].tolist(),
            "accs": acc[p].tolist(),
            "ns": rows.tolist(),
        },
    )
    for (n,) in result:
        keep[n] = True
    return keep


#: Batches of :data:`_SPLIT_FROM` fixes or more are matched in chunks on worker threads at once
#: (Shapely and NumPy release the GIL in their vectorised operations): one chunk per core, or
#: one per :data:`_CHUNK_POINTS` fixes up to two per core. 10,000 fixes on two cores: 38 ms in
#: one chunk, 28 ms in two (four chunks of 2,500: 35 ms).
_SPLIT_FROM = 2_048
_CHUNK_POINTS = 16_384
_THREADS = max(1, min(4, os.cpu_count() or 1))
#: Up to this many fixes are matched on the event loop (a single check takes well under a
#: millisecond, less than the hop to a thread); larger batches go to a worker thread.
_INLINE_POINTS = 64


def _match_chunk(
    index: CountyIndex, fixes: FloatArray, layers: list[LayerSnapshot]
) -> tuple[npt.NDArray[np.bool_], list[tuple[_Pairs, IntArray]]]:
    """Match a run of fixes (rows lon, lat, accuracy) against ``layers``: whether each fix
    lies far outside the county, and per layer the pairs and borderline rows."""
    projected = _Fixes.of(index, fixes[0], fixes[1], fixes[2])
    outside = ~shapely.contains_xy(index.area.context, projected.x, projected.y)
    return outside, [_match_layer(layer, projected) for layer in layers]


def _concat(layer: LayerSnapshot, parts: list[_Pairs], offsets: list[int]) -> _Pairs:
    return _Pairs(
        layer,
        np.concatenate([p.point + o for p, o in zip(parts, offsets, strict=True)]),
        np.concatenate([p.feature for p in parts]),
        np.concatenate([p.distance for p in parts]),
        np.concatenate([p.edge for p in parts]),
        np.concatenate([p.relation for p in parts]),
    )


async def _run(
    session: AsyncSession, index: CountyIndex, fixes: FloatArray, kinds: tuple[LayerKind, ...]
) -> tuple[list[_Pairs], npt.NDArray[np.bool_]]:
    """Match fixes (rows lon, lat, accuracy) against the wanted layers of the county.

    Pairs come sorted by point, then distance.
    """
    layers = [index.layers[k] for k in kinds if k in index.layers and len(index.layers[k])]
    n = fixes.shape[1]
    if n <= _INLINE_POINTS:
        outside, matched = _match_chunk(index, fixes, layers)
    elif n < _SPLIT_FROM:
        outside, matched = await asyncio.to_thread(_match_chunk, index, fixes, layers)
    else:
        bounds = np.linspace(0, n, max(2, min(_THREADS * 2, n // _CHUNK_POINTS)) + 1)
        spans = list(itertools.pairwise(bounds.astype(int).tolist()))
        chunks = await asyncio.gather(
            *(asyncio.to_thread(_match_chunk, index, fixes[:, a:b], layers) for a, b in spans)
        )
        starts = [a for a, _b in spans]
        outside = np.concatenate([o for o, _ in chunks])
        matched = []
        for k, layer in enumerate(layers):
            parts = [m[k] for _, m in chunks]
            pair_counts = np.cumsum([0] + [len(p.point) for p, _ in parts])
            rows = [b + c for (_, b), c in zip(parts, pair_counts[:-1].tolist(), strict=True)]
            matched.append((_concat(layer, [p for p, _ in parts], starts),
                            np.concatenate(rows).astype(np.intp)))  # fmt: skip
    out: list[_Pairs] = []
    for pairs, borderline in matched:
        keep = await _settle_borderline(session, pairs, borderline, fixes)
        keep &= ~outside[pairs.point]
        out.append(pairs if keep.all() else pairs.subset(keep))
    return out, outside


async def _postgis_run(
    session: AsyncSession, county: CountyIndex, fixes: FloatArray, kinds: tuple[LayerKind, ...]
) -> tuple[list[_Pairs], npt.NDArray[np.bool_]]:
    """:func:`_run` for a county the index does not hold: PostGIS finds the features within
    each fix's accuracy (``ST_DWithin`` on geography, as borderline pairs are settled) and
    measures distances on the spheroid; relations follow the same rules."""
    projected = _Fixes.of(county, fixes[0], fixes[1], fixes[2])
    outside = ~shapely.contains_xy(county.area.context, projected.x, projected.y)
    rows = np.flatnonzero(~outside)
    out = []
    for kind in kinds:
        version = county.versions.get(kind)
        if version is not None:
            out.append(await _postgis_layer(session, county.county_id, kind, version, fixes, rows))
    return out, outside


async def _postgis_layer(  # noqa: PLR0917 - internal
    session: AsyncSession, county_id: uuid.UUID, kind: LayerKind,
    version: tuple[uuid.UUID, int], fixes: FloatArray, rows: IntArray,
) -> _Pairs:  # fmt: skip
    model, columns = attribute_columns(kind)
    if kind is LayerKind.MINE_SITES:  # the register as of the version, as the index loads it
        ident, where = model.site_id, register_as_of(county_id, version[1])
    else:
        ident, where = model.id, model.layer_version_id == version[0]
    pts = (
        func.unnest(
            literal(fixes[0, rows].tolist(), ARRAY(SqlFloat())),
            literal(fixes[1, rows].tolist(), ARRAY(SqlFloat())),
            literal(fixes[2, rows].tolist(), ARRAY(SqlFloat())),
            literal(rows.tolist(), ARRAY(Integer())),
        )
        .table_valued("lon", "lat", "acc", "n")
        .render_derived()
    )
    pt = func.ST_SetSRID(func.ST_MakePoint(pts.c.lon, pts.c.lat), 4326)
    geog, gpt = func.geography(model.geom), func.geography(pt)
    areal = func.GeometryType(model.geom).in_(["POLYGON", "MULTIPOLYGON"])
    inside = and_(areal, func.ST_Intersects(model.geom, pt))
    edge = case((inside, func.ST_Distance(func.geography(func.ST_Boundary(model.geom)), gpt)))
    stmt = (
        select(pts.c.n, ident, func.ST_Distance(geog, gpt), edge, areal, *columns)
        .select_from(pts)
        .join(model, and_(where, func.ST_DWithin(geog, gpt, pts.c.acc)))
    )
    found = (await session.execute(stmt)).all()
    point = np.array([r[0] for r in found], dtype=np.intp)
    dist = np.array([r[2] for r in found], dtype=np.float64)
    edge_m = np.array([np.nan if r[3] is None else r[3] for r in found], dtype=np.float64)
    is_areal = np.array([bool(r[4]) for r in found], dtype=bool)
    is_inside = ~np.isnan(edge_m)
    dist[is_inside] = 0.0
    order = np.lexsort((dist, point))
    point, dist, edge_m = point[order], dist[order], edge_m[order]
    is_areal, is_inside = is_areal[order], is_inside[order]
    table = _Found(kind, version[0], [], [], [])
    for k in order.tolist():
        r = found[k]
        land, attrs = feature_attributes(kind, (r[1], None, *r[5:]))
        table.ids.append(r[1])
        table.land_class.append(land)
        table.attributes.append(attrs)
    acc = fixes[2, point]
    tol = _ABS_TOL_M + _REL_TOL * acc
    relation = _relations(dist, edge_m, is_areal, is_inside, acc, tol)
    return _Pairs(table, point, np.arange(len(point), dtype=np.intp), dist, edge_m, relation)


async def _site_states(
    session: AsyncSession, county_id: uuid.UUID, all_pairs: list[_Pairs]
) -> dict[uuid.UUID, SiteState]:
    mine = [p for p in all_pairs if p.layer.kind is LayerKind.MINE_SITES and len(p.point)]
    if not mine:
        return {}
    layer = mine[0].layer
    site_ids = sorted({layer.ids[i] for i in mine[0].feature})
    rosters = await load_rosters(session, county_id, site_ids)
    status = {layer.ids[i]: layer.attributes[i]["status"] for i in set(mine[0].feature.tolist())}
    out: dict[uuid.UUID, SiteState] = {}
    for sid in site_ids:
        roster = rosters.get(sid, ())
        held = {m.role for m in roster}
        missing = tuple(r for r in RosterRole if r not in held)
        out[sid] = SiteState(MineStatus(status[sid]), roster, missing)
    return out


@dataclass(slots=True)
class _SortedPairs:
    """One layer's hits sorted by point, then distance; ``starts[i]:starts[i+1]`` is point i."""

    layer: LayerSnapshot | _Found
    starts: IntArray
    feature: IntArray
    distance: FloatArray
    edge: FloatArray
    relation: npt.NDArray[np.int8]

    @classmethod
    def of(cls, pairs: _Pairs, n: int) -> _SortedPairs:
        """``pairs`` must already be sorted by point, then distance (as :func:`_run` gives)."""
        starts = np.searchsorted(pairs.point, np.arange(n + 1)).astype(np.intp)
        return cls(pairs.layer, starts, pairs.feature, pairs.distance, pairs.edge,
                   pairs.relation)  # fmt: skip

    def hits(self, i: int, sites: dict[uuid.UUID, SiteState]) -> list[FeatureHit]:
        layer = self.layer
        lo, hi = int(self.starts[i]), int(self.starts[i + 1])
        out = []
        for k in range(lo, hi):
            f = int(self.feature[k])
            fid = layer.ids[f]
            e = float(self.edge[k])
            out.append(
                FeatureHit(
                    layer.kind, fid, layer.version_id, _RELATIONS[int(self.relation[k])],
                    float(self.distance[k]), None if math.isnan(e) else e,
                    layer.land_class[f], layer.attributes[f], sites.get(fid),
                )
            )  # fmt: skip
        return out


def _take(column: IdColumn | CodeColumn | AttrColumn | list[Any], feature: IntArray) -> list[Any]:
    if isinstance(column, list):
        return [column[f] for f in feature.tolist()]
    return column.take(feature)


def _take_text(column: IdColumn | list[uuid.UUID], feature: IntArray) -> list[str]:
    if isinstance(column, list):
        return [str(column[f]) for f in feature.tolist()]
    return column.take_text(feature)


def _millimetres(values: FloatArray) -> list[float | None]:
    """``round(v, 3)`` of each value (as :meth:`FeatureHit.to_json` rounds), ``None`` for NaN,
    in array operations. ``rint(v * 1000) / 1000`` is that same float unless ``v * 1000`` lies
    within a hair of a half (the product's own rounding could then pick the other side):
    those few are rounded by ``round`` itself."""
    scaled = values * 1000.0
    out: list[float | None] = (np.rint(scaled) / 1000.0).tolist()
    halfway = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for k in np.flatnonzero(halfway).tolist():
        out[k] = round(float(values[k]), 3)
    for k in np.flatnonzero(np.isnan(values)).tolist():
        out[k] = None
    return out


@dataclass(frozen=True, slots=True)
class HitColumns:
    """One layer's hits of a batch as parallel lists, for encoders that build answers in bulk.

    Hits of point ``i`` are ``starts[i]:starts[i + 1]``, nearest first; distances are rounded
    to the millimetre as :meth:`FeatureHit.to_json` rounds them; ``edge_m`` is ``None`` where
    the feature has no edge distance. ``land_class``, ``attributes`` and ``site`` are per hit
    (shared objects: do not mutate).
    """

    kind: LayerKind
    version_id: uuid.UUID
    starts: list[int]
    ids: list[str]  # canonical text, str(UUID): what a JSON answer carries
    relation: list[Relation]
    distance_m: list[float]
    edge_m: list[float | None]
    land_class: list[str | None]
    attributes: list[dict[str, Any]]
    site: list[SiteState | None]


class BatchResult(Sequence[CheckResult]):
    """The answers of :func:`check_locations`, in input order.

    Matching is done in full when the batch is checked; the per-point :class:`CheckResult`
    objects are built when read (a 100,000-point track would otherwise spend most of its time
    building Python objects nobody looks at). :meth:`feature_pairs` gives every
    ``(point index, feature id)`` at once, for bulk consumers.
    """

    def __init__(  # noqa: PLR0917 - built in one place, by _check
        self,
        fixes: FloatArray,
        inputs: tuple[FloatArray, FloatArray],
        crs: str,
        outside: npt.NDArray[np.bool_],
        layers: list[_SortedPairs],
        sites: dict[uuid.UUID, SiteState],
        refs: tuple[LayerRef, ...],
    ) -> None:
        self._fixes = fixes
        self._inputs = inputs
        self._crs = crs
        self._outside = outside
        self._layers = layers
        self._sites = sites
        self.layer_versions = refs

    def __len__(self) -> int:
        return int(self._fixes.shape[1])

    @overload
    def __getitem__(self, index: int) -> CheckResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[CheckResult]: ...
    def __getitem__(self, index: int | slice) -> CheckResult | list[CheckResult]:
        if isinstance(index, slice):
            return [self._one(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(index)
        return self._one(index % n)

    def _one(self, i: int) -> CheckResult:
        hits: list[FeatureHit] = []
        for layer in self._layers:
            hits.extend(layer.hits(i, self._sites))
        lon, lat, acc = self._fixes[:, i].tolist()
        in_lon, in_lat = float(self._inputs[0][i]), float(self._inputs[1][i])
        return CheckResult(lon, lat, acc, self._crs, in_lon, in_lat, tuple(hits),
                           self.layer_versions, bool(self._outside[i]))  # fmt: skip

    def feature_pairs(self) -> tuple[IntArray, list[uuid.UUID]]:
        """Every hit as parallel ``(point indices, feature ids)``, layer by layer."""
        points: list[IntArray] = []
        ids: list[uuid.UUID] = []
        for layer in self._layers:
            counts = np.diff(layer.starts)
            points.append(np.repeat(np.arange(len(counts), dtype=np.intp), counts))
            ids.extend(_take(layer.layer.ids, layer.feature))
        return (np.concatenate(points) if points else np.array([], np.intp)), ids

    def positions(self) -> tuple[list[float], list[float], list[bool]]:
        """Every point's WGS84 ``lon``, ``lat`` and ``outside_county``, as lists."""
        lon, lat = self._fixes[0].tolist(), self._fixes[1].tolist()
        return lon, lat, self._outside.tolist()

    def hit_columns(self) -> list[HitColumns]:
        """Every hit, layer by layer, as :class:`HitColumns` (no per-point objects built)."""
        out = []
        sites = {str(k): v for k, v in self._sites.items()}  # by the text the ids come as
        for pairs in self._layers:
            layer = pairs.layer
            edge = pairs.edge
            ids = _take_text(layer.ids, pairs.feature)
            distance = _millimetres(pairs.distance)
            out.append(
                HitColumns(
                    kind=layer.kind,
                    version_id=layer.version_id,
                    starts=pairs.starts.tolist(),
                    ids=ids,
                    relation=[_RELATIONS[r] for r in pairs.relation.tolist()],
                    distance_m=cast("list[float]", distance),
                    edge_m=_millimetres(edge),
                    land_class=_take(layer.land_class, pairs.feature),
                    attributes=_take(layer.attributes, pairs.feature),
                    site=[sites.get(i) for i in ids] if sites else [None] * len(ids),
                )
            )
        return out

    @property
    def hit_count(self) -> int:
        return sum(int(layer.starts[-1]) for layer in self._layers)


def _refs(index: CountyIndex, kinds: tuple[LayerKind, ...]) -> tuple[LayerRef, ...]:
    return tuple(LayerRef(k, *index.versions[k]) for k in kinds if k in index.versions)


#: Up to this many edges among a fix's candidates are measured in plain floats
#: (:meth:`Segments.measure_one`); more, by the vectorised :meth:`Segments.measure`.
_SCALAR_EDGES = 64


def check_location_in_memory(
    county_id: uuid.UUID,
    lon: float,
    lat: float,
    accuracy_m: float,
    *,
    crs: str = "wgs84",
    kinds: Sequence[str] | None = None,
    index: GeofenceIndex = DEFAULT_INDEX,
) -> CheckResult | None:
    """:func:`check_location`'s answer when this process's index alone gives it, else
    ``None`` (then :func:`check_location` is the way; it tries this first itself).

    Nothing is read from the database: ``None`` when the county is not held or is due for a
    freshness check, when a candidate keeps its GEOS geometry or the search box is one the
    grid leaves to a scan, when a pair lies within the tolerance of the radius (PostGIS
    settles those) and when a mine site is hit (its roster is read). Raises what
    :func:`check_location` raises for the fix itself (coordinates, CRS, kinds, far outside
    the county). The answer is the same, to the last bit, as the vectorised path's: same
    projection, same arithmetic, same order of hits.
    """
    validate_fix(lon, lat, accuracy_m)
    wanted = parse_kinds(kinds)
    county = index.held_fresh(county_id)
    if county is None:
        return None
    in_lon, in_lat, acc = float(lon), float(lat), float(accuracy_m)
    w_lon, w_lat = in_lon, in_lat
    if crs.strip().lower() != "wgs84":  # converted (GCJ-02), or refused, as _Fixes' way does
        wgs = _to_wgs84(crs, np.array([in_lon]), np.array([in_lat]))
        w_lon, w_lat = float(wgs[0][0]), float(wgs[1][0])
    # _Fixes.of in plain floats (the same numbers)
    x, y, scale = county.projection.project_one(w_lon, w_lat)
    tol = _ABS_TOL_M + _REL_TOL * acc
    reach = (acc + tol) * scale
    if not shapely.contains_xy(county.area.context, x, y):
        msg = "the position lies far outside the county (wrong coordinates or coordinate system?)"
        raise OutsideCountyError(msg, field="position")
    hits: list[FeatureHit] = []
    for kind in wanted:
        layer = county.layers.get(kind)
        if layer is None or not len(layer):
            continue
        found = _hits_in_memory(layer, x, y, scale, acc, tol, reach)
        if found is None:
            return None
        hits.extend(found)
    index.count_check(1)
    return CheckResult(w_lon, w_lat, acc, crs.strip().lower(), in_lon, in_lat, tuple(hits),
                       _refs(county, wanted))  # fmt: skip


def _hits_in_memory(  # noqa: PLR0917 - one fix, projected
    layer: LayerSnapshot,
    x: float,
    y: float,
    scale: float,
    acc: float,
    tol: float,
    reach: float,
) -> list[FeatureHit] | None:
    """One layer's hits of one fix as :func:`_match_layer` finds them, or ``None`` when the
    database or GEOS is needed (see :func:`check_location_in_memory`)."""
    candidates = layer.grid.query_one_list(x - reach, y - reach, x + reach, y + reach)
    if candidates is None:
        return None
    if not candidates:
        return []
    measured = _measure_in_memory(layer, candidates, x, y)
    if measured is None:
        return None
    kept: list[tuple[float, int, float, bool]] = []
    for f, edge, inside, is_areal in measured:
        dist = 0.0 if inside and is_areal else edge
        dist /= scale
        if dist <= acc + tol:
            kept.append((dist, f, edge / scale, is_areal))
    if layer.kind is LayerKind.MINE_SITES and kept:
        return None  # the roster is read from the database
    kept.sort()
    out = []
    for dist, f, edge, is_areal in kept:
        inside = dist == 0.0 and is_areal
        relation = _relation_in_memory(dist, edge, inside, is_areal, acc, tol)
        if relation is None:
            return None
        out.append(
            FeatureHit(
                layer.kind, layer.ids[f], layer.version_id, relation, dist,
                edge if inside else None, layer.land_class[f], layer.attributes[f], None,
            )
        )  # fmt: skip
    return out


def _measure_in_memory(
    layer: LayerSnapshot, candidates: list[int], x: float, y: float
) -> list[tuple[int, float, bool, bool]] | None:
    """``(feature, edge distance, inside by the rings, areal)`` of each candidate, projected
    (as :meth:`Segments.measure` gives them), or ``None`` when one keeps its GEOS geometry."""
    segments = layer.segments
    simple, count, areal_of = segments.simple, segments.count, layer.areal
    if not all(simple[f] for f in candidates):
        return None
    areal = [bool(areal_of[f]) for f in candidates]
    if sum(int(count[f]) for f in candidates) <= _SCALAR_EDGES:
        measured = [segments.measure_one(f, x, y) for f in candidates]
    else:
        at = np.array(candidates, dtype=np.intp)
        n = len(at)
        edges, insides = segments.measure(at, np.full(n, x), np.full(n, y), areal_of[at])
        measured = list(zip(edges.tolist(), insides.tolist(), strict=True))
    return [(f, edge, inside, a) for f, (edge, inside), a in zip(candidates, measured, areal,
                                                                 strict=True)]  # fmt: skip


def _relation_in_memory(  # noqa: PLR0917 - one pair, as _relations takes arrays
    dist: float, edge: float, inside: bool, areal: bool, acc: float, tol: float
) -> Relation | None:
    """:func:`_relations` of one kept pair, or ``None`` for a pair PostGIS settles (within
    the tolerance of the radius) or one only kept by the tolerance (``dist > acc``)."""
    if (
        dist > acc
        or (dist > 0.0 and abs(dist - acc) <= tol)
        or (inside and edge <= tol and acc <= tol)
    ):
        return None
    if inside:  # at distance 0: inside unless the circle reaches the edge
        return Relation.INSIDE if edge > max(acc, tol) else Relation.BOUNDARY
    return Relation.BOUNDARY if areal and dist <= tol else Relation.NEAR


async def check_location(
    session: AsyncSession,
    county_id: uuid.UUID,
    lon: float,
    lat: float,
    accuracy_m: float,
    *,
    crs: str = "wgs84",
    kinds: Sequence[str] | None = None,
) -> CheckResult:
    """Check one fix against the county's current layers (all kinds, or ``kinds``).

    ``crs`` is ``wgs84`` (also for CGCS2000 GNSS), ``cgcs2000`` or ``gcj02`` (converted).
    Raises :class:`InvalidCoordinatesError` naming ``lon``/``lat``/``accuracy_m`` (range,
    NaN, infinity; accuracy 0-10 000 m), :class:`UnknownCrsError` (``crs``),
    :class:`UnknownLayerKindError` (``kinds``), :class:`OutsideCountyError` (``position``)
    when the fix lies more than 10 km outside the county, :class:`CountyNotFoundError`.
    """
    # answered from memory when it can be (a session that wrote the county's layers reads
    # them from the database: the index does not hold what is not committed)
    if county_id not in session.info.get(DIRTY_KEY, ()):
        known = check_location_in_memory(
            county_id, lon, lat, accuracy_m, crs=crs, kinds=kinds, index=DEFAULT_INDEX
        )
        if known is not None:
            return known
    validate_fix(lon, lat, accuracy_m)
    results = await _check(
        session,
        county_id,
        np.array([lon], dtype=np.float64),
        np.array([lat], dtype=np.float64),
        np.array([accuracy_m], dtype=np.float64),
        crs=crs,
        kinds=kinds,
        index=DEFAULT_INDEX,
    )
    if results[0].outside_county:
        msg = "the position lies far outside the county (wrong coordinates or coordinate system?)"
        raise OutsideCountyError(msg, field="position")
    return results[0]


async def county_covers(
    session: AsyncSession,
    county_id: uuid.UUID,
    lon: float,
    lat: float,
    *,
    index: GeofenceIndex = DEFAULT_INDEX,
) -> bool:
    """Whether the county's boundary covers the point (lon, lat WGS84): PostGIS
    ``ST_Covers(counties.boundary, point)`` on the geometry, answered from the index's copy
    of the boundary (:meth:`GeofenceIndex.covers`; read from the database once per county).
    Raises :class:`CountyNotFoundError`."""
    return await index.covers(session, county_id, lon, lat)


async def check_locations(
    session: AsyncSession,
    county_id: uuid.UUID,
    points: Sequence[tuple[float, float, float]] | npt.NDArray[np.float64],
    *,
    crs: str = "wgs84",
    kinds: Sequence[str] | None = None,
    max_points: int = MAX_BATCH_POINTS,
    index: GeofenceIndex | None = None,
) -> BatchResult:
    """Check many fixes ``(lon, lat, accuracy_m)`` (a track) in one go; answers in order.

    Same rules as :func:`check_location`, except that a fix far outside the county gets an
    empty answer with ``outside_county=True`` instead of failing the whole batch. Errors
    name ``points[i].field``; more than ``max_points`` points raise
    :class:`TooManyPointsError`.
    """
    arr = np.asarray(points, dtype=np.float64)
    if arr.size == 0:
        empty = np.empty(0, dtype=np.float64)
        return BatchResult(np.empty((3, 0)), (empty, empty), crs.strip().lower(),
                           np.zeros(0, dtype=bool), [], {}, ())  # fmt: skip
    if arr.ndim != 2 or arr.shape[1] != 3:
        msg = "points must be (lon, lat, accuracy_m) triples"
        raise InvalidCoordinatesError(msg, field="points")
    if len(arr) > max_points:
        msg = f"at most {max_points} points per batch, got {len(arr)}"
        raise TooManyPointsError(msg, field="points", limit=max_points)
    lon, lat, acc = arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()
    validate_fixes(lon, lat, acc)
    return await _check(
        session, county_id, lon, lat, acc, crs=crs, kinds=kinds, index=index or DEFAULT_INDEX
    )


async def _check(
    session: AsyncSession,
    county_id: uuid.UUID,
    in_lon: FloatArray,
    in_lat: FloatArray,
    acc: FloatArray,
    *,
    crs: str,
    kinds: Sequence[str] | None,
    index: GeofenceIndex,
) -> BatchResult:
    wanted = parse_kinds(kinds)
    lon, lat = _to_wgs84(crs, in_lon, in_lat)
    county = await index.county(session, county_id, wait=False)
    index.count_check(len(lon))
    fixes = np.vstack([lon, lat, acc])
    if county.resident:
        all_pairs, outside = await _run(session, county, fixes, wanted)
    else:  # not held by this process (memory budget) or being loaded just now
        index.fallbacks += 1
        all_pairs, outside = await _postgis_run(session, county, fixes, wanted)
    sites = await _site_states(session, county_id, all_pairs)
    layers = [_SortedPairs.of(p, len(lon)) for p in all_pairs]
    return BatchResult(fixes, (in_lon, in_lat), crs.strip().lower(), outside, layers, sites,
                       _refs(county, wanted))  # fmt: skip
