"""Sync speed, through the real app in process, on a scratch PostGIS.

**Paging**: an inspector whose two areas hold 50,000 reference features (and
10,000 more features of the county lie outside them) pulls from scratch with pages of 500
and of 2,000, first on the freshly written database with no table statistics (autovacuum
is off for the tables, as it is for the minutes after a load until its analyze comes round),
then again after ``ANALYZE``; every page's server time is kept. Then the demo county
(``seed_demo_county`` + ``seed_demo_extras``) is seeded and ``demo-inspector-02`` pulls with
the default pages, before and after ``ANALYZE``. Targets: the last page ≤ 1.5× the first in
both states; the whole initial pull ≤ 2 s of server time; the demo inspector ≤ 1 s.

**Steady state**: an inspector whose area holds 5,000 parcels (reference features)
and 1,000 records (targets, patrols, findings). Measured: the initial pull (every page), an
incremental pull with no changes, a push of 500 operations, and the payload sizes of JSON vs
MessagePack (raw and gzip). Targets: ≤ 500 ms, ≤ 20 ms, ≤ 1 s. The push (400 point batches,
50 sign-ins, 48 findings, start and end of a patrol) runs five times, each on a new patrol,
and each batch is sent a second time to time the replay.

**Findings**: in the same world, a push of 500 operations — a patrol's start, 498
findings over the parcels (each with an occupied area, every fifth at a target) and its end —
five times, each on a new patrol. Every finding gets the location check, its land use, the
threshold screening and its target visits; the time spent in those checks is measured inside
the push (``FindingChecks.locate``/``assess`` and the visits). Target: the push ≤ 1 s.
``push_only()`` runs the steady-state part and this one alone.

Times are server time, from the ``Server-Timing`` header every response carries (the target
is server time), with the time the in-process test client saw beside them.

Uses ``DATABASE_URL`` and ``S3_ENDPOINT_URL`` when set, otherwise starts throwaway ones.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import secrets
import statistics
import time
import tracemalloc
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import shapely
from geoalchemy2.shape import from_shape
from litestar.testing import AsyncTestClient
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select

from api.app import create_app
from api.models import MODEL_MODULES
from infra.db import create_engine, create_session_factory
from infra.ids import uuid7
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.scope import Principal, Role
from infra.settings import AuthSettings, DatabaseSettings, Settings
from patrol.areas import AreaService
from patrol.finding_checks import VISIT_SOURCE, FindingChecks
from patrol.models import County, User
from patrol.sessions import PatrolService
from tests.sync.conftest import add_parcels
from tests.sync.mvt import decode_tile

FEATURES = 5_000
TARGETS = 400
PATROLS = 20
FINDINGS = 1_000 - TARGETS - PATROLS - 1  # and one area
LON, LAT = 112.1, 28.5
PUSHES = 5
INITIALS = 3


def _median(took: list[Took], digits: int = 0) -> str:
    server = statistics.median(t.server for t in took)
    client = statistics.median(t.client for t in took)
    return f"{server:.{digits}f} ms ({client:.{digits}f} ms)"


def _best(took: list[Took]) -> str:
    return f"{min(t.server for t in took):.0f} ms ({min(t.client for t in took):.0f} ms)"


async def _world(factory: Any) -> tuple[Principal, Any]:
    async with factory() as s:
        county = County(
            admin_code=secrets.token_hex(5),
            name="基准县",
            province_code="43",
            boundary=from_shape(MultiPolygon([box(111.5, 28.0, 112.7, 29.0)]), 4326),
        )
        s.add(county)
        await s.flush()
        people = {}
        for role in (Role.INSPECTOR, Role.CAPTAIN):
            u = User(
                county_id=county.id,
                username=f"{role.value}-{secrets.token_hex(4)}",
                display_name=role.value,
                role=role.value,
                password_hash="x",
                active=True,
            )
            s.add(u)
            await s.flush()
            people[role] = Principal(u.id, county.id, role, u.username)
        inspector, captain = people[Role.INSPECTOR], people[Role.CAPTAIN]
        areas = AreaService(s)
        area = await areas.create_area(
            captain,
            code="A1",
            name="基准片区",
            grade=1,
            geometry=dict(
                shapely.geometry.mapping(box(LON - 0.2, LAT - 0.2, LON + 0.2, LAT + 0.2))
            ),
            leader_id=inspector.user_id,
        )
        for i in range(TARGETS):
            await areas.add_target(
                captain, area.id, kind="custom", name=f"T{i}", lon=LON - 0.19 + i * 0.0009, lat=LAT
            )
        step = 0.38 / 71
        boxes = [
            box(
                LON - 0.19 + (i % 71) * step,
                LAT - 0.19 + (i // 71) * step,
                LON - 0.19 + (i % 71) * step + step * 0.8,
                LAT - 0.19 + (i // 71) * step + step * 0.8,
            )
            for i in range(FEATURES)
        ]
        await add_parcels(s, county.id, boxes)
        patrols = PatrolService(s)
        now = datetime.now(UTC)
        for p in range(PATROLS):
            pid = uuid7()
            await patrols.start_patrol(
                inspector, pid, area_id=area.id, started_at=now - timedelta(days=2, hours=p)
            )
            for f in range(FINDINGS // PATROLS + (1 if p < FINDINGS % PATROLS else 0)):
                await patrols.record_finding(
                    inspector,
                    pid,
                    uuid7(),
                    found_at=now - timedelta(days=2, hours=p) + timedelta(minutes=f),
                    project_name=f"违建{p}-{f}",
                    construction_status="levelled",
                    lon=LON + 0.001 * f,
                    lat=LAT,
                    township_id=None,
                    village_id=None,
                )
        await s.commit()
    return inspector, area.id


@dataclass(slots=True)
class Took:
    """Server time (the response's ``Server-Timing``) and time seen by the client, in ms."""

    server: float = 0.0
    client: float = 0.0

    def __iadd__(self, other: Took) -> Took:
        self.server += other.server
        self.client += other.client
        return self

    def __str__(self) -> str:
        return f"{self.server:.0f} ms ({self.client:.0f} ms)"


async def _timed(
    client: Any, path: str, body: Any, headers: dict[str, str], *, msgpack: bool = False
) -> tuple[Took, Any, int]:
    hdrs = dict(headers)
    if msgpack:
        hdrs |= {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}
        content = msgspec.msgpack.encode(body)
        t0 = time.perf_counter()
        resp = await client.post(path, content=content, headers=hdrs)
    else:
        t0 = time.perf_counter()
        resp = await client.post(path, json=body, headers=hdrs)
    elapsed = (time.perf_counter() - t0) * 1000
    assert resp.status_code == 200, resp.text
    server = float(resp.headers["server-timing"].partition(";dur=")[2])
    data = msgspec.msgpack.decode(resp.content) if msgpack else msgspec.json.decode(resp.content)
    return Took(server, elapsed), data, len(resp.content)


async def _initial(
    client: Any, headers: dict[str, str], *, msgpack: bool
) -> tuple[Took, Any, int, int]:
    total, size, zsize, cursor, count = Took(), 0, 0, None, 0
    while True:
        took, page, n = await _timed(
            client,
            "/api/v1/sync/pull",
            {"cursor": cursor, "limit": 10_000},
            headers,
            msgpack=msgpack,
        )
        raw = msgspec.msgpack.encode(page) if msgpack else msgspec.json.encode(page)
        total += took
        size, zsize = size + n, zsize + len(gzip.compress(raw, 6))
        cursor = page["cursor"]
        count += sum(len(ch["upserts"]) for ch in page["changes"].values())
        if not page["hasMore"]:
            break
    # the phone acknowledges the last page with its next pull (part of the initial sync)
    took, page, _ = await _timed(
        client, "/api/v1/sync/pull", {"cursor": cursor}, headers, msgpack=msgpack
    )
    total += took
    return total, page, size, zsize if count else 0


def _push_ops(area_id: Any) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    pid = uuid7()
    start = now - timedelta(hours=2)
    ops: list[dict[str, Any]] = [
        {
            "type": "startPatrol",
            "opId": str(uuid7()),
            "patrolId": str(pid),
            "areaId": str(area_id),
            "startedAt": start.isoformat(),
        }
    ]
    for i in range(400):
        ops.append(
            {
                "type": "trackPoints",
                "opId": str(uuid7()),
                "patrolId": str(pid),
                "points": [
                    {
                        "id": str(uuid7()),
                        "t": (start + timedelta(seconds=i * 15 + k * 3)).isoformat(),
                        "lon": LON + i * 1e-4,
                        "lat": LAT + k * 1e-5,
                        "accuracyM": 5.0,
                    }
                    for k in range(5)
                ],
            }
        )
    for i in range(50):
        ops.append(
            {
                "type": "signIn",
                "opId": str(uuid7()),
                "patrolId": str(pid),
                "signInId": str(uuid7()),
                "at": (start + timedelta(minutes=i)).isoformat(),
                "lon": LON,
                "lat": LAT,
                "accuracyM": 6.0,
            }
        )
    for i in range(48):
        ops.append(
            {
                "type": "recordFinding",
                "opId": str(uuid7()),
                "patrolId": str(pid),
                "findingId": str(uuid7()),
                "foundAt": (start + timedelta(minutes=i)).isoformat(),
                "projectName": f"新发现{i}",
                "constructionStatus": "partly_built",
                "lon": LON,
                "lat": LAT,
            }
        )
    ops.append(
        {
            "type": "endPatrol",
            "opId": str(uuid7()),
            "patrolId": str(pid),
            "endedAt": (now - timedelta(minutes=1)).isoformat(),
        }
    )
    return ops


# -- paging --------------------------------------------------------------------------------
BIG_FEATURES = 50_000
BIG_OUTSIDE = 10_000
PAGE_SIZES = (500, 2_000)
DEMO_USER = "demo-inspector-02"
PULL_BUDGET_S = 120.0  # a pull still paging after this long is stopped and reported as such


async def _user(factory: Any, county_id: Any, role: Role, name: str) -> Principal:
    async with factory() as s:
        u = User(
            county_id=county_id,
            username=f"{name}-{secrets.token_hex(4)}",
            display_name=name,
            role=role.value,
            password_hash="x",
            active=True,
        )
        s.add(u)
        await s.commit()
        return Principal(u.id, county_id, role, u.username)


async def _big_world(factory: Any) -> Principal:
    """Two areas of one inspector over a 250 × 200 grid of parcels, 10,000 more outside."""
    async with factory() as s:
        county = County(
            admin_code=secrets.token_hex(5),
            name="大基准县",
            province_code="43",
            boundary=from_shape(MultiPolygon([box(111.0, 28.0, 113.0, 29.0)]), 4326),
        )
        s.add(county)
        await s.commit()
        county_id = county.id
    inspector = await _user(factory, county_id, Role.INSPECTOR, "big-inspector")
    captain = await _user(factory, county_id, Role.CAPTAIN, "big-captain")
    async with factory() as s:
        areas = AreaService(s)
        for code, west in (("B1", 111.2), ("B2", 111.45)):
            geom = box(west, 28.2, west + 0.25, 28.6)
            await areas.create_area(
                captain, code=code, name=f"片区{code}", grade=1,
                geometry=dict(shapely.geometry.mapping(geom)), leader_id=inspector.user_id,
            )  # fmt: skip
        step = 0.002
        boxes = _grid(BIG_FEATURES, 250, 111.2 + 1e-4, 28.2 + 1e-4, step)
        boxes += _grid(BIG_OUTSIDE, 100, 112.0, 28.2, step)
        await add_parcels(s, county_id, boxes)
        await s.commit()
    return inspector


def _grid(n: int, cols: int, west: float, south: float, step: float) -> list[Any]:
    """``n`` square parcels, ``cols`` to a row, from (``west``, ``south``), ``step`` apart."""
    return [
        box(west + (i % cols) * step, south + (i // cols) * step,
            west + (i % cols) * step + step * 0.8, south + (i // cols) * step + step * 0.8)
        for i in range(n)
    ]  # fmt: skip


async def _autovacuum(engine: Any, *, on: bool) -> None:
    async with engine.begin() as conn:
        tables = (
            await conn.exec_driver_sql(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner = current_user"
            )
        ).scalars()
        for table in tables:
            await conn.exec_driver_sql(
                f"ALTER TABLE {table} SET (autovacuum_enabled = {str(on).lower()})"
            )


async def _analysed(engine: Any) -> int:
    """How many of our tables have statistics (an analyze ran on them)."""
    async with engine.begin() as conn:
        n = await conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'public' AND "
            "(last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)"
        )
        return int(n.scalar_one())


@dataclass(slots=True)
class Paged:
    """One initial pull: every page's server time (ms), the acknowledging pull, records."""

    pages: list[float]
    ack: float
    records: int
    complete: bool

    @property
    def total(self) -> float:
        return sum(self.pages) + self.ack

    def row(self, what: str) -> tuple[str, str, str]:
        first, last = self.pages[0], self.pages[-1]
        done = "" if self.complete else f", STOPPED after {PULL_BUDGET_S:.0f} s"
        return (
            f"{what}: {self.records:,} records in {len(self.pages)} pages{done}",
            f"total {self.total / 1000:.2f} s; first {first:.0f} ms, last {last:.0f} ms "
            f"(×{last / first:.2f}), slowest {max(self.pages):.0f} ms",
            "last ≤ 1.5× first",
        )


async def _paged(client: Any, headers: dict[str, str], limit: int) -> Paged:
    pages: list[float] = []
    cursor, records, started = None, 0, time.perf_counter()
    while True:
        took, page, _ = await _timed(
            client, "/api/v1/sync/pull", {"cursor": cursor, "limit": limit}, headers
        )
        pages.append(took.server)
        records += sum(len(ch["upserts"]) for ch in page["changes"].values())
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
        if time.perf_counter() - started > PULL_BUDGET_S:
            return Paged(pages, 0.0, records, complete=False)
    took, page, _ = await _timed(client, "/api/v1/sync/pull", {"cursor": cursor}, headers)
    assert not page["hasMore"] and not any(ch["upserts"] for ch in page["changes"].values())
    return Paged(pages, took.server, records, complete=True)


def _page_list(paged: Paged) -> str:
    return ", ".join(f"{p:.0f}" for p in paged.pages)


async def _paging(found: Any) -> list[tuple[str, str, str]]:
    """Initial pulls page by page on a freshly written database, then after ``ANALYZE``."""
    from api.demo import seed_demo_extras  # noqa: PLC0415 - only this bench needs the demo
    from patrol.demo import seed_demo_county  # noqa: PLC0415

    url = found.database_url
    engine = create_engine(DatabaseSettings(url=url))
    await Migrator(engine, MODEL_MODULES).upgrade()
    await _autovacuum(engine, on=False)
    factory = create_session_factory(engine)
    big = await _big_world(factory)
    settings = _app_settings(found)
    async with factory() as s:
        demo = await seed_demo_county(s, admin_code="43dm01")
        await seed_demo_extras(s, demo, settings)
        await s.commit()
        u = (await s.execute(select(User).where(User.username == DEMO_USER))).scalar_one()
        demo_user = Principal(u.id, u.county_id, Role(u.role), u.username)
    rows: list[tuple[str, str, str]] = []
    details: list[str] = []
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        big_h = {"Authorization": f"Bearer {app.state.tokens.access_token(big)}"}
        demo_h = {"Authorization": f"Bearer {app.state.tokens.access_token(demo_user)}"}
        for state in ("no statistics", "after ANALYZE"):
            if state == "after ANALYZE":
                async with engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE")
            analysed = await _analysed(engine)
            for limit in PAGE_SIZES:
                paged = await _paged(client, big_h, limit)
                what = f"initial pull, 50k features, pages of {limit:,}, {state}"
                rows.append(paged.row(what))
                details.append(f"{what} ({analysed} tables analysed): {_page_list(paged)} ms")
            paged = await _paged(client, demo_h, 2_000)
            what = f"initial pull, {DEMO_USER} (demo county), {state}"
            rows.append((*paged.row(what)[:2], "≤ 1 s"))
            details.append(f"{what} ({analysed} tables analysed): {_page_list(paged)} ms")
    await _autovacuum(engine, on=True)
    await engine.dispose()
    print("Server time of every page, in order:\n")
    for line in details:
        print(f"- {line}")
    print()
    return rows


# -- layer GeoJSON -------------------------------------------------------------------------
GEOJSON_PARCELS = 100_000
GEOJSON_OUTSIDE = 10_000
GEOJSON_RUNS = 3
#: The single query ``GetLayerGeoJson`` ran before it paged: the whole FeatureCollection as
#: one ``json_agg`` (same scope, same features, same order).
_ONE_QUERY = """
WITH my_areas AS (
    SELECT a.id, a.geom FROM patrol_areas a
    WHERE a.county_id = $1 AND a.active
      AND ($3 OR a.leader_id = $2 OR EXISTS (
          SELECT 1 FROM patrol_area_members m WHERE m.area_id = a.id AND m.user_id = $2))
),
cur AS (
    SELECT id, version_no FROM geofence_layer_versions
    WHERE county_id = $1 AND kind = 'parcels' ORDER BY version_no DESC LIMIT 1
)
SELECT json_build_object(
    'type', 'FeatureCollection', 'layer', 'parcels',
    'layerVersion', (SELECT version_no FROM cur),
    'features', coalesce(json_agg(ST_AsGeoJSON(q.*, 'geom', 7)::json), '[]'::json))::text
FROM (SELECT f.id::text AS id, f.land_class, f.source_code, f.source_name, f.area_m2, f.geom
      FROM geofence_parcels f, cur
      WHERE f.county_id = $1 AND f.layer_version_id = cur.id
        AND EXISTS (SELECT 1 FROM my_areas a WHERE ST_Intersects(a.geom, f.geom))
      ORDER BY f.id) q
"""


async def _geojson_world(factory: Any) -> Principal:
    """An inspector leading one area over a 320 × 313 grid of 100,000 parcels; 10,000 more
    parcels of the county lie outside it."""
    async with factory() as s:
        county = County(
            admin_code=secrets.token_hex(5),
            name="图层基准县",
            province_code="43",
            boundary=from_shape(MultiPolygon([box(111.0, 28.0, 113.0, 29.0)]), 4326),
        )
        s.add(county)
        await s.commit()
        county_id = county.id
    inspector = await _user(factory, county_id, Role.INSPECTOR, "layer-inspector")
    captain = await _user(factory, county_id, Role.CAPTAIN, "layer-captain")
    step = 0.001
    async with factory() as s:
        geom = box(111.2, 28.2, 111.2 + 320 * step, 28.2 + 313 * step)
        await AreaService(s).create_area(
            captain, code="G1", name="图层片区", grade=1,
            geometry=dict(shapely.geometry.mapping(geom)), leader_id=inspector.user_id,
        )  # fmt: skip
        boxes = _grid(GEOJSON_PARCELS, 320, 111.2 + 1e-4, 28.2 + 1e-4, step)
        boxes += _grid(GEOJSON_OUTSIDE, 100, 112.5, 28.2, step)
        await add_parcels(s, county_id, boxes)
        await s.commit()
    return inspector


@dataclass(slots=True)
class Fetched:
    """A whole layer fetched page by page: wall time (s), bytes, features, pages."""

    seconds: float
    size: int
    features: int
    pages: int


async def _asgi_get(
    app: Any, path: str, query: str, headers: dict[str, str]
) -> tuple[int, int, int, bytes]:
    """GET through the app's ASGI callable, reading the streamed body chunk by chunk without
    keeping it (the test client would hold a whole page): status, bytes, features, the tail."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    done = asyncio.Event()
    state = {"status": 0, "size": 0, "features": 0, "tail": b""}
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            joined = state["tail"] + body
            state["features"] += joined.count(b'"type": "Feature"') - state["tail"].count(
                b'"type": "Feature"'
            )
            state["size"] += len(body)
            state["tail"] = joined[-64:]
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    return state["status"], state["size"], state["features"], state["tail"]


async def _whole_layer(app: Any, headers: dict[str, str]) -> Fetched:
    size = features = pages = 0
    after: str | None = None
    t0 = time.perf_counter()
    while True:
        query = f"after={after}" if after else ""
        status, n, count, tail = await _asgi_get(app, "/api/v1/sync/layers/parcels", query, headers)
        assert status == 200, status
        size, features, pages = size + n, features + count, pages + 1
        after = msgspec.json.decode(tail.rpartition(b'"next": ')[2][:-1])
        if after is None:
            break
    return Fetched(time.perf_counter() - t0, size, features, pages)


async def _one_query(engine: Any, who: Principal) -> Fetched:
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        t0 = time.perf_counter()
        text = await raw.fetchval(_ONE_QUERY, who.county_id, who.user_id, False)
        took = time.perf_counter() - t0
    return Fetched(took, len(text.encode()), text.count('"type": "Feature"'), 1)


async def _peak(work: Any) -> tuple[Any, float]:
    """``await work()`` under tracemalloc: its result and the Python peak in MiB."""
    tracemalloc.start()
    try:
        result = await work()
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


async def _geojson(found: Any) -> list[tuple[str, str, str]]:
    """The 100,000-parcel layer: one ``json_agg`` query run directly, then ``GetLayerGeoJson``
    through the app over all its pages; wall time (median of 3) and Python peak."""
    # loading 110,000 parcels at once is background work: no statement timeout
    engine = create_engine(DatabaseSettings(url=found.database_url).for_background_work())
    await Migrator(engine, MODEL_MODULES).upgrade()
    inspector = await _geojson_world(create_session_factory(engine))
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")
    await _one_query(engine, inspector)  # warm-up (caches)
    base = [await _one_query(engine, inspector) for _ in range(GEOJSON_RUNS)]
    _, base_peak = await _peak(lambda: _one_query(engine, inspector))
    app = create_app(_app_settings(found))
    async with app.lifespan():  # requests go straight to the app's ASGI callable
        headers = {"Authorization": f"Bearer {app.state.tokens.access_token(inspector)}"}
        await _whole_layer(app, headers)  # warm-up
        paged = [await _whole_layer(app, headers) for _ in range(GEOJSON_RUNS)]
        _, paged_peak = await _peak(lambda: _whole_layer(app, headers))
    await engine.dispose()
    one = statistics.median(f.seconds for f in base)
    took = statistics.median(f.seconds for f in paged)
    last = paged[-1]
    assert last.features == base[-1].features == GEOJSON_PARCELS, (last, base[-1])
    return [
        (
            f"GetLayerGeoJson, {GEOJSON_PARCELS:,} parcels, every page (median of {GEOJSON_RUNS})",
            f"baseline one json_agg query {one:.2f} s, {base[-1].size / 1e6:.1f} MB, "
            f"Python peak {base_peak:.1f} MiB; paged {took:.2f} s (×{took / one:.2f}) in "
            f"{last.pages} pages, {last.size / 1e6:.1f} MB, Python peak {paged_peak:.1f} MiB",
            "≤ 1.3× one query, peak bounded",
        )
    ]


# -- vector tiles --------------------------------------------------------------------------
TILE_SITES = 1_000
TILE_SITES_OUTSIDE = 200
TILE_ZOOMS = (12, 14)
#: the GeoJSON world's area, where the tiles are asked for
_TILE_AREA = (111.2, 28.2, 111.52, 28.513)


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    rad = math.radians(lat)
    y = (1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def _area_tiles(z: int, most: int) -> list[tuple[int, int]]:
    """The tiles over the area at zoom ``z``, at most ``most`` of them from its middle."""
    west, south, east, north = _TILE_AREA
    x0, y1 = _tile_xy(west, south, z)
    x1, y0 = _tile_xy(east, north, z)
    tiles = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    tiles.sort(key=lambda t: (t[0] - cx) ** 2 + (t[1] - cy) ** 2)
    return tiles[:most]


async def _tile_sites(factory: Any, inspector: Principal) -> None:
    """``TILE_SITES`` mine sites in the inspector's area (``TILE_SITES_OUTSIDE`` more out of
    it) in one register version, then one status change per site in the area: a
    register of ``TILE_SITES + 1`` versions, each after the first holding one site."""
    from geofence.mines import set_site_status, write_sites  # noqa: PLC0415

    west, south, east, north = _TILE_AREA
    cols = 40
    dx, dy = (east - west) / cols, (north - south) / (TILE_SITES // cols)
    places = [(west + (i % cols + 0.5) * dx, south + (i // cols + 0.5) * dy)
              for i in range(TILE_SITES)]  # fmt: skip
    places += [(112.5 + i * 0.001, 28.3) for i in range(TILE_SITES_OUTSIDE)]
    sites = [
        {"code": f"M{i:05d}", "site_kind": "mine", "name": f"矿点{i}", "mineral": "",
         "closed_on": None, "closure_method": "sealed", "status": "closed",
         "signboard": False, "signboard_text": "", "geometry": shapely.Point(lon, lat)}
        for i, (lon, lat) in enumerate(places)
    ]  # fmt: skip
    captain = await _user(factory, inspector.county_id, Role.CAPTAIN, "tile-captain")
    async with factory() as s:
        _, rows = await write_sites(s, inspector.county_id, sites)
        await s.commit()
    async with factory() as s:
        for row in rows[:TILE_SITES]:
            await set_site_status(s, captain, row.id, "signs_of_reopening")
        await s.commit()


async def _get_tile(client: Any, path: str, headers: dict[str, str]) -> tuple[float, bytes]:
    resp = await client.get(path, headers=headers)
    assert resp.status_code == 200, resp.text
    return float(resp.headers["server-timing"].partition(";dur=")[2]), resp.content


async def _tiles(found: Any) -> list[tuple[str, str, str]]:
    """``GetTile`` over the 100,000-parcel area: parcels, and the mine sites after a status
    change of each; server time per tile (median, p95 of the tiles, best of 3 runs)."""
    # loading the world is background work: no statement timeout on a busy machine
    engine = create_engine(DatabaseSettings(url=found.database_url).for_background_work())
    await Migrator(engine, MODEL_MODULES).upgrade()
    factory = create_session_factory(engine)
    inspector = await _geojson_world(factory)
    await _tile_sites(factory, inspector)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")
    await engine.dispose()
    rows: list[tuple[str, str, str]] = []
    app = create_app(_app_settings(found))
    async with AsyncTestClient(app=app) as client:
        headers = {"Authorization": f"Bearer {app.state.tokens.access_token(inspector)}"}
        for layer in ("parcels", "mine_sites"):
            for z in TILE_ZOOMS:
                paths = [f"/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt" for x, y in _area_tiles(z, 25)]
                size = features = 0
                for path in paths:  # warm-up, and what the tiles hold
                    _, data = await _get_tile(client, path, headers)
                    size = max(size, len(data))
                    features += sum(len(t.features) for t in decode_tile(data).values())
                best: list[float] = [math.inf] * len(paths)
                for _ in range(3):
                    for i, path in enumerate(paths):
                        best[i] = min(best[i], (await _get_tile(client, path, headers))[0])
                p95 = statistics.quantiles(best, n=20)[-1]
                rows.append((
                    f"GetTile {layer} z{z}, {len(paths)} tiles over the area",
                    f"median {statistics.median(best):.1f} ms, p95 {p95:.1f} ms; "
                    f"{features:,} features, largest tile {size / 1e3:.1f} kB",
                    "",
                ))  # fmt: skip
    return rows


async def tiles_only() -> None:
    """The vector-tile part alone (``python -c 'from tests.benchmarks.bench_sync import *;
    asyncio.run(tiles_only())'``)."""
    with local_services("patrol-bench-sync-") as found:
        _print_table(await _tiles(found))


async def geojson_only() -> None:
    """The layer GeoJSON part alone (``python -c 'from tests.benchmarks.bench_sync import *;
    asyncio.run(geojson_only())'``)."""
    with local_services("patrol-bench-sync-") as found:
        _print_table(await _geojson(found))


def _app_settings(found: Any) -> Settings:
    base = Settings()
    return replace(
        base,
        data_dir=found.workdir,
        database=DatabaseSettings(url=found.database_url, pool_size=5),
        object_store=found.object_store,
        auth=AuthSettings(secret_key=secrets.token_urlsafe(48)),
        server=replace(base.server, run_worker_in_process=False),
    )


def _print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | result | target |")
    print(f"|{'-' * (width + 2)}|--------|--------|")
    for name, value, target in rows:
        print(f"| {name.ljust(width)} | {value} | {target} |")


async def paging_only() -> None:
    """The paging part alone (``python -c 'from tests.benchmarks.bench_sync import *; ...'``)."""
    with local_services("patrol-bench-sync-") as found:
        _print_table(await _paging(found))


async def _steady(found: Any) -> list[tuple[str, str, str]]:
    """The steady-state rows and the push of findings."""
    url = found.database_url
    engine = create_engine(DatabaseSettings(url=url))
    await Migrator(engine, MODEL_MODULES).upgrade()
    inspector, area_id = await _world(create_session_factory(engine))
    async with engine.begin() as conn:  # as autovacuum would soon after such a load
        await conn.exec_driver_sql("ANALYZE")
    await engine.dispose()
    app = create_app(_app_settings(found))
    async with AsyncTestClient(app=app) as client:
        headers = {"Authorization": f"Bearer {app.state.tokens.access_token(inspector)}"}
        await _initial(client, headers, msgpack=False)  # warm-up (connections, caches)
        js = [await _initial(client, headers, msgpack=False) for _ in range(INITIALS)]
        mp = [await _initial(client, headers, msgpack=True) for _ in range(INITIALS)]
        _, js_size, js_z = js[-1][1:]
        page, mp_size, mp_z = mp[-1][1:]
        incr: list[Took] = []
        cursor = page["cursor"]
        for _ in range(50):
            took, page, _ = await _timed(client, "/api/v1/sync/pull", {"cursor": cursor}, headers)
            incr.append(took)
            assert not any(ch["upserts"] for ch in page["changes"].values())
        pushes: list[Took] = []
        replays: list[Took] = []
        statuses: set[str] = set()
        for _ in range(PUSHES):  # a new patrol each time; then the same batch again
            ops = _push_ops(area_id)
            took, answer, _ = await _timed(client, "/api/v1/sync/push", {"ops": ops}, headers)
            pushes.append(took)
            statuses |= {r["status"] for r in answer["receipts"]}
            took, again, _ = await _timed(client, "/api/v1/sync/push", {"ops": ops}, headers)
            replays.append(took)
            assert again["receipts"] == answer["receipts"]
        finding_rows = await _finding_pushes(client, headers, area_id)
    rows = [
        (f"initial pull, JSON (5,000 features + 1,000 records), median of {INITIALS}",
         _median([t for t, *_ in js]), "≤ 500 ms"),
        (f"initial pull, MessagePack, median of {INITIALS}",
         _median([t for t, *_ in mp]), "≤ 500 ms"),
        ("incremental pull, no changes (median of 50)", _median(incr, 1), "≤ 20 ms"),
        (f"push of {len(ops)} operations ({'/'.join(sorted(statuses))}), "
         f"best / median of {PUSHES}", f"{_best(pushes)} / {_median(pushes)}", "≤ 1000 ms"),
        ("same push replayed (stored receipts), best / median",
         f"{_best(replays)} / {_median(replays)}", ""),
        ("initial payload JSON raw / gzip", f"{js_size / 1e6:.2f} / {js_z / 1e6:.2f} MB", ""),
        ("initial payload MessagePack raw / gzip",
         f"{mp_size / 1e6:.2f} / {mp_z / 1e6:.2f} MB", ""),
    ]  # fmt: skip
    return rows + finding_rows


# -- a push of findings --------------------------------------------------------------------
FINDING_OPS = 500


def _finding_ops(area_id: Any) -> list[dict[str, Any]]:
    """Start, 498 findings over the parcel grid (a declared area each, some at targets), end:
    every finding is checked, its land use worked out, screened and counted as a visit."""
    now = datetime.now(UTC)
    pid = uuid7()
    start = now - timedelta(hours=3)
    ops: list[dict[str, Any]] = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(pid),
         "areaId": str(area_id), "startedAt": start.isoformat()}
    ]  # fmt: skip
    for i in range(FINDING_OPS - 2):
        ops.append(
            {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(pid),
             "findingId": str(uuid7()), "foundAt": (start + timedelta(seconds=20 * i)).isoformat(),
             "projectName": f"占地{i}", "constructionStatus": "levelled",
             "lon": LON - 0.19 + (i % 71) * 0.38 / 71 + 0.001,
             "lat": LAT - 0.19 + (i // 71) * 0.38 / 71 + 0.001 if i % 5 else LAT,
             "accuracyM": 8.0, "occupiedAreaM2": 200.0 + i}
        )  # fmt: skip
    ops.append(
        {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(pid),
         "endedAt": (now - timedelta(minutes=1)).isoformat()}
    )  # fmt: skip
    return ops


class _CheckClock:
    """Time spent in the finding checks (:class:`patrol.finding_checks.FindingChecks`'s
    ``locate`` and ``assess``: location check, land use, site reviews, screening) and in
    recording their visits, while installed."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.parts: dict[str, float] = {}
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, owner: Any, name: str, when: Any = None) -> None:
        original = getattr(owner, name)
        clock = self

        async def timed(*args: Any, **kw: Any) -> Any:
            if when is not None and not when(*args, **kw):
                return await original(*args, **kw)
            t0 = time.perf_counter()
            try:
                return await original(*args, **kw)
            finally:
                took = time.perf_counter() - t0
                clock.spent += took
                clock.parts[name] = clock.parts.get(name, 0.0) + took

        self._saved.append((owner, name, original))
        setattr(owner, name, timed)

    def __enter__(self) -> _CheckClock:
        self._wrap(FindingChecks, "locate")
        self._wrap(FindingChecks, "assess")
        self._wrap(PatrolService, "_visits_at_many", lambda *a, **_: a[-1] == VISIT_SOURCE)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)


async def _finding_pushes(
    client: Any, headers: dict[str, str], area_id: Any
) -> list[tuple[str, str, str]]:
    """Pushes of 500 operations that are findings (each on a new patrol), with the time the
    finding checks took inside each push."""
    took_all: list[Took] = []
    checks: list[float] = []
    findings = FINDING_OPS - 2
    with _CheckClock() as clock:
        for _ in range(PUSHES):
            ops = _finding_ops(area_id)
            clock.spent = 0.0
            took, answer, _ = await _timed(client, "/api/v1/sync/push", {"ops": ops}, headers)
            assert {r["status"] for r in answer["receipts"]} == {"applied"}, answer
            took_all.append(took)
            checks.append(clock.spent * 1000)
    check = statistics.median(checks)
    parts = ", ".join(f"{k} {v * 1000 / PUSHES:.0f} ms" for k, v in clock.parts.items())
    print(f"Finding checks per push of {findings} findings (mean of {PUSHES}): {parts}\n")
    share = statistics.median(c / t.server for c, t in zip(checks, took_all, strict=True))
    return [
        (f"push of {FINDING_OPS} operations: {findings} findings (checked, screened, visits), "
         f"best / median of {PUSHES}", f"{_best(took_all)} / {_median(took_all)}", "≤ 1000 ms"),
        ("finding checks inside that push: per finding (all of them), median",
         f"{check / findings:.3f} ms ({check:.0f} ms, {share:.0%} of the push)", ""),
    ]  # fmt: skip


async def push_only() -> None:
    """The steady-state part alone (``python -c 'from tests.benchmarks.bench_sync import *;
    asyncio.run(push_only())'``)."""
    with local_services("patrol-bench-sync-") as found:
        _print_table(await _steady(found))


async def main() -> None:
    with local_services("patrol-bench-sync-") as found:
        paging = await _paging(found)
        paging += await _geojson(found)
        paging += await _tiles(found)
        rows = await _steady(found)
        print("Times are server time (the Server-Timing header), then in brackets as the")
        print("in-process test client saw them.\n")
        _print_table(paging + rows)


if __name__ == "__main__":
    asyncio.run(main())
