"""Shared fixtures: a real PostGIS cluster and a real ``rclone serve s3``, the real app.

Both services are started once per test session (or taken from ``DATABASE_URL`` /
``S3_ENDPOINT_URL`` when those are set) and torn down at the end.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import shapely
from geoalchemy2.shape import from_shape
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from api.auth import TokenMinter
from api.models import MODEL_MODULES
from infra.db import create_engine, create_session_factory
from infra.launchers import LocalServices, local_services
from infra.memory import freeze_long_lived
from infra.migrate import Migrator
from infra.objectstore import S3ObjectStore
from infra.scope import Principal, Role
from infra.settings import AuthSettings, DatabaseSettings, Settings
from patrol.accounts import hash_password, principal_of
from patrol.models import County, User

# records every error code the tests receive, and checks the catalogue is covered
pytest_plugins = ["tests.error_codes"]


@pytest.fixture(scope="session")
def services() -> Iterator[LocalServices]:
    if _PREBUILT:
        yield _PREBUILT[0].services
        return
    with local_services("patrol-tests-", bucket="patrol-test") as found:
        yield found


@pytest.fixture(scope="session")
def settings(services: LocalServices) -> Settings:
    if _PREBUILT:
        return _PREBUILT[0].settings
    return session_settings(services)


def session_settings(services: LocalServices) -> Settings:
    base = Settings()
    return replace(
        base,
        data_dir=services.workdir / "data",
        # Reference queries written by tests (3,000-point joins) outrun the 4 s statement
        # bound on a loaded machine; the default bounds are tested in tests/reliability.
        database=DatabaseSettings(
            url=services.database_url, pool_size=10, statement_timeout_s=60.0
        ),
        object_store=services.object_store,
        auth=AuthSettings(secret_key=secrets.token_urlsafe(48), login_max_failures=5),
        server=replace(base.server, run_worker_in_process=False),
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database)
    migrator = Migrator(engine, MODEL_MODULES)
    # a mutation run's database was migrated by mutmut's first run of the tests
    if not _PREBUILT or await migrator.current() != _PREBUILT[0].heads:
        await migrator.upgrade()
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture(scope="session")
async def store(settings: Settings) -> S3ObjectStore:
    """The object store of the test session, its bucket created."""
    if _PREBUILT:
        return _PREBUILT[0].store
    store = S3ObjectStore(settings.object_store)
    await store.ensure_bucket()
    return store


@pytest.fixture
async def db(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking stored state; committed by the test as needed."""
    async with session_factory() as session:
        yield session


def record_threads(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, *names: str
) -> list[tuple[str, int]]:
    """Wrap the functions ``names`` of ``module`` so that every call appends its name and the
    id of the thread it ran on; what the functions do is unchanged. A test compares the ids
    with its event loop's thread to show that heavy work was handed to a worker thread."""
    calls: list[tuple[str, int]] = []
    for name in names:
        original = getattr(module, name)

        def wrapper(*args: Any, _name: str = name, _fn: Any = original, **kw: Any) -> Any:
            calls.append((_name, threading.get_ident()))
            return _fn(*args, **kw)

        monkeypatch.setattr(module, name, wrapper)
    return calls


# -- the real app ---------------------------------------------------------------------------------
TEST_PASSWORD = "correct-horse-battery"


@dataclass
class CountyFixture:
    """A county with one user per role; ``headers(role)`` gives a Bearer header for that user."""

    county: County
    users: dict[Role, User]
    tokens: TokenMinter

    @property
    def id(self) -> uuid.UUID:
        return self.county.id

    @property
    def county_id(self) -> uuid.UUID:
        return self.county.id

    def principal(self, role: Role) -> Principal:
        return principal_of(self.users[role])

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.access_token(self.principal(role))}"}


@pytest.fixture(scope="session")
async def app(settings: Settings, engine: AsyncEngine) -> Litestar:
    if _PREBUILT:
        return _PREBUILT[0].app
    await S3ObjectStore(settings.object_store).ensure_bucket()
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as test_client:
        yield test_client


_PASSWORD_HASH: list[str] = []


def _password_hash() -> str:
    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(hash_password(TEST_PASSWORD))
    return _PASSWORD_HASH[0]


async def add_county(
    session: AsyncSession,
    *,
    lon: float = 112.1,
    lat: float = 28.5,
    size: float = 0.2,
    boundary: shapely.Geometry | None = None,
    province: str = "43",
) -> County:
    """A county row (unique admin code) whose boundary is ``boundary`` or a square of side
    ``size`` degrees centred on (lon, lat); flushed, not committed."""
    suffix = secrets.token_hex(4)
    shape = (
        boundary
        if boundary is not None
        else box(lon - size / 2, lat - size / 2, lon + size / 2, lat + size / 2)
    )
    county = County(
        admin_code=f"T{suffix}",
        name=f"测试县{suffix}",
        province_code=province,
        boundary=from_shape(MultiPolygon([shape]), srid=4326),
    )
    session.add(county)
    await session.flush()
    return county


async def add_user(
    session: AsyncSession,
    county_id: uuid.UUID,
    role: Role,
    name: str | None = None,
    *,
    phone: str | None = None,
) -> User:
    """A user of the county with :data:`TEST_PASSWORD` (and ``phone`` if given); flushed,
    not committed."""
    name = name or role.value
    suffix = secrets.token_hex(5)
    user = User(
        county_id=county_id,
        username=f"{name}-{suffix}",
        display_name=f"{name} {suffix} 同志",
        phone=phone,
        role=role.value,
        password_hash=_password_hash(),
        active=True,
    )
    session.add(user)
    await session.flush()
    return user


