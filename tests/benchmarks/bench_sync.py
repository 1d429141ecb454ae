"""Sync speed (issue 6), through the real app in process, on a scratch PostGIS.

An inspector whose area holds 5,000 parcels (reference features) and 1,000 records
(targets, patrols, findings). Measured: the initial pull (every page), an incremental pull
with no changes, a push of 500 operations, and the payload sizes of JSON vs MessagePack
(raw and gzip). Targets: ≤ 500 ms, ≤ 20 ms, ≤ 1 s. The push (400 point batches, 50 sign-ins,
48 findings, start and end of a patrol) runs five times, each on a new patrol, and each
batch is sent a second time to time the replay.

Times are server time, from the ``Server-Timing`` header every response carries (the target
is server time), with the time the in-process test client saw beside them.

Uses ``DATABASE_URL`` when set, otherwise starts a throwaway cluster.
"""

from __future__ import annotations

import asyncio
import gzip
import secrets
import statistics
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import shapely
from geoalchemy2.shape import from_shape
from litestar.testing import AsyncTestClient
from shapely.geometry import MultiPolygon, box

from api.app import create_app
from api.models import MODEL_MODULES
from infra.db import create_engine, create_session_factory
from infra.ids import uuid7
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.scope import Principal, Role
from infra.settings import AuthSettings, DatabaseSettings, ObjectStoreSettings, Settings
from patrol.areas import AreaService
from patrol.models import County, User
from patrol.sessions import PatrolService
from tests.sync.conftest import add_parcels

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


async def main() -> None:
    with local_services("patrol-bench-sync-", object_store=False) as found:
        workdir, url = found.workdir, found.database_url
        engine = create_engine(DatabaseSettings(url=url))
        await Migrator(engine, MODEL_MODULES).upgrade()
        inspector, area_id = await _world(create_session_factory(engine))
        async with engine.begin() as conn:  # as autovacuum would soon after such a load
            await conn.exec_driver_sql("ANALYZE")
        await engine.dispose()
        base = Settings()
        settings = replace(
            base,
            data_dir=workdir,
            database=DatabaseSettings(url=url, pool_size=5),
            object_store=ObjectStoreSettings(endpoint_url="http://127.0.0.1:9"),
            auth=AuthSettings(secret_key=secrets.token_urlsafe(48)),
            server=replace(base.server, run_worker_in_process=False),
        )
        app = create_app(settings)
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
                took, page, _ = await _timed(
                    client, "/api/v1/sync/pull", {"cursor": cursor}, headers
                )
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
        print("Times are server time (the Server-Timing header), then in brackets as the")
        print("in-process test client saw them.\n")
        width = max(len(r[0]) for r in rows)
        print(f"| {'measure'.ljust(width)} | result | target |")
        print(f"|{'-' * (width + 2)}|--------|--------|")
        for name, value, target in rows:
            print(f"| {name.ljust(width)} | {value} | {target} |")


if __name__ == "__main__":
    asyncio.run(main())
