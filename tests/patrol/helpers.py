"""Builders for track points used by the field-work tests (times come from tests.clock)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from infra.scope import Role
from patrol.sessions import PatrolService
from patrol.tracks import PointIn
from tests import clock
from tests.conftest import CountyFixture
from tests.worlds import World

M_PER_DEG_LAT = 6_371_008.8 * 3.141592653589793 / 180  # 111195.08 m


async def start_patrol(
    world: World, db: AsyncSession, hours: float = 2
) -> tuple[uuid.UUID, datetime]:
    """The world's inspector starts a patrol of its area ``hours`` ago: its id and start."""
    pid = uuid7()
    started = clock.ago(hours=hours)
    await PatrolService(db).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=started
    )
    return pid, started


def walk(
    start: datetime,
    *,
    lon: float = 110.2,
    lat: float = 30.2,
    n: int = 10,
    step_m: float = 15.0,
    every_s: float = 10.0,
    accuracy_m: float = 5.0,
) -> list[PointIn]:
    """``n`` fixes walking due north ``step_m`` metres every ``every_s`` seconds."""
    return [
        PointIn(
            id=uuid7(),
            t=start + timedelta(seconds=i * every_s),
            lon=lon,
            lat=lat + i * step_m / M_PER_DEG_LAT,
            accuracy_m=accuracy_m,
            speed_mps=1.5,
            heading_deg=0.0,
        )
        for i in range(n)
    ]


def polygon_box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    """A GeoJSON Polygon of the box, as the API takes it."""
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


async def start_patrol_over_http(
    client: AsyncTestClient[Litestar], county: CountyFixture
) -> tuple[str, datetime]:
    """Through the API: the captain makes area A1 (the county's middle) led by the
    inspector, who starts a patrol there two hours ago. ``(patrol id, start)``."""
    area = await client.post(
        "/api/v1/areas",
        json={"code": "A1", "name": "北片", "grade": 1,
              "geometry": polygon_box(112.05, 28.45, 112.15, 28.55),
              "leaderId": str(county.users[Role.INSPECTOR].id)},
        headers=county.headers(Role.CAPTAIN),
    )  # fmt: skip
    assert area.status_code == 201, area.text
    start = clock.now().replace(microsecond=0) - timedelta(hours=2)
    pid = str(uuid7())
    started = await client.put(
        f"/api/v1/patrols/{pid}",
        json={"areaId": area.json()["id"], "startedAt": start.isoformat()},
        headers=county.headers(Role.INSPECTOR),
    )
    assert started.status_code == 200, started.text
    return pid, start
