"""Track ingest and coverage speed, measured in one run on a scratch PostGIS.

1. Track ingest through ``TrackService.append_track_points`` (validation, staging COPY,
   ``INSERT ... ON CONFLICT DO NOTHING``, counters, commit) against a raw asyncpg
   ``copy_records_to_table`` of the same points into the same table (commit included),
   interleaved batch by batch. Target: API rate ≥ 0.5 × raw.
2. Coverage for one county-month with 50 inspectors × 20 patrols × 2,000 points (2 million
   points; loaded by raw COPY, summarised by ``end_patrol``). Target: ≤ 2 s.

Uses ``DATABASE_URL`` when set, otherwise starts a throwaway cluster.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import struct
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.models import MODEL_MODULES
from infra.db import create_engine, create_session_factory
from infra.ids import uuid7
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.scope import Principal, Role
from infra.settings import DatabaseSettings
from patrol.areas import AreaService
from patrol.coverage import CoverageService
from patrol.models import County, User
from patrol.sessions import PatrolService
from patrol.tracks import PointIn, TrackService

INGEST_BATCHES = 30
BATCH = 2_000
INSPECTORS = 50
SESSIONS_EACH = 20
POINTS_EACH = 2_000
_COLUMNS = ["session_id", "id", "county_id", "t", "geom", "accuracy_m", "speed_mps", "heading_deg"]


def _ewkb(lon: float, lat: float) -> bytes:
    return struct.pack("<BIIdd", 1, 0x2000_0001, 4326, lon, lat)


def _walk(start: datetime, n: int, rnd: random.Random) -> list[PointIn]:
    lon, lat = rnd.uniform(110.1, 110.9), rnd.uniform(30.1, 30.9)
    out = []
    for i in range(n):
        lat += rnd.uniform(-1, 3) * 1e-5
        lon += rnd.uniform(-1, 3) * 1e-5
        out.append(
            PointIn(
                uuid7(),
                start + timedelta(seconds=5 * i),
                lon,
                lat,
                round(rnd.uniform(3, 20), 1),
                1.4,
                90.0,
            )
        )
    return out


def _records(
    patrol_id: uuid.UUID, county_id: uuid.UUID, pts: list[PointIn]
) -> list[tuple[Any, ...]]:
    return [
        (
            patrol_id,
            p.id,
            county_id,
            p.t,
            _ewkb(p.lon, p.lat),
            p.accuracy_m,
            p.speed_mps,
            p.heading_deg,
        )
        for p in pts
    ]


@dataclass
class _Bench:
    factory: async_sessionmaker[AsyncSession]
    raw: Any  # asyncpg.Connection with a binary EWKB codec for geometry
    captain: Principal
    inspectors: list[Principal]
    county_id: uuid.UUID
    area_of: dict[uuid.UUID, uuid.UUID]


async def _world(
    factory: async_sessionmaker[AsyncSession],
) -> tuple[Principal, list[Principal], uuid.UUID]:
    async with factory() as db:
        code = uuid.uuid4().hex[:12]
        county = County(
            admin_code=code,
            name="bench",
            province_code="43",
            boundary=from_shape(MultiPolygon([box(110, 30, 111, 31)]), srid=4326),
        )
        db.add(county)
        await db.flush()
        people = []
        for i, role in enumerate([Role.CAPTAIN] + [Role.INSPECTOR] * INSPECTORS):
            user = User(
                county_id=county.id,
                username=f"{code}-{i}",
                display_name=f"user {i:02d}",
                role=role.value,
                password_hash="x",
                active=True,
            )
            db.add(user)
            people.append((user, role))
        await db.flush()
        principals = [Principal(u.id, county.id, r, u.username) for u, r in people]
        captain, inspectors = principals[0], principals[1:]
        areas = AreaService(db)
        area_ids = []
        for k in range(4):
            x0 = 110 + 0.25 * k
            area = await areas.create_area(
                captain,
                code=f"B{k}",
                name=f"bench area {k}",
                grade=1 + k % 3,
                geometry={
                    "type": "Polygon",
                    "coordinates": [
                        [[x0, 30], [x0 + 0.25, 30], [x0 + 0.25, 31], [x0, 31], [x0, 30]]
                    ],
                },
                leader_id=captain.user_id,
                member_ids=[p.user_id for p in inspectors[k::4]],
            )
            for j in range(5):
                await areas.add_target(
                    captain,
                    area.id,
                    kind="custom",
                    name=f"t{k}{j}",
                    lon=x0 + 0.05 * j,
                    lat=30.1 + 0.15 * j,
                    visit_radius_m=150,
                )
            area_ids.append(area.id)
        await db.commit()
    return captain, inspectors, county.id


async def _bench_ingest(b: _Bench) -> tuple[float, float]:
    factory, raw, inspectors, county_id, area_of = (
        b.factory,
        b.raw,
        b.inspectors,
        b.county_id,
        b.area_of,
    )
    rnd = random.Random(5)
    me = inspectors[0]
    start = datetime.now(UTC) - timedelta(days=2)
    api_s, raw_s = [], []
    for _ in range(INGEST_BATCHES):
        pts = _walk(start, BATCH, rnd)
        pid = uuid7()
        async with factory() as db:
            await PatrolService(db).start_patrol(
                me, pid, area_id=area_of[me.user_id], started_at=start
            )
            await db.commit()
        raw_pid = uuid7()
        # the same points (new ids: the stored ones are the primary key of another patrol)
        records = _records(
            raw_pid,
            county_id,
            [
                PointIn(uuid7(), p.t, p.lon, p.lat, p.accuracy_m, p.speed_mps, p.heading_deg)
                for p in pts
            ],
        )
        began = time.perf_counter()
        async with factory() as db:
            result = await TrackService(db).append_track_points(me, pid, pts)
            await db.commit()
        api_s.append(time.perf_counter() - began)
        assert result.stored == BATCH, result
        began = time.perf_counter()
        async with raw.transaction():
            await raw.copy_records_to_table(
                "patrol_track_points", records=records, columns=_COLUMNS
            )
        raw_s.append(time.perf_counter() - began)
    return BATCH / statistics.median(api_s), BATCH / statistics.median(raw_s)


async def _bench_coverage(b: _Bench) -> dict[str, float]:
    factory, raw, captain, inspectors, county_id, area_of = (
        b.factory,
        b.raw,
        b.captain,
        b.inspectors,
        b.county_id,
        b.area_of,
    )
    rnd = random.Random(9)
    today = datetime.now(UTC).date()
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    sessions: list[tuple[Principal, uuid.UUID, datetime]] = []
    began = time.perf_counter()
    async with factory() as db:
        svc = PatrolService(db)
        for who in inspectors:
            for k in range(SESSIONS_EACH):
                start = datetime(month.year, month.month, 1 + k, 1, 0, tzinfo=UTC) + timedelta(
                    minutes=rnd.randint(0, 600)
                )
                pid = uuid7()
                await svc.start_patrol(who, pid, area_id=area_of[who.user_id], started_at=start)
                sessions.append((who, pid, start))
        await db.commit()
    load_s = time.perf_counter()
    points = 0
    for _, pid, start in sessions:
        pts = _walk(start, POINTS_EACH, rnd)
        await raw.copy_records_to_table(
            "patrol_track_points", records=_records(pid, county_id, pts), columns=_COLUMNS
        )
        points += len(pts)
    load_s = time.perf_counter() - load_s
    summ_s = time.perf_counter()
    async with factory() as db:
        svc = PatrolService(db)
        for who, pid, start in sessions:
            await svc.end_patrol(who, pid, ended_at=start + timedelta(seconds=5 * POINTS_EACH))
        await db.commit()
    summ_s = time.perf_counter() - summ_s
    timings = []
    for _ in range(3):
        async with factory() as db:
            t0 = time.perf_counter()
            cov = await CoverageService(db).get_coverage(captain, month)
            timings.append(time.perf_counter() - t0)
    assert cov.patrols == len(sessions), (cov.patrols, len(sessions))
    return {
        "points": points,
        "sessions": len(sessions),
        "setup_s": load_s + summ_s,
        "load_s": load_s,
        "end_patrol_ms": 1000 * summ_s / len(sessions),
        "coverage_first_s": timings[0],
        "coverage_best_s": min(timings),
        "total_setup_s": time.perf_counter() - began,
    }


async def main() -> None:
    with local_services("patrol-bench-patrol-", object_store=False) as found:
        api_rate, raw_rate, cov = await _measure(found.database_url)
    _report(api_rate, raw_rate, cov)


async def _measure(url: str) -> tuple[float, float, dict[str, float]]:
    engine = create_engine(DatabaseSettings(statement_timeout_s=0.0, url=url, pool_size=4))
    try:
        await Migrator(engine, MODEL_MODULES).upgrade()
        factory = create_session_factory(engine)
        captain, inspectors, county_id = await _world(factory)
        area_of: dict[uuid.UUID, uuid.UUID] = {}
        async with factory() as db:
            for area in await AreaService(db).list_areas(captain):
                for member in await AreaService(db).list_members(captain, area.id):
                    area_of[member] = area.id
        raw = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        await raw.set_type_codec(
            "geometry", schema="public", encoder=bytes, decoder=bytes, format="binary"
        )
        try:
            bench = _Bench(factory, raw, captain, inspectors, county_id, area_of)
            api_rate, raw_rate = await _bench_ingest(bench)
            cov = await _bench_coverage(bench)
        finally:
            await raw.close()
    finally:
        await engine.dispose()
    return api_rate, raw_rate, cov


def _report(api_rate: float, raw_rate: float, cov: dict[str, float]) -> None:
    ratio = api_rate / raw_rate
    rows = [
        ("track ingest, API (points/s)", f"{api_rate:,.0f}", ""),
        ("track ingest, raw COPY (points/s)", f"{raw_rate:,.0f}", ""),
        ("ingest API / raw", f"{ratio:.2f}", "≥ 0.50 " + ("ok" if ratio >= 0.5 else "MISSED")),
        ("coverage points / patrols", f"{cov['points']:,.0f} / {cov['sessions']:,.0f}", ""),
        ("end_patrol summary (ms per patrol)", f"{cov['end_patrol_ms']:.1f}", ""),
        (
            "GetCoverage first call (s)",
            f"{cov['coverage_first_s']:.3f}",
            "≤ 2 s " + ("ok" if cov["coverage_first_s"] <= 2 else "MISSED"),
        ),
        ("GetCoverage best of 3 (s)", f"{cov['coverage_best_s']:.3f}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | {'value':>15} | target |")
    print(f"|{'-' * (width + 2)}|{'-' * 17}|--------|")
    for name, value, target in rows:
        print(f"| {name:<{width}} | {value:>15} | {target} |")
    if not math.isfinite(ratio):
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
