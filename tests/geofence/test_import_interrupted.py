"""A layer import cut off by the server shutting down is reported failed, with the reason the
admin can act on (upload again), and its partial layer is not published."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from geofence.jobs import ImportJobRunner
from geofence.models import ImportJob, LayerVersion
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import LayerSettings, Settings
from tests.geofence.test_import_jobs import JOBS, THRESHOLD, MakeCounty, _layer, _upload


async def _state(factory: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> str:
    async with factory() as session:
        return str(await session.scalar(select(ImportJob.state).where(ImportJob.id == job_id)))


async def test_an_import_cut_off_by_shutdown_fails_with_import_interrupted(
    settings: Settings,
    make_county: MakeCounty,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county = await make_county()
    small = replace(settings, layers=LayerSettings(import_job_bytes=THRESHOLD))
    async with AsyncTestClient(app=create_app(small), raise_server_exceptions=False) as http:
        resp = await _upload(http, county, _layer(400))
        assert resp.status_code == 202, resp.text
        job_id = uuid.UUID(resp.json()["id"])

        # a worker takes the job, one feature per batch, and the process is stopped mid-way
        runner = ImportJobRunner(
            session_factory, S3ObjectStore(settings.object_store), heartbeat_s=0.05, batch_size=1
        )
        work = asyncio.create_task(runner.run_job(job_id))
        deadline = time.monotonic() + 60
        while await _state(session_factory, job_id) != "running":
            assert time.monotonic() < deadline and not work.done()
            await asyncio.sleep(0.005)
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        assert work.cancelled()

        job = (await http.get(f"{JOBS}/{job_id}", headers=county.headers(Role.ADMIN))).json()
        assert job["state"] == "failed"
        assert job["error"]["code"] == "import_interrupted"
        assert "重新上传" in job["error"]["detail"]
        assert job["finishedAt"] is not None and job["result"] is None

    async with session_factory() as session:
        versions = await session.scalar(
            select(func.count())
            .select_from(LayerVersion)
            .where(LayerVersion.county_id == county.id)
        )
    assert versions == 0  # nothing half-imported is served to phones
