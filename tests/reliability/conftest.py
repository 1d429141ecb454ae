"""Fault injection against real servers: a PostGIS cluster and an ``rclone serve s3`` of this
package's own, never the session-wide ones other tests share, with ways to stop, crash and
freeze them, and the real API in process or as a separate ``patrol serve`` process.

The cluster is started like the embedded default starts it (durable settings), not like the
throw-away test cluster.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from api.auth import TokenMinter, build_jwt_auth
from api.models import MODEL_MODULES
from geofence import seed_demo_layers
from infra.db import create_engine, create_session_factory
from infra.launchers import PostgisCluster, RcloneS3, free_port
from infra.migrate import Migrator
from infra.objectstore import S3ObjectStore
from infra.settings import AuthSettings, DatabaseSettings, ObjectStoreSettings, Settings
from tests.conftest import CountyFixture, create_county

PATROL = str(Path(sys.executable).with_name("patrol"))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    """SIGSTOP the processes (a hung server: its sockets accept, nothing answers), then
    SIGCONT them however the block ends."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@dataclass
class Stack:
    """A cluster, an S3 server and the settings of an API that uses them."""

    workdir: Path
    cluster: PostgisCluster
    rclone: RcloneS3
    settings: Settings

    def database_pids(self) -> list[int]:
        """The postmaster and every backend and helper process it forked."""
        pid = self.cluster.postmaster_pid()
        assert pid is not None, "the cluster is not running"
        return [pid, *_children(pid)]

    def storage_pids(self) -> list[int]:
        assert self.rclone.pid is not None, "rclone is not running"
        return [self.rclone.pid]

    def start_database(self) -> None:
        self.cluster.start(port=self.cluster.port)

    def env(self) -> dict[str, str]:
        """The environment of a ``patrol`` process using this stack."""
        store = self.settings.object_store
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "S3_"))}
        return {
            **keep,
            "DATABASE_URL": self.settings.database.url,
            "S3_ENDPOINT_URL": store.endpoint_url,
            "S3_BUCKET": store.bucket,
            "S3_ACCESS_KEY_ID": store.access_key_id,
            "S3_SECRET_ACCESS_KEY": store.secret_access_key,
            "PATROL_SECRET_KEY": self.settings.auth.secret_key,
            "PATROL_DATA_DIR": str(self.settings.data_dir),
            "PATROL_INPROCESS_WORKER": "0",
            "PATROL_LOG_LEVEL": "warning",
        }


@contextlib.contextmanager
def own_stack(prefix: str) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir.chmod(0o755)  # the cluster runs as an unprivileged user when we are root
    cluster = PostgisCluster(workdir / "postgres")  # durable, like the embedded default
    rclone = RcloneS3(workdir / "objects", bucket="reliability")
    try:
        cluster.init()
        cluster.start()
        rclone.start()
        base = Settings()
        settings = replace(
            base,
            data_dir=workdir / "data",
            database=DatabaseSettings(url=cluster.url),
            object_store=ObjectStoreSettings(
                endpoint_url=rclone.endpoint_url,
                bucket=rclone.bucket,
                access_key_id=rclone.access_key,
                secret_access_key=rclone.secret_key,
            ),
            auth=AuthSettings(secret_key=secrets.token_urlsafe(48)),
            server=replace(base.server, run_worker_in_process=False),
        )
        yield Stack(workdir, cluster, rclone, settings)
    finally:
        rclone.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def prepare(settings: Settings) -> None:
    """Migrate the database and create the bucket (what ``patrol serve`` does first)."""
    engine = create_engine(settings.database)
    try:
        await Migrator(engine, MODEL_MODULES).upgrade()
    finally:
        await engine.dispose()
    await S3ObjectStore(settings.object_store).ensure_bucket()


def minter(settings: Settings) -> TokenMinter:
    """Tokens any API process with these settings accepts."""
    return TokenMinter(build_jwt_auth(settings.auth), settings.auth)


def ring_polygon(
    vertices: int, radius_deg: float, lon: float = 112.1, lat: float = 28.5
) -> dict[str, Any]:
    """A closed GeoJSON polygon of ``vertices`` points (a slightly wavy circle)."""
    coords = []
    for k in range(vertices - 1):
        a = 2 * math.pi * k / (vertices - 1)
        r = radius_deg * (1 + 0.02 * math.sin(40 * a))
        coords.append([round(lon + r * math.cos(a), 7), round(lat + r * math.sin(a), 7)])
    coords.append(coords[0])
    return {"type": "Polygon", "coordinates": [coords]}


def video_declaration() -> dict[str, Any]:
    """A CreateUpload body for a 20 MiB video in 5 MiB parts: a multipart upload in S3."""
    return {
        "sha256": hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
        "sizeBytes": 20 * 1024 * 1024,
        "contentType": "video/mp4",
        "fileName": "VID_0001.mp4",
        "partSize": 5 * 1024 * 1024,
        "fix": {"lon": 112.1, "lat": 28.5, "accuracyM": 6.0, "crs": "wgs84"},
    }


# -- the API as a separate process ------------------------------------------------------------
class ApiProcess:
    """``patrol serve`` on a free port, as an operator runs it."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = stack.workdir / f"api-{self.port}.log"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [PATROL, "serve", "--no-demo", "--port", str(self.port)],
                env=self.stack.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready()

    def wait_ready(self, timeout_s: float = 90) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/ready", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"the API was not ready in {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, nothing finished after this."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.asynccontextmanager
async def served_county(prefix: str) -> AsyncIterator[tuple[ApiProcess, CountyFixture]]:
    """``patrol serve`` on a stack of its own, with a county whose area around (112.1, 28.5)
    holds demo reference layers (for benchmarks that drive the API over HTTP)."""
    with own_stack(prefix) as stack:
        await prepare(stack.settings)
        engine = create_engine(stack.settings.database.for_background_work())
        factory = create_session_factory(engine)
        county = await create_county(factory, minter(stack.settings))
        async with factory() as session:
            area = shapely.box(112.0, 28.4, 112.2, 28.6)
            await seed_demo_layers(session, county.id, area, parcel_side_m=400.0)
            await session.commit()
        await engine.dispose()
        api = ApiProcess(stack)
        api.start()
        try:
            yield api, county
        finally:
            api.stop()


# -- fixtures: one stack for the outage and frozen-dependency tests ---------------------------
@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with own_stack("patrol-reliability-") as found:
        yield found


@pytest.fixture(scope="session")
async def stack_engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    await prepare(stack.settings)
    engine = create_engine(stack.settings.database)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def stack_factory(stack_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(stack_engine)


@pytest.fixture(scope="session")
async def stack_app(stack: Stack, stack_engine: AsyncEngine) -> Litestar:
    return create_app(stack.settings)


@pytest.fixture(scope="session")
async def stack_client(stack_app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=stack_app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
async def stack_county(
    stack_app: Litestar, stack_factory: async_sessionmaker[AsyncSession]
) -> CountyFixture:
    return await create_county(stack_factory, stack_app.state.tokens)
