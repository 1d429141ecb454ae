"""Background layer imports through the real app: 202 with a job, progress, result, scope.

The app here is built with a tiny ``PATROL_LAYER_IMPORT_JOB_BYTES`` so that a few-kilobyte
file takes the background path; the shared app (8 MiB) keeps answering small uploads at once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from geofence.models import ImportJob
from infra.db import create_engine, create_session_factory
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import LayerSettings, Settings
from tests import clock
from tests.conftest import CountyFixture
from tests.jobs import run_jobs

IMPORT = "/api/v1/geofence/layers/import"
JOBS = "/api/v1/geofence/layers/import-jobs"
THRESHOLD = 2_000
X0, Y0, D = 112.10, 28.50, 0.001
MakeCounty = Callable[..., Awaitable[CountyFixture]]


@pytest.fixture
async def jobs_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    small = replace(settings, layers=LayerSettings(import_job_bytes=THRESHOLD))
    async with AsyncTestClient(app=create_app(small), raise_server_exceptions=False) as http:
        yield http


def _layer(cells: int, *, outside: int = 0) -> bytes:
    """``cells`` parcels in the county, then ``outside`` far away (rejected on import)."""
    features = [
        {
            "type": "Feature",
            "properties": {"DLBM": "0103"},
            "geometry": mapping(shapely.box(X0 + i * D, Y0, X0 + (i + 1) * D, Y0 + D)),
        }
        for i in range(cells)
    ]
    features += [
        {
            "type": "Feature",
            "properties": {"DLBM": "0103"},
            "geometry": mapping(shapely.box(80 + i * D, 40, 80 + (i + 1) * D, 40 + D)),
        }
        for i in range(outside)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


async def _upload(
    http: AsyncTestClient[Litestar],
    county: CountyFixture,
    content: bytes,
    role: Role = Role.ADMIN,
    **fields: str,
) -> Any:
    return await http.post(
        IMPORT,
        headers=county.headers(role),
        files={"file": ("parcels.geojson", content, "application/octet-stream")},
        data={"kind": "parcels", **fields},
    )


async def _settled(
    http: AsyncTestClient[Litestar], county: CountyFixture, location: str
) -> dict[str, Any]:
    """Run the queued jobs as a worker would, then poll the job until it is done or failed
    (generous: a loaded machine is slow)."""
    settings: Settings = http.app.state.settings
    engine = create_engine(settings.database.for_background_work())  # on this test's loop
    try:
        store = S3ObjectStore(settings.object_store)
        await run_jobs(settings.database, create_session_factory(engine), store, settings.evidence)
    finally:
        await engine.dispose()
    deadline = time.monotonic() + 60
    while True:
        resp = await http.get(location, headers=county.headers(Role.ADMIN))
        assert resp.status_code == 200, resp.text
        job: dict[str, Any] = resp.json()
        if job["state"] in {"done", "failed"} or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.1)


async def test_a_large_upload_becomes_a_job_with_progress_and_result(
    jobs_client: AsyncTestClient[Litestar], make_county: MakeCounty
) -> None:
    county = await make_county()
    content = _layer(30, outside=2)
    assert len(content) > THRESHOLD
    resp = await _upload(jobs_client, county, content)
    assert resp.status_code == 202, resp.text
    queued = resp.json()
    assert queued["state"] == "queued"  # until a worker takes it
    assert queued["kind"] == "parcels" and queued["sourceBytes"] == len(content)
    location = resp.headers["location"]
    assert location == f"{JOBS}/{queued['id']}"

    job = await _settled(jobs_client, county, location)
    assert job["state"] == "done", job
    assert (job["read"], job["stored"], job["rejected"]) == (32, 30, 2)
    assert job["total"] == 32  # the progress bar's end, however soon the job was done
    assert [r["feature"] for r in job["rejections"]] == [31, 32]
    assert (job["rejections"][0]["code"], job["rejections"][0]["reason"]) == (
        "feature_outside_county",
        "位于本县范围之外（坐标系是否有误？）",
    )
    result = job["result"]
    assert result["versionNo"] == 1 and result["stored"] == 30
    assert job["error"] is None and job["finishedAt"] is not None

    version = await jobs_client.get(
        f"/api/v1/geofence/layers/versions/{result['layerVersionId']}",
        headers=county.headers(Role.INSPECTOR),
    )
    assert version.status_code == 200, version.text
    assert version.json()["version"]["stored"] == 30


async def test_the_upload_waits_in_the_store_for_any_worker_and_a_dry_run_stores_nothing(
    jobs_client: AsyncTestClient[Litestar], make_county: MakeCounty
) -> None:
    county = await make_county()
    store = S3ObjectStore(jobs_client.app.state.settings.object_store)
    content = _layer(30)
    resp = await _upload(jobs_client, county, content, dry_run="true")
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    staged = f"imports/{job_id}/upload.geojson"
    info = await store.head(staged)  # staged: the API process's own copy is gone already
    assert info is not None and info.size == len(content)

    job = await _settled(jobs_client, county, resp.headers["location"])
    assert job["state"] == "done", job
    assert job["result"]["dryRun"] is True and job["result"]["stored"] == 30
    assert job["result"]["versionNo"] == 0
    assert await store.head(staged) is None  # the worker deleted it
    versions = await jobs_client.get(
        "/api/v1/geofence/layers/versions", headers=county.headers(Role.ADMIN)
    )
    assert versions.status_code == 200 and versions.json() == []


async def test_a_small_upload_is_still_answered_at_once(
    jobs_client: AsyncTestClient[Litestar], make_county: MakeCounty
) -> None:
    county = await make_county()
    content = _layer(2)
    assert len(content) <= THRESHOLD
    resp = await _upload(jobs_client, county, content)
    assert resp.status_code == 200, resp.text
    assert resp.json()["stored"] == 2 and "location" not in resp.headers


async def test_a_job_that_cannot_import_fails_with_the_reason(
    jobs_client: AsyncTestClient[Litestar], make_county: MakeCounty
) -> None:
    county = await make_county()
    resp = await _upload(jobs_client, county, b"{" + b" " * THRESHOLD + b"not a layer")
    assert resp.status_code == 202, resp.text
    job = await _settled(jobs_client, county, resp.headers["location"])
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "unsupported_file"
    assert job["result"] is None


async def test_jobs_are_for_admins_of_their_county(
    jobs_client: AsyncTestClient[Litestar], make_county: MakeCounty
) -> None:
    county, other = await make_county(), await make_county()
    resp = await _upload(jobs_client, county, _layer(30))
    assert resp.status_code == 202, resp.text
    location = resp.headers["location"]
    await _settled(jobs_client, county, location)

    foreign = await jobs_client.get(location, headers=other.headers(Role.ADMIN))
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "import_job_not_found"
    inspector = await jobs_client.get(location, headers=county.headers(Role.INSPECTOR))
    assert inspector.status_code == 403
    missing = await jobs_client.get(f"{JOBS}/{uuid.uuid4()}", headers=county.headers(Role.ADMIN))
    assert missing.status_code == 404
    refused = await _upload(jobs_client, county, _layer(30), role=Role.CAPTAIN)
    assert refused.status_code == 403


async def _left_running(
    session_factory: async_sessionmaker[AsyncSession],
    county: CountyFixture,
    age_s: float,
    state: str = "running",
) -> uuid.UUID:
    """A job as a process that died mid-import leaves it: running, last heartbeat ``age_s``
    (``state="queued"``: a job still waiting for a worker)."""
    beat = clock.now() - timedelta(seconds=age_s)
    async with session_factory() as session:
        row = ImportJob(
            county_id=county.id, kind="parcels", state=state, source_name="big.gpkg",
            source_bytes=10**9, options={}, read_count=5000, stored_count=5000,
            repaired_count=0, rejected_count=0, issues={}, runner="gone:1",
            created_at=beat, started_at=beat, heartbeat_at=beat,
        )  # fmt: skip
        session.add(row)
        await session.commit()
        return row.id


async def test_a_job_left_running_by_a_dead_process_is_reported_failed(
    client: AsyncTestClient[Litestar],
    make_county: MakeCounty,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county = await make_county()
    fresh = await _left_running(session_factory, county, age_s=1)
    stale = await _left_running(session_factory, county, age_s=600)
    headers = county.headers(Role.ADMIN)

    running = (await client.get(f"{JOBS}/{fresh}", headers=headers)).json()
    assert running["state"] == "running" and running["read"] == 5000
    failed = (await client.get(f"{JOBS}/{stale}", headers=headers)).json()
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "import_abandoned"
    # a job waiting for a worker is not abandoned, however long it waits
    waiting = await _left_running(session_factory, county, age_s=600, state="queued")
    assert (await client.get(f"{JOBS}/{waiting}", headers=headers)).json()["state"] == "queued"


async def test_start_up_fails_the_jobs_dead_processes_left(
    settings: Settings,
    make_county: MakeCounty,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county = await make_county()
    stale = await _left_running(session_factory, county, age_s=600)
    async with AsyncTestClient(app=create_app(settings), raise_server_exceptions=False):
        pass  # the lifespan ran
    async with session_factory() as session:
        row = await session.get_one(ImportJob, stale)
        assert row.state == "failed"
        assert row.error == {
            "code": "import_abandoned",
            "detail": "the server running the import stopped before it finished; "
            "upload the file again",
        }
