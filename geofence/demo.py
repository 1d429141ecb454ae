"""Synthetic but plausible reference layers for a demo county.

Parcels are the cells of a jittered grid in the county's metric projection. A river winds
across the county; farmland clusters in its valley (most of it permanent basic farmland),
construction sits around the towns, hills far from the river are forest and grassland with
scattered unused land. Planning zones follow that picture (urban development and village
construction boundaries around settlements, basic-farmland protection blocks, an ecological
red line on the hills). Closed mines lie in the hills, removed dredging boats on the river,
and a quarterly batch of change polygons sits where towns push into farmland.

Deterministic for a seed: the same county and seed always give the same map (feature ids
aside). Rows go in through the bulk insert the importer uses.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import shapely.affinity
from shapely.geometry.base import BaseGeometry
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.crs import LocalProjection, local_projection
from geofence.enums import (
    ClosureMethod,
    DutyPeriod,
    LandClass,
    LayerKind,
    MineStatus,
    RosterRole,
    SiteKind,
    ZoneKind,
)
from geofence.layers import new_layer_version
from geofence.mines import write_sites
from geofence.models import LayerVersion, RosterMember
from geofence.store import insert_features
from infra.ids import uuid7

__all__ = ["DemoLayers", "seed_demo_layers"]

FloatArray = npt.NDArray[np.float64]

#: (land class, GB/T 21010 code, name, basic-farmland flag)
_CLASSES: dict[str, tuple[LandClass, str, str, bool]] = {
    "paddy_basic": (LandClass.PERMANENT_BASIC_FARMLAND, "0101", "水田", True),
    "dry_basic": (LandClass.PERMANENT_BASIC_FARMLAND, "0103", "旱地", True),
    "paddy": (LandClass.CULTIVATED, "0101", "水田", False),
    "dry": (LandClass.CULTIVATED, "0103", "旱地", False),
    "orchard": (LandClass.OTHER_FARMLAND, "0201", "果园", False),
    "forest": (LandClass.OTHER_FARMLAND, "0301", "乔木林地", False),
    "grass": (LandClass.OTHER_FARMLAND, "0404", "其他草地", False),
    "homestead": (LandClass.CONSTRUCTION_APPROVED, "0702", "农村宅基地", False),
    "industry": (LandClass.CONSTRUCTION_APPROVED, "0601", "工业用地", False),
    "commerce": (LandClass.CONSTRUCTION_APPROVED, "05H1", "商业服务业设施用地", False),
    "unapproved": (LandClass.CONSTRUCTION_UNAPPROVED, "0702", "农村宅基地", False),
    "bare": (LandClass.UNUSED, "1206", "裸土地", False),
    "idle": (LandClass.UNUSED, "1201", "空闲地", False),
    "water": (LandClass.OTHER, "1101", "河流水面", False),
}
_MINERALS = ("石灰石", "砂石", "金", "煤", "铁矿石", "高岭土", "萤石")
_SIGN = "此处为已关闭非法采矿点，严禁擅自开采。举报电话12336"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("建国", "志强", "海燕", "秀英", "文华", "国庆", "红梅", "德明", "小龙", "春生")


@dataclass(frozen=True, slots=True)
class DemoLayers:
    """What was seeded: counts per layer and the parcel land-class mix (share of area)."""

    parcels: int
    planning_zones: int
    mine_sites: int
    dredging_boats: int
    incomplete_rosters: int
    change_polygons: int
    class_mix: dict[str, float] = field(default_factory=dict)
    versions: dict[str, uuid.UUID] = field(default_factory=dict)


@dataclass(slots=True)
class _Map:
    """The county in metres: outline, river, towns, and the generated parcels."""

    projection: LocalProjection
    outline: BaseGeometry
    river: shapely.LineString
    towns: FloatArray  # (n, 2)
    villages: FloatArray
    cells: npt.NDArray[np.object_] = field(default_factory=lambda: np.array([], dtype=object))
    kinds: list[str] = field(default_factory=list)


def _river(outline: BaseGeometry, rnd: random.Random) -> shapely.LineString:
    """A winding river from west to east across the county, slightly beyond its outline."""
    x0, y0, x1, y1 = outline.bounds
    mid, amp = (y0 + y1) / 2, (y1 - y0) * 0.18
    phase, waves = rnd.uniform(0, math.tau), rnd.uniform(1.2, 1.8)
    xs = np.linspace(x0 - 2000, x1 + 2000, 240)
    t = (xs - x0) / (x1 - x0)
    ys = mid + amp * np.sin(t * math.tau * waves + phase) + amp * 0.3 * np.sin(t * 17 + phase)
    return shapely.LineString(np.column_stack([xs, ys]))


def _points_in(
    outline: BaseGeometry, n: int, rnd: random.Random, near: Any = None, *,
    spread: float = 0.0, min_gap: float = 0.0,
) -> FloatArray:  # fmt: skip
    """``n`` points inside the outline, optionally within ``spread`` metres of ``near``."""
    x0, y0, x1, y1 = outline.bounds
    out: list[tuple[float, float]] = []
    for _ in range(n * 400):
        if len(out) == n:
            break
        if near is not None:
            base = near.interpolate(rnd.uniform(0, near.length))
            x = base.x + rnd.gauss(0, spread)
            y = base.y + rnd.gauss(0, spread)
        else:
            x, y = rnd.uniform(x0, x1), rnd.uniform(y0, y1)
        if not outline.contains(shapely.Point(x, y)):
            continue
        if min_gap and any(math.hypot(x - a, y - b) < min_gap for a, b in out):
            continue
        out.append((x, y))
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def _grid(outline: BaseGeometry, side: float, rng: np.random.Generator) -> npt.NDArray[np.object_]:
    """Jittered-grid cells (shared jittered corners, so they tile) clipped to the outline."""
    x0, y0, x1, y1 = outline.bounds
    nx, ny = int((x1 - x0) / side) + 2, int((y1 - y0) / side) + 2
    gx, gy = np.meshgrid(x0 + np.arange(nx + 1) * side, y0 + np.arange(ny + 1) * side)
    gx = gx + rng.uniform(-0.28, 0.28, gx.shape) * side
    gy = gy + rng.uniform(-0.28, 0.28, gy.shape) * side
    rings = np.stack(
        [
            np.stack([gx[:-1, :-1], gy[:-1, :-1]], -1),
            np.stack([gx[:-1, 1:], gy[:-1, 1:]], -1),
            np.stack([gx[1:, 1:], gy[1:, 1:]], -1),
            np.stack([gx[1:, :-1], gy[1:, :-1]], -1),
            np.stack([gx[:-1, :-1], gy[:-1, :-1]], -1),
        ],
        axis=2,
    ).reshape(-1, 5, 2)
    cells = shapely.polygons(rings)
    shapely.prepare(outline)
    inside = shapely.contains(outline, cells)
    edge = ~inside & shapely.intersects(outline, cells)
    clipped = shapely.intersection(cells[edge], outline)
    clipped = clipped[
        (shapely.get_type_id(clipped) == 3) & (shapely.area(clipped) > side * side * 0.1)
    ]
    return np.concatenate([cells[inside], clipped])


def _classify(m: _Map, rnd: random.Random, rng: np.random.Generator) -> list[str]:
    centroids = shapely.centroid(m.cells)
    cx, cy = shapely.get_x(centroids), shapely.get_y(centroids)
    d_river = shapely.distance(m.river, centroids)
    d_town = np.min(np.hypot(cx[:, None] - m.towns[:, 0], cy[:, None] - m.towns[:, 1]), axis=1)
    d_village = np.min(
        np.hypot(cx[:, None] - m.villages[:, 0], cy[:, None] - m.villages[:, 1]), axis=1
    )
    u = rng.random(len(cx))
    kinds: list[str] = []
    for i in range(len(cx)):
        r, t, v, x = d_river[i], d_town[i], d_village[i], u[i]
        if r < 60:
            kinds.append("water")
        elif t < 1600:
            kinds.append(("commerce", "industry", "homestead", "unapproved")[int(x * 3.3) % 4]
                         if x < 0.8 else ("dry" if x < 0.9 else "idle"))  # fmt: skip
        elif v < 330:
            kinds.append("homestead" if x < 0.55 else ("unapproved" if x < 0.65 else "paddy"))
        elif r < 3200:  # the valley floor: farmland, mostly protected
            if x < 0.62:
                kinds.append("paddy_basic" if x < 0.42 else "dry_basic")
            elif x < 0.82:
                kinds.append("paddy" if x < 0.72 else "dry")
            else:
                kinds.append(("orchard", "grass", "bare")[int(x * 100) % 3])
        elif r < 6000:  # foothills
            if x < 0.22:
                kinds.append("dry_basic" if x < 0.1 else "dry")
            else:
                kinds.append(("orchard", "forest", "forest", "grass")[int(x * 100) % 4]
                             if x < 0.93 else "bare")  # fmt: skip
        else:  # hills
            kinds.append("forest" if x < 0.8 else ("grass" if x < 0.93 else "bare"))
    del rnd
    return kinds


async def _insert_parcels(
    session: AsyncSession, county_id: uuid.UUID, m: _Map, created_by: uuid.UUID | None
) -> tuple[LayerVersion, dict[str, float]]:
    version = await new_layer_version(
        session, county_id, LayerKind.PARCELS, source_name="演示地类图斑",
        source_format="synthetic", source_crs="EPSG:4326", created_by=created_by,
    )  # fmt: skip
    wgs = m.projection.unproject_geoms(m.cells)
    wkbs = shapely.to_wkb(shapely.multipolygons(shapely.get_parts(wgs).reshape(-1, 1)))
    areas = shapely.area(m.cells)
    mix: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for n, (kind, wkb, area) in enumerate(zip(m.kinds, wkbs, areas.tolist(), strict=True), 1):
        land, code, name, basic = _CLASSES[kind]
        mix[land.value] = mix.get(land.value, 0.0) + area
        rows.append({
            "feature_no": n, "land_class": land.value, "source_code": code,
            "source_name": name, "area_m2": area, "wkb": wkb,
            "attrs": {"DLBM": code, "DLMC": name, "JBNT": "1" if basic else "0"},
        })  # fmt: skip
    for start in range(0, len(rows), 5000):
        await insert_features(
            session, LayerKind.PARCELS, county_id, version.id, rows[start : start + 5000]
        )
    version.read_count = version.stored_count = len(rows)
    total = float(areas.sum()) or 1.0
    return version, {k: round(v / total, 4) for k, v in sorted(mix.items())}


def _zone_geoms(m: _Map, rnd: random.Random) -> list[tuple[ZoneKind, str, BaseGeometry]]:
    zones: list[tuple[ZoneKind, str, BaseGeometry]] = []
    for i, (x, y) in enumerate(m.towns):
        area = shapely.Point(x, y).buffer(rnd.uniform(1500, 2000), quad_segs=6)
        zones.append((ZoneKind.URBAN_DEVELOPMENT, f"城镇开发边界{i + 1}", area))
    for i, (x, y) in enumerate(m.villages):
        area = shapely.Point(x, y).buffer(rnd.uniform(300, 420), quad_segs=4)
        zones.append((ZoneKind.VILLAGE_CONSTRUCTION, f"村庄建设边界{i + 1}", area))
    basic = np.array([k in ("paddy_basic", "dry_basic") for k in m.kinds])
    cells = m.cells[basic]
    if len(cells):
        cx = shapely.get_x(shapely.centroid(cells))
        cy = shapely.get_y(shapely.centroid(cells))
        block = 4000.0
        keys = (np.floor(cx / block).astype(np.int64) * 100_000 + np.floor(cy / block)).astype(
            np.int64
        )
        for n, key in enumerate(np.unique(keys).tolist()):
            union = shapely.union_all(cells[keys == key], grid_size=0.01)
            zones.append((ZoneKind.BASIC_FARMLAND, f"永久基本农田保护区{n + 1}", union))
    hills = _points_in(m.outline.difference(m.river.buffer(7000)), 3, rnd, min_gap=8000)
    for i, (x, y) in enumerate(hills):
        area = shapely.Point(x, y).buffer(rnd.uniform(2500, 4000), quad_segs=8)
        zones.append((ZoneKind.ECOLOGICAL_REDLINE, f"生态保护红线{i + 1}", area))
    return zones


async def _insert_zones(
    session: AsyncSession, county_id: uuid.UUID, m: _Map, rnd: random.Random,
    created_by: uuid.UUID | None,
) -> LayerVersion:  # fmt: skip
    version = await new_layer_version(
        session, county_id, LayerKind.PLANNING_ZONES, source_name="演示规划分区",
        source_format="synthetic", source_crs="EPSG:4326", created_by=created_by,
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    for n, (kind, name, geom) in enumerate(_zone_geoms(m, rnd), 1):
        clipped = shapely.make_valid(shapely.intersection(geom, m.outline))
        parts = [p for p in shapely.get_parts(clipped) if shapely.get_type_id(p) == 3]
        if not parts:
            continue
        multi = shapely.multipolygons(parts)
        wgs = m.projection.unproject_geoms(np.array([multi], dtype=object))[0]
        if not wgs.is_valid:
            wgs = shapely.multipolygons(
                [p for p in shapely.get_parts(shapely.make_valid(wgs)) if p.geom_type == "Polygon"]
            )
        rows.append({
            "feature_no": n, "zone_kind": kind.value, "code": f"GH{n:04d}", "name": name,
            "area_m2": float(multi.area), "attrs": {"source": "demo"}, "wkb": shapely.to_wkb(wgs),
        })  # fmt: skip
    await insert_features(session, LayerKind.PLANNING_ZONES, county_id, version.id, rows)
    version.read_count = version.stored_count = len(rows)
    return version


def _person(rnd: random.Random) -> tuple[str, str]:
    name = rnd.choice(_SURNAMES) + rnd.choice(_GIVEN)
    phone = "1" + rnd.choice("3578") + "".join(str(rnd.randrange(10)) for _ in range(9))
    return name, phone


async def _insert_sites(
    session: AsyncSession, county_id: uuid.UUID, m: _Map, rnd: random.Random,
    *, mines: int, boats: int, user_ids: Sequence[uuid.UUID], created_by: uuid.UUID | None,
) -> tuple[uuid.UUID, int, int, int]:  # fmt: skip
    hills = m.outline.difference(m.river.buffer(4000))
    mine_xy = _points_in(hills, mines, rnd, min_gap=1200)
    boat_xy = _points_in(m.outline, boats, rnd, near=m.river, spread=0.0, min_gap=800)
    sites: list[dict[str, Any]] = []
    base_day = date(2024, 3, 1)
    for i, (x, y) in enumerate(mine_xy):
        w, h, a = rnd.uniform(60, 180), rnd.uniform(50, 140), rnd.uniform(0, 180)
        pit = shapely.affinity.rotate(shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2), a)
        status = MineStatus.CLOSED if i % 9 else MineStatus.SIGNS_OF_REOPENING
        sites.append({
            "code": f"KS-{i + 1:03d}", "site_kind": SiteKind.MINE.value,
            "name": f"{_SURNAMES[i % len(_SURNAMES)]}家{('冲', '岭', '坳', '沟')[i % 4]}"
                    f"{('采石场', '采砂点', '金矿点', '煤窑')[i % 4]}",
            "mineral": _MINERALS[i % len(_MINERALS)],
            "closed_on": base_day + timedelta(days=rnd.randrange(0, 700)),
            "closure_method": (ClosureMethod.SEALED, ClosureMethod.DEMOLISHED,
                               ClosureMethod.EQUIPMENT_REMOVED)[i % 3].value,
            "status": status.value, "signboard": i % 4 != 3,
            "signboard_text": _SIGN if i % 4 != 3 else "",
            "retired": False,
            "geometry": m.projection.unproject_geoms(np.array([pit], dtype=object))[0],
        })  # fmt: skip
    methods = (ClosureMethod.HAULED_ASHORE, ClosureMethod.STRIPPED, ClosureMethod.SOLD_AWAY)
    for i, (x, y) in enumerate(boat_xy):
        snapped = m.river.interpolate(m.river.project(shapely.Point(x, y)))
        sites.append({
            "code": f"CJC-{i + 1:03d}", "site_kind": SiteKind.DREDGING_BOAT.value,
            "name": f"采金船{i + 1}号", "mineral": "金",
            "closed_on": base_day + timedelta(days=rnd.randrange(0, 400)),
            "closure_method": methods[i % 3].value, "status": MineStatus.CLOSED.value,
            "signboard": False, "signboard_text": "", "retired": False,
            "geometry": m.projection.unproject_geoms(np.array([snapped], dtype=object))[0],
        })  # fmt: skip
    version_id, rows = await write_sites(
        session, county_id, sites, source_name="演示关闭矿点名录", source_format="synthetic",
        source_crs="EPSG:4326", created_by=created_by,
    )  # fmt: skip
    incomplete = 0
    members: list[dict[str, Any]] = []
    for n, row in enumerate(rows):
        roles = list(RosterRole)
        if n % 6 == 5:  # some rosters are incomplete: one or two seats vacant
            for _ in range(1 + n % 2):
                roles.pop(rnd.randrange(len(roles)))
            incomplete += 1
        for role in roles:
            period, checks = role.default_duty
            user = None
            if role is RosterRole.LAND_RESOURCES_STAFF and user_ids:
                user = user_ids[n % len(user_ids)]
            name, phone = _person(rnd)
            members.append({
                "id": uuid7(), "county_id": county_id, "site_id": row.id, "role": role.value,
                "user_id": user, "contact_name": "" if user else name,
                "contact_phone": "" if user else phone,
                "duty_period": DutyPeriod(period).value, "duty_checks": checks,
            })  # fmt: skip
    if members:
        await session.execute(insert(RosterMember), members)
    return version_id, incomplete, len(mine_xy), len(boat_xy)


async def _insert_changes(
    session: AsyncSession, county_id: uuid.UUID, m: _Map, rnd: random.Random,
    *, count: int, year: int, quarter: int, created_by: uuid.UUID | None,
) -> LayerVersion:  # fmt: skip
    version = await new_layer_version(
        session, county_id, LayerKind.CHANGE_POLYGONS, source_name=f"{year}年第{quarter}季度卫片",
        source_format="synthetic", source_crs="EPSG:4326", created_by=created_by,
    )  # fmt: skip
    tree = shapely.STRtree(m.cells)
    ring = shapely.union_all([shapely.Point(x, y).buffer(2400) for x, y in m.towns])
    spots = _points_in(m.outline.intersection(ring), count, rnd, min_gap=300)
    rows: list[dict[str, Any]] = []
    for n, (x, y) in enumerate(spots, 1):
        w, h = rnd.uniform(40, 160), rnd.uniform(30, 120)
        poly = shapely.affinity.rotate(
            shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2), rnd.uniform(0, 90)
        )
        areas: dict[str, float] = {}
        for i in tree.query(poly, predicate="intersects").tolist():
            land = _CLASSES[m.kinds[i]][0].value
            areas[land] = round(areas.get(land, 0.0) + float(poly.intersection(m.cells[i]).area), 2)
        wgs = m.projection.unproject_geoms(np.array([shapely.multipolygons([poly])], dtype=object))
        rows.append({
            "feature_no": n, "monitoring_no": f"{year}{quarter}-{n:04d}", "batch_year": year,
            "batch_quarter": quarter, "monitored_areas": areas, "area_m2": float(poly.area),
            "attrs": {"JCBH": f"{year}{quarter}-{n:04d}"}, "wkb": shapely.to_wkb(wgs[0]),
        })  # fmt: skip
    await insert_features(session, LayerKind.CHANGE_POLYGONS, county_id, version.id, rows)
    version.read_count = version.stored_count = len(rows)
    return version


async def seed_demo_layers(
    session: AsyncSession,
    county_id: uuid.UUID,
    boundary: BaseGeometry,
    *,
    seed: int = 7,
    parcel_side_m: float = 230.0,
    mine_sites: int = 24,
    dredging_boats: int = 6,
    change_polygons: int = 40,
    batch: tuple[int, int] = (2026, 3),
    user_ids: Sequence[uuid.UUID] = (),
    created_by: uuid.UUID | None = None,
) -> DemoLayers:
    """Seed parcels, planning zones, the mine register with rosters and a change batch.

    ``boundary`` is the county outline (WGS84). ``parcel_side_m`` sets the parcel size (230 m
    gives about 35,000 parcels on a 2,000 km² county). Roster seats for land-resources staff
    go to ``user_ids`` in turn; the other seats are external contacts with phone numbers.
    The caller commits.
    """
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    centre = boundary.centroid
    projection = local_projection(centre.x, centre.y)
    outline = projection.project_geoms(np.array([boundary], dtype=object))[0]
    river = _river(outline, rnd)
    towns = _points_in(outline, 6, rnd, near=river, spread=1500.0, min_gap=6000)
    villages = _points_in(outline, 70, rnd, min_gap=1500)
    m = _Map(projection, outline, river, towns, villages)
    m.cells = _grid(outline, parcel_side_m, rng)
    m.kinds = _classify(m, rnd, rng)
    parcels, mix = await _insert_parcels(session, county_id, m, created_by)
    zones = await _insert_zones(session, county_id, m, rnd, created_by)
    sites_version, incomplete, n_mines, n_boats = await _insert_sites(
        session, county_id, m, rnd, mines=mine_sites, boats=dredging_boats,
        user_ids=user_ids, created_by=created_by,
    )  # fmt: skip
    changes = await _insert_changes(
        session, county_id, m, rnd, count=change_polygons, year=batch[0], quarter=batch[1],
        created_by=created_by,
    )  # fmt: skip
    await session.flush()
    return DemoLayers(
        parcels=parcels.stored_count,
        planning_zones=zones.stored_count,
        mine_sites=n_mines,
        dredging_boats=n_boats,
        incomplete_rosters=incomplete,
        change_polygons=changes.stored_count,
        class_mix=mix,
        versions={
            LayerKind.PARCELS.value: parcels.id,
            LayerKind.PLANNING_ZONES.value: zones.id,
            LayerKind.MINE_SITES.value: sites_version,
            LayerKind.CHANGE_POLYGONS.value: changes.id,
        },
    )
