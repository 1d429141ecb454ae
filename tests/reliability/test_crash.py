"""Acknowledged means durable: what the API answered 200 / ``applied`` for is still there
after PostgreSQL crashes (``pg_ctl stop -m immediate`` right after the answer) and after the
API process is SIGKILLed. The cluster runs with the embedded default's settings.

(With the old embedded settings, ``fsync``, ``synchronous_commit`` and ``full_page_writes``
off, the database crash case loses the last acknowledged work.)
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from infra.db import create_engine, create_session_factory
from infra.ids import uuid7
from tests import clock
from tests.conftest import create_county
from tests.evidence import media
from tests.reliability.conftest import ApiProcess, Stack, minter, own_stack, prepare
from tests.sync.conftest import SyncWorld, build_sync_world
from tests.sync.test_push import finding, points, start

WHEN = datetime(2026, 11, 20, 10, 30, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture(scope="module")
def crash_stack() -> Iterator[Stack]:
    """Its own durable cluster and S3 server: these tests crash them."""
    with own_stack("patrol-crash-") as found:
        yield found


@dataclass
class Acknowledged:
    """Everything the API said it has."""

    op_ids: list[uuid.UUID] = field(default_factory=list)
    patrols: list[uuid.UUID] = field(default_factory=list)
    findings: list[uuid.UUID] = field(default_factory=list)
    points: list[uuid.UUID] = field(default_factory=list)
    evidence: list[uuid.UUID] = field(default_factory=list)
    batches: list[tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=list)


async def _arrange(stack: Stack) -> SyncWorld:
    await prepare(stack.settings)
    engine = create_engine(stack.settings.database)
    try:
        factory = create_session_factory(engine)
        county = await create_county(factory, minter(stack.settings))
        return await build_sync_world(county, factory)
    finally:
        await engine.dispose()


async def _push(http: httpx.AsyncClient, world: SyncWorld, acked: Acknowledged) -> None:
    patrol, found = uuid7(), uuid7()
    track = points(patrol, 5)
    ops = [start(patrol, world.area_id), track, finding(patrol, found)]
    body = {"ops": ops, "deviceTime": clock.now().isoformat()}
    resp = await http.post("/api/v1/sync/push", json=body, headers=world.headers())
    assert resp.status_code == 200, resp.text
    receipts = resp.json()["receipts"]
    assert [r["status"] for r in receipts] == ["applied"] * 3, receipts
    acked.op_ids += [uuid.UUID(op["opId"]) for op in ops]
    acked.patrols.append(patrol)
    acked.findings.append(found)
    acked.points += [uuid.UUID(p["id"]) for p in track["points"]]
    acked.batches.append((body, receipts))


async def _upload(http: httpx.AsyncClient, world: SyncWorld, acked: Acknowledged) -> None:
    exif = media.exif_bytes(lon=112.05, lat=28.5, when=WHEN, direction=90.0, hpe=5.0)
    data = media.jpeg(320, 240, exif=exif)
    evidence_id = uuid7()
    url = f"/api/v1/evidence/uploads/{evidence_id}"
    md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    declaration = {
        "sha256": hashlib.sha256(data).hexdigest(), "sizeBytes": len(data),
        "contentType": "image/jpeg", "fileName": "IMG_0001.jpg", "contentMd5": md5,
        "claimedCapturedAt": WHEN.isoformat(),
        "fix": {"lon": 112.05, "lat": 28.5, "accuracyM": 6.0, "crs": "wgs84"},
    }  # fmt: skip
    created = await http.post(url, json=declaration, headers=world.headers())
    assert created.status_code == 200, created.text
    (put,) = created.json()["requests"]
    sent = await http.request(put["method"], put["url"], content=data, headers=put["headers"])
    assert sent.status_code == 200, sent.text
    done = await http.post(f"{url}/complete", headers=world.headers())
    assert done.status_code == 200, done.text
    acked.evidence.append(evidence_id)


async def _acknowledge(api: ApiProcess, world: SyncWorld) -> Acknowledged:
    """Pushes and an accepted photo, the last push answered just before the caller crashes
    something."""
    acked = Acknowledged()
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as http:
        await _push(http, world, acked)
        await _upload(http, world, acked)
        await _push(http, world, acked)
    return acked


async def _assert_all_kept(stack: Stack, acked: Acknowledged) -> None:
    engine = create_engine(stack.settings.database)
    checks = {
        "receipts": ("SELECT count(*) FROM sync_receipts WHERE op_id = ANY(:ids)", acked.op_ids),
        "patrols": ("SELECT count(*) FROM patrol_sessions WHERE id = ANY(:ids)", acked.patrols),
        "findings": ("SELECT count(*) FROM patrol_findings WHERE id = ANY(:ids)", acked.findings),
        "points": ("SELECT count(*) FROM patrol_track_points WHERE id = ANY(:ids)", acked.points),
        "evidence": ("SELECT count(*) FROM evidence WHERE id = ANY(:ids)", acked.evidence),
        "custody": (
            "SELECT count(DISTINCT subject_id) FROM evidence_custody WHERE subject_id = ANY(:ids)",
            acked.evidence,
        ),
        # each accepted evidence's derivatives job committed with it
        "derivatives jobs": (
            "SELECT count(DISTINCT args->>'evidence_id') FROM procrastinate_jobs"
            " WHERE task_name = 'evidence:derivatives'"
            " AND (args->>'evidence_id')::uuid = ANY(:ids)",
            acked.evidence,
        ),
    }
    try:
        async with engine.connect() as conn:
            found = {
                name: await conn.scalar(text(sql), {"ids": ids})
                for name, (sql, ids) in checks.items()
            }
    finally:
        await engine.dispose()
    expected = {name: len(ids) for name, (_, ids) in checks.items()}
    assert found == expected


async def _replays_answer_the_same(api: ApiProcess, world: SyncWorld, acked: Acknowledged) -> None:
    """The phone, not sure its last push arrived, sends every batch again."""
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as http:
        for body, receipts in acked.batches:
            resp = await http.post("/api/v1/sync/push", json=body, headers=world.headers())
            assert resp.status_code == 200, resp.text
            assert resp.json()["receipts"] == receipts
        for evidence_id in acked.evidence:
            resp = await http.get(f"/api/v1/evidence/{evidence_id}", headers=world.headers())
            assert resp.status_code == 200, resp.text


async def test_acknowledged_work_survives_a_database_crash(crash_stack: Stack) -> None:
    world = await _arrange(crash_stack)
    api = ApiProcess(crash_stack)
    api.start()
    try:
        acked = await _acknowledge(api, world)
        crash_stack.cluster.stop(mode="immediate")  # a crash: no checkpoint, no flush
        crash_stack.start_database()
        await _assert_all_kept(crash_stack, acked)
        api.wait_ready()
        await _replays_answer_the_same(api, world, acked)
    finally:
        api.stop()


async def test_acknowledged_work_survives_killing_the_api(crash_stack: Stack) -> None:
    world = await _arrange(crash_stack)
    api = ApiProcess(crash_stack)
    api.start()
    try:
        acked = await _acknowledge(api, world)
        api.kill()
        await _assert_all_kept(crash_stack, acked)
        api.start()
        await _replays_answer_the_same(api, world, acked)
    finally:
        api.stop()
