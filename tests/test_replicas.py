"""Two API processes and two ``patrol worker`` processes on one database and one store.

What the deployment files promise (infra/deploy): replicas share nothing but PostgreSQL and
S3, so uploads completed through either API get their derivatives made exactly once by
whichever procrastinate worker takes the job, pushes alternated across the APIs are all
applied, and a layer imported through one API is what the other's location checks answer
from soon after.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import TokenMinter, build_jwt_auth
from evidence import CustodyLog
from infra.ids import uuid7
from infra.launchers import LocalServices, free_port
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.conftest import create_county
from tests.evidence import media
from tests.jobs import run_jobs
from tests.sync.conftest import SyncWorld, build_sync_world
from tests.sync.test_push import finding, points, start

PATROL = str(Path(sys.executable).with_name("patrol"))
WHEN = datetime(2026, 11, 20, 10, 30, 0, tzinfo=timezone(timedelta(hours=8)))
UPLOADS = 6
PUSHES = 6
CUSTODY_KEY = "r" * 40  # every process signs the county's custody chain with the same key


def _env(services: LocalServices, settings: Settings) -> dict[str, str]:
    """The environment of a ``patrol`` process on the session's database and store."""
    store = services.object_store
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "S3_"))}
    return {
        **keep,
        "DATABASE_URL": services.database_url,
        "S3_ENDPOINT_URL": store.endpoint_url,
        "S3_BUCKET": store.bucket,
        "S3_ACCESS_KEY_ID": store.access_key_id,
        "S3_SECRET_ACCESS_KEY": store.secret_access_key,
        "PATROL_SECRET_KEY": settings.auth.secret_key,
        "PATROL_PACKAGE_SIGNING_KEY": CUSTODY_KEY,
        "PATROL_DATA_DIR": str(settings.data_dir),
        "PATROL_INPROCESS_WORKER": "0",
        "PATROL_LOG_LEVEL": "warning",
    }


@contextlib.contextmanager
def _processes(env: dict[str, str], logs: Path, argvs: list[list[str]]) -> Iterator[None]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n, argv in enumerate(argvs):
            with (logs / f"proc-{n}.log").open("ab") as out:
                procs.append(
                    subprocess.Popen([PATROL, *argv], env=env, stdout=out, stderr=subprocess.STDOUT)
                )
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _ready(base: str, logs: Path) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError(f"{base} was not ready:\n{_tails(logs)}")


def _tails(logs: Path) -> str:
    return "\n".join(p.read_text()[-2000:] for p in sorted(logs.glob("*.log")))