async def create_county(
    session_factory: async_sessionmaker[AsyncSession],
    tokens: TokenMinter,
    *,
    lon: float = 112.1,
    lat: float = 28.5,
    size: float = 0.2,
    province: str = "43",
) -> CountyFixture:
    """A fresh committed county (see :func:`add_county`) with a user per role."""
    async with session_factory() as session:
        county = await add_county(session, lon=lon, lat=lat, size=size, province=province)
        users = {role: await add_user(session, county.id, role) for role in Role}
        await session.commit()
    return CountyFixture(county=county, users=users, tokens=tokens)


@pytest.fixture
def make_county(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession]
) -> Callable[..., Awaitable[CountyFixture]]:
    """Create a fresh county (see :func:`create_county`) with the app's token minter."""

    async def make(
        *, lon: float = 112.1, lat: float = 28.5, size: float = 0.2, province: str = "43"
    ) -> CountyFixture:
        return await create_county(
            session_factory, app.state.tokens, lon=lon, lat=lat, size=size, province=province
        )

    return make


# -- mutation runs: one app for every mutant ------------------------------------------------------
# ``make mutate`` (tests/mutation.py) sets PATROL_TEST_PREBUILD=1. mutmut's fork server collects
# the tests once, with no mutant active (MUTANT_UNDER_TEST empty), and then forks one child per
# mutant, each running a whole pytest session of the tests that reach the mutated function.
# Building the app (routes, the OpenAPI document) was most of the CPU of such a session, so the
# collecting process builds the settings, the app, the session's object store and the test
# password hash once and every child inherits them. Nothing is connected before the fork: the
# engines and S3 clients connect on first use, in the child. The build runs with mutmut's "fail"
# marker set, under which every mutated function raises: a build that called one would fail, and
# the children then build their own.
# Each child also runs the tests it was given fastest first (durations from mutmut's first run),
# one test file after another, so that a killed mutant stops (-x) at its cheapest failing test.


@dataclass
class Prebuilt:
    services: LocalServices
    settings: Settings
    app: Litestar
    store: S3ObjectStore
    heads: set[str]


_PREBUILT: list[Prebuilt] = []


def _in_mutmut_fork_server(session: pytest.Session) -> bool:
    return (
        os.environ.get("PATROL_TEST_PREBUILD") == "1"
        and os.environ.get("MUTANT_UNDER_TEST") == ""
        and bool(session.config.option.collectonly)
    )


def _prebuild() -> Prebuilt | None:
    stack = ExitStack()
    atexit.register(stack.close)
    found = stack.enter_context(local_services("patrol-tests-", bucket="patrol-test"))
    settings = session_settings(found)
    os.environ["MUTANT_UNDER_TEST"] = "fail"
    try:
        asyncio.run(S3ObjectStore(settings.object_store).ensure_bucket())
        app = create_app(settings)
        store = S3ObjectStore(settings.object_store)  # connects on first use, in the child
        _password_hash()
    except Exception:  # a mutated function ran: the children build their own
        return None
    finally:
        os.environ["MUTANT_UNDER_TEST"] = ""
    heads = Migrator(create_engine(settings.database), MODEL_MODULES).heads()
    # Everything alive now is inherited by every forked test run: frozen, the children's
    # collections skip it (and leave its pages shared) - about a third of a killed mutant's
    # time.
    freeze_long_lived(collect=True)
    return Prebuilt(services=found, settings=settings, app=app, store=store, heads=heads)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _PREBUILT and _in_mutmut_fork_server(session):
        built = _prebuild()
        if built is not None:
            _PREBUILT.append(built)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stats = Path("mutmut-stats.json")
    if not _PREBUILT or not stats.exists():
        return
    seconds: dict[str, float] = json.loads(stats.read_text(encoding="utf-8"))["duration_by_test"]
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.partition("::")[0], []).append(item)

    def cost(item: pytest.Item) -> float:
        return seconds.get(item.nodeid, 0.0)

    files = sorted(by_file.values(), key=lambda group: sum(cost(item) for item in group))
    items[:] = [item for group in files for item in sorted(group, key=cost)]
    function = _mutated_function()
    if function is not None:
        # the tests that killed this function's other mutants go first (most kills first;
        # the cheapest first among the rest): a killed mutant stops at its first failure
        kills = _kills(function)
        items.sort(key=lambda item: -kills[item.nodeid])


# A mutation run's record of which test killed which function's mutants, one line each, in
# the module's workspace (beside ``mutants/``, the test runs' directory), kept across runs.
_KILLERS = "killers.jsonl"


def _mutated_function() -> str | None:
    """The function whose mutant this forked test run tests, if it is one."""
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    if not _PREBUILT or "__mutmut_" not in name:
        return None
    return name.rpartition("__mutmut_")[0]


def _kills(function: str) -> Counter[str]:
    kills: Counter[str] = Counter()
    path = Path.cwd().parent / _KILLERS
    if not path.exists():
        return kills
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut short by a child stopped at its time limit
            continue
        if entry.get("function") == function:
            kills[entry["test"]] += 1
    return kills


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    function = _mutated_function()
    if function is None or not report.failed:
        return
    line = json.dumps({"function": function, "test": report.nodeid}) + "\n"
    with (Path.cwd().parent / _KILLERS).open("a", encoding="utf-8") as out:
        out.write(line)  # one short append: children of two modules never share a file
