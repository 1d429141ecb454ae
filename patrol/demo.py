"""The demo county: 15 townships and a development park around lon 112.1, lat 28.5.

Geometry is synthetic but plausible: an irregular county outline split into townships and
villages by Voronoi cells. Deterministic for a given seed, so every machine sees the same map.
"""

from __future__ import annotations

import math
import random
import secrets
import uuid
from dataclasses import dataclass
from typing import TypeVar

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.messages import label
from infra.scope import Role
from patrol.accounts import hash_password
from patrol.models import County, Township, User, Village

__all__ = ["DEMO_ADMIN_CODE", "DemoCounty", "DemoUser", "county_outline", "seed_demo_county"]

DEMO_ADMIN_CODE = "430999"
_T = TypeVar("_T", Township, Village)
CENTRE = (112.1, 28.5)

_TOWNSHIPS = [
    "城关镇",
    "东山镇",
    "西河乡",
    "南岭镇",
    "北坪乡",
    "青石镇",
    "白沙乡",
    "黄土镇",
    "龙潭乡",
    "石门镇",
    "桃源乡",
    "清水镇",
    "金塘乡",
    "松柏镇",
    "马鞍乡",
]
_PARK = "高新技术产业开发区"
_VILLAGE_WORDS = ["新村", "和平", "光明", "红星", "长岭", "塘湾", "杨柳", "枫树", "竹山", "荷花"]


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    role: str


@dataclass(frozen=True, slots=True)
class DemoCounty:
    county: County
    townships: list[Township]
    villages: list[Village]
    users: list[DemoUser]
    created: bool


def county_outline(seed: int = 7) -> Polygon:
    """An irregular outline of about 60 x 45 km around :data:`CENTRE`."""
    rnd = random.Random(seed)
    cx, cy = CENTRE
    pts = []
    for i in range(48):
        a = 2 * math.pi * i / 48
        r = 1 + 0.12 * math.sin(3 * a + 0.5) + rnd.uniform(-0.04, 0.04)
        pts.append((cx + 0.30 * r * math.cos(a), cy + 0.20 * r * math.sin(a)))
    return Polygon(pts)


def _cells(area: Polygon, n: int, rnd: random.Random) -> list[Polygon]:
    minx, miny, maxx, maxy = area.bounds
    seeds: list[Point] = []
    while len(seeds) < n:
        p = Point(rnd.uniform(minx, maxx), rnd.uniform(miny, maxy))
        if area.contains(p) and all(p.distance(q) > (maxx - minx) / (n * 1.5) for q in seeds):
            seeds.append(p)
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=area.envelope.buffer(0.1))
    out: list[Polygon] = []
    for cell in cells.geoms:
        piece: BaseGeometry = cell.intersection(area)
        if isinstance(piece, MultiPolygon):
            piece = max(piece.geoms, key=lambda g: g.area)
        if isinstance(piece, Polygon) and not piece.is_empty:
            out.append(piece)
    return out


async def _rows(session: AsyncSession, model: type[_T], county_id: uuid.UUID) -> list[_T]:
    stmt = select(model).where(model.county_id == county_id).order_by(model.code)
    return list((await session.execute(stmt)).scalars().all())


async def seed_demo_county(
    session: AsyncSession, *, admin_code: str = DEMO_ADMIN_CODE, seed: int = 7
) -> DemoCounty:
    """Create the demo county with townships, villages and one user per role, once.

    On a second call nothing is created; ``users`` is then empty (passwords are shown once).
    """
    existing = (
        await session.execute(select(County).where(County.admin_code == admin_code))
    ).scalar_one_or_none()
    if existing is not None:
        towns = await _rows(session, Township, existing.id)
        return DemoCounty(existing, towns, await _rows(session, Village, existing.id), [], False)

    rnd = random.Random(seed)
    outline = county_outline(seed)
    county = County(
        admin_code=admin_code,
        name="示范县",
        province_code=admin_code[:2],
        boundary=from_shape(MultiPolygon([outline]), srid=4326),
    )
    session.add(county)
    await session.flush()

    townships: list[Township] = []
    villages: list[Village] = []
    cells = sorted(_cells(outline, 16, rnd), key=lambda g: (-g.centroid.y, g.centroid.x))
    for i, cell in enumerate(cells):
        is_park = i == len(cells) - 1
        town = Township(
            county_id=county.id,
            code=f"{admin_code}{i + 1:03d}",
            name=_PARK if is_park else _TOWNSHIPS[i % len(_TOWNSHIPS)],
            kind="park"
            if is_park
            else ("town" if _TOWNSHIPS[i % 15].endswith("镇") else "township"),
            geom=from_shape(MultiPolygon([cell]), srid=4326),
        )
        session.add(town)
        townships.append(town)
    await session.flush()
    for town, cell in zip(townships, cells, strict=True):
        for j, vcell in enumerate(_cells(cell, rnd.randint(4, 6), rnd)):
            word = _VILLAGE_WORDS[(j + len(villages)) % len(_VILLAGE_WORDS)]
            village = Village(
                county_id=county.id,
                township_id=town.id,
                code=f"{town.code}{j + 1:03d}",
                name=f"{word}村",
                geom=from_shape(MultiPolygon([vcell]), srid=4326),
            )
            session.add(village)
            villages.append(village)

    users: list[DemoUser] = []
    for role in Role:
        password = secrets.token_urlsafe(12)
        username = f"demo-{role.value.replace('_', '-')}"
        session.add(
            User(
                county_id=county.id,
                username=username,
                display_name=f"演示{label('role', role.value, 'zh')}",
                role=role.value,
                password_hash=hash_password(password),
                active=True,
            )
        )
        users.append(DemoUser(username=username, password=password, role=role.value))
    await session.flush()
    return DemoCounty(county, townships, villages, users, created=True)
