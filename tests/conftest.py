"""Shared fixtures: a real PostGIS cluster and a real ``rclone serve s3``, the real app.

Both services are started once per test session (or taken from ``DATABASE_URL`` /
``S3_ENDPOINT_URL`` when those are set) and torn down at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.models import MODEL_MODULES
from infra.db import create_engine, create_session_factory
from infra.launchers import PostgisCluster, RcloneS3
from infra.migrate import Migrator
from infra.settings import AuthSettings, DatabaseSettings, ObjectStoreSettings, Settings


@dataclass
class Services:
    database_url: str
    object_store: ObjectStoreSettings
    workdir: Path


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    workdir = Path(tempfile.mkdtemp(prefix="patrol-tests-"))
    workdir.chmod(0o755)  # the cluster runs as an unprivileged user when tests run as root
    cluster: PostgisCluster | None = None
    rclone: RcloneS3 | None = None
    try:
        database_url = os.environ.get("DATABASE_URL", "")
        if not database_url:
            cluster = PostgisCluster(workdir / "postgres")
            cluster.init()
            cluster.start()
            database_url = cluster.url
        if os.environ.get("S3_ENDPOINT_URL"):
            store = ObjectStoreSettings(
                endpoint_url=os.environ["S3_ENDPOINT_URL"],
                bucket=os.environ.get("S3_BUCKET", "patrol-test"),
                access_key_id=os.environ.get("S3_ACCESS_KEY_ID", ""),
                secret_access_key=os.environ.get("S3_SECRET_ACCESS_KEY", ""),
                region=os.environ.get("S3_REGION", "us-east-1"),
            )
        else:
            rclone = RcloneS3(workdir / "objects", bucket="patrol-test")
            rclone.start()
            store = ObjectStoreSettings(
                endpoint_url=rclone.endpoint_url,
                bucket="patrol-test",
                access_key_id=rclone.access_key,
                secret_access_key=rclone.secret_key,
            )
        yield Services(database_url=database_url, object_store=store, workdir=workdir)
    finally:
        if rclone is not None:
            rclone.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(services: Services) -> Settings:
    base = Settings()
    return replace(
        base,
        data_dir=services.workdir / "data",
        database=DatabaseSettings(url=services.database_url, pool_size=10),
        object_store=services.object_store,
        auth=AuthSettings(secret_key=secrets.token_urlsafe(48), login_max_failures=5),
        server=replace(base.server, run_worker_in_process=False),
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database)
    await Migrator(engine, MODEL_MODULES).upgrade()
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
async def db(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking stored state; committed by the test as needed."""
    async with session_factory() as session:
        yield session