async def _upload(http: httpx.AsyncClient, world: SyncWorld, n: int) -> uuid.UUID:
    exif = media.exif_bytes(lon=112.05, lat=28.5, when=WHEN, direction=90.0, hpe=5.0)
    data = media.jpeg(320 + n, 240, exif=exif)  # a different file each time
    evidence_id = uuid7()
    url = f"/api/v1/evidence/uploads/{evidence_id}"
    md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    declaration = {
        "sha256": hashlib.sha256(data).hexdigest(), "sizeBytes": len(data),
        "contentType": "image/jpeg", "fileName": f"IMG_{n:04}.jpg", "contentMd5": md5,
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
    return evidence_id


async def _push(http: httpx.AsyncClient, world: SyncWorld) -> list[str]:
    patrol = uuid7()
    ops = [start(patrol, world.area_id), points(patrol, 5), finding(patrol, uuid7())]
    body = {"ops": ops, "deviceTime": clock.now().isoformat()}
    resp = await http.post("/api/v1/sync/push", json=body, headers=world.headers())
    assert resp.status_code == 200, resp.text
    assert [r["status"] for r in resp.json()["receipts"]] == ["applied"] * 3
    return [op["opId"] for op in ops]


async def _parcels_version(http: httpx.AsyncClient, world: SyncWorld) -> str:
    """The parcels version a location check through this API answers from."""
    body = {"lon": 112.15, "lat": 28.55, "accuracyM": 10.0, "kinds": ["parcels"]}
    resp = await http.post("/api/v1/geofence/check", json=body, headers=world.headers())
    assert resp.status_code == 200, resp.text
    (ref,) = resp.json()["layerVersions"]
    version: str = ref["versionId"]
    return version


async def _import_parcels(http: httpx.AsyncClient, world: SyncWorld) -> str:
    feature = {"type": "Feature", "properties": {"DLBM": "0702"},
               "geometry": mapping(shapely.box(112.149, 28.549, 112.151, 28.551))}  # fmt: skip
    content = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    resp = await http.post(
        "/api/v1/geofence/layers/import",
        headers=world.headers(Role.ADMIN),
        files={"file": ("parcels.geojson", content, "application/octet-stream")},
        data={"kind": "parcels"},
    )
    assert resp.status_code == 200, resp.text
    version: str = resp.json()["layerVersionId"]
    return version


async def _count(
    factory: async_sessionmaker[AsyncSession], sql: str, ids: list[Any]
) -> list[tuple[Any, ...]]:
    async with factory() as session:
        return [tuple(row) for row in await session.execute(text(sql), {"ids": ids})]


@pytest.fixture
async def world(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[SyncWorld]:
    # Jobs other tests left queued would be run by the workers below: run them here first, so
    # the workers see only this test's jobs (their custody key is the same either way).
    store = S3ObjectStore(settings.object_store)
    await run_jobs(settings.database, session_factory, store, settings.evidence)
    tokens = TokenMinter(build_jwt_auth(settings.auth), settings.auth)
    county = await create_county(session_factory, tokens)
    yield await build_sync_world(county, session_factory)


async def test_two_apis_two_workers(
    services: LocalServices,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    world: SyncWorld,
    tmp_path: Path,
) -> None:
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    argvs = [["serve", "--no-demo", "--port", str(port)] for port in ports]
    argvs += [["worker"], ["worker"]]
    evidence: list[uuid.UUID] = []
    op_ids: list[str] = []
    with _processes(_env(services, settings), tmp_path, argvs):
        for base in bases:
            await _ready(base, tmp_path)
        async with (
            httpx.AsyncClient(base_url=bases[0], timeout=60) as first,
            httpx.AsyncClient(base_url=bases[1], timeout=60) as second,
        ):
            apis = (first, second)
            # both answer from the current parcels version; a new one imported through the
            # first is what both answer from soon after (each process asks the database which
            # versions are current at most every second)
            before = await _parcels_version(second, world)
            assert await _parcels_version(first, world) == before
            imported = await _import_parcels(first, world)
            for api in (second, first):
                seen = before
                for _ in range(200):
                    seen = await _parcels_version(api, world)
                    if seen == imported:
                        break
                    await asyncio.sleep(0.1)
                assert seen == imported, f"{api.base_url} never saw the new parcels version"
            for n in range(max(UPLOADS, PUSHES)):
                api = apis[n % 2]  # alternate, as a load balancer would
                if n < UPLOADS:
                    evidence.append(await _upload(api, world, n))
                if n < PUSHES:
                    op_ids += await _push(api, world)

        # the workers make every upload's derivatives (thumbnail and share copy at least)
        made: list[tuple[Any, ...]] = []
        for _ in range(1200):
            made = await _count(
                session_factory,
                "SELECT evidence_id FROM evidence_derivatives WHERE evidence_id = ANY(:ids)"
                " AND kind IN ('thumbnail', 'share') GROUP BY evidence_id HAVING count(*) = 2",
                evidence,
            )
            if len(made) == UPLOADS:
                break
            await asyncio.sleep(0.25)
        assert len(made) == UPLOADS, "the workers did not make every upload's derivatives"

    # each kind of each upload was made once: one row and one custody entry, no more
    entries = await _count(
        session_factory,
        "SELECT subject_id, details->>'kind', count(*) FROM evidence_custody"
        " WHERE subject_id = ANY(:ids) AND action = 'derivative_created'"
        " GROUP BY subject_id, details->>'kind'",
        evidence,
    )
    rows = await _count(
        session_factory,
        "SELECT evidence_id, kind, count(*) FROM evidence_derivatives"
        " WHERE evidence_id = ANY(:ids) GROUP BY evidence_id, kind",
        evidence,
    )
    assert {count for *_, count in entries} == {1}
    # one derivatives job per upload, run once by one of the workers
    jobs = await _count(
        session_factory,
        "SELECT (args->>'evidence_id')::uuid, status::text, attempts FROM procrastinate_jobs"
        " WHERE task_name = 'evidence:derivatives' AND (args->>'evidence_id')::uuid = ANY(:ids)",
        evidence,
    )
    assert sorted(jobs) == sorted((e, "succeeded", 1) for e in evidence)
    assert sorted((e, k) for e, k, _ in entries) == sorted((e, k) for e, k, _ in rows)
    assert {e for e, _, _ in rows} == set(evidence)
    # the two workers appended to one county chain without forking it
    async with session_factory() as session:
        report = await CustodyLog(CUSTODY_KEY.encode()).verify(session, world.county.id)
    assert report.ok, report.problems

    # every push through either API was applied and is there
    receipts = await _count(
        session_factory,
        "SELECT receipt->>'status', count(*) FROM sync_receipts WHERE op_id = ANY(:ids) GROUP BY 1",
        [uuid.UUID(op) for op in op_ids],
    )
    assert receipts == [("applied", 3 * PUSHES)]
    (patrols,) = await _count(
        session_factory,
        "SELECT count(*) FROM patrol_sessions WHERE county_id = ANY(:ids)",
        [world.county.id],
    )
    assert patrols == (PUSHES,)
