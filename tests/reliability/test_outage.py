"""The database goes away and comes back: 503 ``database_unavailable`` with ``Retry-After``
meanwhile (never a 500, one warning in the log), and not one failed request once ``/ready``
answers 200 again. A push that fails part-way keeps nothing. The background worker outlives
the outage."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from api.worker import task_app
from infra.db import create_engine, create_session_factory
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.tasks import TaskDeps, run_worker
from tests import clock
from tests.api.test_evidence_api import _photo, _upload
from tests.conftest import CountyFixture
from tests.reliability.conftest import Stack
from tests.reliability.test_frozen import _assert_503, _wait_ready
from tests.sync.conftest import SyncWorld, build_sync_world
from tests.sync.test_push import finding, points, start

Client = AsyncTestClient[Litestar]
ME = "/api/v1/me"
PUSH = "/api/v1/sync/push"


def _push_body(ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"ops": ops, "deviceTime": clock.now().isoformat()}


def _end(patrol_id: Any) -> dict[str, Any]:
    return {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(patrol_id),
            "endedAt": clock.now().isoformat()}  # fmt: skip


async def _traffic(client: Client, world: SyncWorld, n: int) -> list[int]:
    """``n`` rounds of what phones do: who am I, and a push of a new patrol."""
    statuses = []
    for _ in range(n):
        statuses.append((await client.get(ME, headers=world.headers())).status_code)
        patrol = uuid7()
        ops = [start(patrol, world.area_id), points(patrol, 3)]
        resp = await client.post(PUSH, json=_push_body(ops), headers=world.headers())
        statuses.append(resp.status_code)
        if resp.status_code == 200:
            assert {r["status"] for r in resp.json()["receipts"]} == {"applied"}, resp.text
    return statuses


async def _forget_old_connections(engine: AsyncEngine) -> None:
    """The tests' own engine (not the app's) sits in a loop the in-process client blocks, so
    it cannot see the old server close its sockets: give it new connections."""
    await engine.dispose()


async def test_database_down_is_503_then_no_failure_after_ready(
    stack: Stack,
    stack_client: Client,
    stack_county: CountyFixture,
    stack_engine: AsyncEngine,
    stack_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_sync_world(stack_county, stack_factory)
    assert set(await _traffic(stack_client, world, 3)) == {200}  # a warm pool
    with structlog.testing.capture_logs() as logs:
        stack.cluster.stop()
        try:
            for _ in range(2):
                resp = await stack_client.get(ME, headers=world.headers())
                _assert_503(resp, "database_unavailable")
                patrol = uuid7()
                body = _push_body([start(patrol, world.area_id), points(patrol)])
                resp = await stack_client.post(PUSH, json=body, headers=world.headers())
                _assert_503(resp, "database_unavailable")
            assert (await stack_client.get("/ready")).status_code == 503
        finally:
            stack.start_database()
            await _forget_old_connections(stack_engine)
        await _wait_ready(stack_client)
        statuses = await _traffic(stack_client, world, 15)
    assert statuses == [200] * 30, statuses
    events = [(e["event"], e.get("dependency")) for e in logs]
    assert events.count(("dependency.unavailable", "database")) == 1, events
    assert events.count(("dependency.available_again", "database")) == 1, events
    assert not [e for e in logs if e.get("exc_info") or e["log_level"] == "error"], logs


async def test_restart_between_requests_costs_no_request(
    stack: Stack,
    stack_client: Client,
    stack_county: CountyFixture,
    stack_engine: AsyncEngine,
    stack_factory: async_sessionmaker[AsyncSession],
) -> None:
    """No request sees the outage: the pool still holds connections the old server closed."""
    world = await build_sync_world(stack_county, stack_factory)
    assert set(await _traffic(stack_client, world, 3)) == {200}
    stack.cluster.stop()
    stack.start_database()
    await _forget_old_connections(stack_engine)
    await _wait_ready(stack_client)
    assert await _traffic(stack_client, world, 10) == [200] * 20


async def test_a_push_failing_part_way_keeps_nothing(
    stack: Stack,
    stack_county: CountyFixture,
    stack_engine: AsyncEngine,
    stack_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await build_sync_world(stack_county, stack_factory)
    quick = replace(stack.settings.database, statement_timeout_s=1.0)
    app = create_app(replace(stack.settings, database=quick))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        first = uuid7()
        resp = await client.post(
            PUSH, json=_push_body([start(first, world.area_id)]), headers=world.headers()
        )
        assert resp.json()["receipts"][0]["status"] == "applied"
        second = uuid7()
        ops = [start(second, world.area_id), points(second), finding(second, uuid7()), _end(first)]
        async with stack_engine.connect() as other:  # another session holds the first patrol
            await other.execute(
                text("SELECT 1 FROM patrol_sessions WHERE id = :id FOR UPDATE"), {"id": first}
            )
            resp = await client.post(PUSH, json=_push_body(ops), headers=world.headers())
            await other.rollback()
        _assert_503(resp, "database_unavailable", {"statement_timeout"})
        async with stack_factory() as session:
            kept = await session.scalar(
                text("SELECT count(*) FROM sync_receipts WHERE op_id = ANY(:ids)"),
                {"ids": [uuid.UUID(op["opId"]) for op in ops]},
            )
            patrol = await session.scalar(
                text("SELECT count(*) FROM patrol_sessions WHERE id = :id"), {"id": second}
            )
        assert (kept, patrol) == (0, 0)
        # the phone sends the batch again once the database answers: everything is applied
        resp = await client.post(PUSH, json=_push_body(ops), headers=world.headers())
        assert resp.status_code == 200, resp.text
        assert [r["status"] for r in resp.json()["receipts"]] == ["applied"] * 4


async def _kinds(factory: async_sessionmaker[AsyncSession], evidence_id: str) -> set[str]:
    async with factory() as session:
        rows = await session.execute(
            text("SELECT kind FROM evidence_derivatives WHERE evidence_id = :id"),
            {"id": evidence_id},
        )
        return {str(r[0]) for r in rows}


async def _made(factory: async_sessionmaker[AsyncSession], evidence_id: str) -> None:
    for _ in range(600):
        if "thumbnail" in await _kinds(factory, evidence_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no derivatives for {evidence_id}")


async def test_the_worker_outlives_a_database_outage(
    stack: Stack,
    stack_client: Client,
    stack_county: CountyFixture,
    stack_engine: AsyncEngine,
) -> None:
    """procrastinate's worker stops when its connections die; ours starts it again once the
    database is back, and the jobs queued after the outage are done by the same task."""
    settings = stack.settings
    background = create_engine(settings.database.for_background_work())
    factory = create_session_factory(background)
    deps = TaskDeps(
        session_factory=factory,
        store=S3ObjectStore(settings.object_store),
        evidence=settings.evidence,
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(task_app(settings, periodic=False), deps, stop=stop, error_backoff_s=0.5)
    )
    try:
        with structlog.testing.capture_logs() as logs:
            first = await _upload(stack_client, stack_county, Role.INSPECTOR, _photo())
            await _made(factory, first["id"])
            stack.cluster.stop()
            try:
                noticed = {"worker.round_failed", "worker.stopped_early"}
                for _ in range(600):  # until procrastinate's worker failed (it polls every 5 s)
                    if noticed & {e["event"] for e in logs}:
                        break
                    await asyncio.sleep(0.1)
                assert noticed & {e["event"] for e in logs}, logs
                assert not worker.done()
            finally:
                stack.start_database()
                await _forget_old_connections(stack_engine)
            await _wait_ready(stack_client)
            second = await _upload(stack_client, stack_county, Role.INSPECTOR, _photo())
            await _made(factory, second["id"])
        assert not worker.done()
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=60)
        await background.dispose()
