"""``GET /metrics``: scraped through the real app and read with prometheus-client's parser.

Real requests (a location check, an evidence upload completed twice, two sync pushes with an
applied, a duplicate and a rejected operation, an unknown path) move the counters by exactly
what they did; labels are operation ids, never raw paths. Only the metrics token and admins
may scrape. The job queues are read by one bounded statement, cached between scrapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from procrastinate.periodic import PeriodicDeferrer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from api.metrics import Metrics
from api.worker import TASK_NAMES, task_app
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from infra.tasks import PERIODIC_QUEUE
from tests.api.test_evidence_api import _photo, _upload
from tests.api.test_geofence_api import _county_with_grid
from tests.conftest import CountyFixture
from tests.jobs import run_jobs

Client = AsyncTestClient[Litestar]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

METRICS_TOKEN = "scrape-" + "x" * 40


def _parse(body: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def _scrape(client: Client, headers: dict[str, str]) -> Samples:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return _parse(resp.text)


def _delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return _value(after, name, **labels) - _value(before, name, **labels)


async def test_real_requests_move_the_counters_by_what_they_did(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    admin = county.headers(Role.ADMIN)
    inspector = county.headers(Role.INSPECTOR)
    before = await _scrape(client, admin)

    check = await client.post(
        "/api/v1/geofence/check",
        json={"lon": 112.11, "lat": 28.51, "accuracyM": 8.0},
        headers=inspector,
    )
    assert check.status_code == 200, check.text
    data = _photo(112.1, 28.5)
    evidence = await _upload(client, county, Role.INSPECTOR, data, lon=112.1, lat=28.5)
    url = f"/api/v1/evidence/uploads/{evidence['id']}/complete"
    replay = await client.post(url, headers=inspector)
    assert replay.status_code == 200, replay.text
    refused = await client.post(f"/api/v1/evidence/uploads/{uuid7()}/complete", headers=inspector)
    assert refused.status_code == 404, refused.text

    caption = {"type": "updateEvidence", "evidenceId": evidence["id"], "caption": "西侧近景"}
    first = await client.post(
        "/api/v1/sync/push",
        json={
            "ops": [{**caption, "opId": str(uuid7())}, {"type": "teleport", "opId": str(uuid7())}]
        },
        headers=inspector,
    )
    assert [r["status"] for r in first.json()["receipts"]] == ["applied", "rejected"], first.text
    second = await client.post(
        "/api/v1/sync/push", json={"ops": [{**caption, "opId": str(uuid7())}]}, headers=inspector
    )
    assert [r["status"] for r in second.json()["receipts"]] == ["duplicate"], second.text
    unknown = await client.get(f"/no-such-route-{uuid7()}", headers=inspector)
    assert unknown.status_code == 404

    after = await _scrape(client, admin)
    requests = "patrol_http_requests_total"
    assert _delta(before, after, requests, operation="CheckLocation", status="200") == 1
    assert _delta(before, after, requests, operation="CreateUpload", status="200") == 1
    assert _delta(before, after, requests, operation="CompleteUpload", status="200") == 2
    assert _delta(before, after, requests, operation="CompleteUpload", status="404") == 1
    assert _delta(before, after, requests, operation="SyncPush", status="200") == 2
    assert _delta(before, after, requests, operation="unmatched", status="404") == 1
    assert _delta(before, after, requests, operation="GetMetrics", status="200") == 1
    latency = "patrol_http_request_duration_seconds_count"
    assert _delta(before, after, latency, operation="CheckLocation", status_class="2xx") == 1
    assert _delta(before, after, latency, operation="CompleteUpload", status_class="4xx") == 1
    assert _value(after, "patrol_http_request_duration_seconds_sum", operation="CheckLocation",
                  status_class="2xx") > 0  # fmt: skip

    # every operation label is an operation id, a Litestar route template or "unmatched"
    known = {
        op["operationId"]
        for item in client.app.openapi_schema.to_schema()["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    labels = {dict(k[1])["operation"] for k in after if k[0] == requests}
    odd = {op for op in labels - known - {"unmatched"} if not op.startswith(("GET /", "OPTIONS /"))}
    assert not odd
    assert not any("no-such-route" in op for op in labels)

    completes = "patrol_evidence_completes_total"
    assert _delta(before, after, completes, outcome="accepted") == 1
    assert _delta(before, after, completes, outcome="replayed") == 1
    assert _delta(before, after, "patrol_evidence_verified_bytes_total") == len(data)
    ops = "patrol_sync_ops_total"
    assert _delta(before, after, ops, status="applied") == 1
    assert _delta(before, after, ops, status="duplicate") == 1
    assert _delta(before, after, ops, status="rejected") == 1
    assert _delta(before, after, ops, status="conflict") == 0
    # the check itself and the one run when the upload was accepted, one fix each
    assert _delta(before, after, "patrol_geofence_checks_total") == 2
    assert _delta(before, after, "patrol_geofence_checked_fixes_total") == 2

    for pool in ("requests", "background"):
        assert _value(after, "patrol_db_pool_size", pool=pool) >= 1
        assert ("patrol_db_pool_checked_out", frozenset({("pool", pool)})) in after
        assert ("patrol_db_pool_overflow", frozenset({("pool", pool)})) in after
    assert _value(after, "patrol_job_queue_read_ok") == 1
    assert ("patrol_job_queue_depth", frozenset(
        {("queue", "geofence_import_jobs"), ("kind", "parcels"), ("state", "queued")}
    )) in after  # fmt: skip
    assert _value(after, "process_resident_memory_bytes") > 0


async def test_failed_operations_are_not_counted_as_done(client: Client, make_county: Any) -> None:
    """A refused complete counts a 4xx request and no evidence; a push refused as a whole
    (400) counts no receipts."""
    county: CountyFixture = await make_county()
    admin, inspector = county.headers(Role.ADMIN), county.headers(Role.INSPECTOR)
    before = await _scrape(client, admin)
    bad = await client.post("/api/v1/sync/push", json={"ops": "nope"}, headers=inspector)
    assert bad.status_code == 400
    after = await _scrape(client, admin)
    assert _delta(before, after, "patrol_http_requests_total", operation="SyncPush",
                  status="400") == 1  # fmt: skip
    for status in ("applied", "duplicate", "conflict", "rejected"):
        assert _delta(before, after, "patrol_sync_ops_total", status=status) == 0
    assert _delta(before, after, "patrol_evidence_completes_total", outcome="accepted") == 0


async def test_only_admins_and_the_metrics_token_may_scrape(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    anonymous = await client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert anonymous.json()["code"] == "not_authenticated"
    for role in (Role.INSPECTOR, Role.CAPTAIN, Role.SECURITY_SQUAD, Role.JOINT_TEAM):
        resp = await client.get("/metrics", headers=county.headers(role))
        assert resp.status_code == 403, (role, resp.text)
        assert resp.json()["code"] == "role_not_allowed"
    # no metrics token is configured here: a guess is just a bad token
    guess = await client.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
    assert guess.status_code == 401


@pytest.fixture
async def token_client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Client]:
    """The app with ``PATROL_METRICS_TOKEN`` set."""
    with_token = replace(settings, auth=replace(settings.auth, metrics_token=METRICS_TOKEN))
    async with AsyncTestClient(app=create_app(with_token), raise_server_exceptions=False) as c:
        yield c


async def test_the_metrics_token_reads_metrics_and_nothing_else(
    token_client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    samples = await _scrape(token_client, bearer)
    assert _value(samples, "patrol_job_queue_read_ok") == 1
    await _scrape(token_client, county.headers(Role.ADMIN))  # admins still may
    elsewhere = await token_client.get("/api/v1/me", headers=bearer)
    assert elsewhere.status_code == 401
    wrong = await token_client.get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"}
    )
    assert wrong.status_code == 401
    other_scheme = await token_client.get("/metrics", headers={"Authorization": METRICS_TOKEN})
    assert other_scheme.status_code == 401


def test_a_short_metrics_token_is_refused(settings: Settings) -> None:
    short = replace(settings, auth=replace(settings.auth, metrics_token="short"))
    with pytest.raises(ValueError, match="PATROL_METRICS_TOKEN"):
        short.validate()


async def test_queue_depth_and_age_are_read_and_cached(
    client: Client, make_county: Any, engine: AsyncEngine
) -> None:
    county: CountyFixture = await make_county()
    evidence = await _upload(client, county, Role.INSPECTOR, _photo(112.1, 28.5))
    job = (
        "SELECT id FROM procrastinate_jobs WHERE task_name = 'evidence:derivatives'"
        " AND args->>'evidence_id' = :id"
    )
    async with engine.begin() as conn:  # its derivatives job waits an hour (no worker here)
        await conn.execute(
            text(
                "UPDATE procrastinate_events SET at = now() - interval '1 hour'"
                f" WHERE type = 'deferred' AND job_id = ({job})"
            ),
            {"id": evidence["id"]},
        )
    labels = {"queue": "tasks", "kind": "evidence:derivatives", "state": "queued"}
    cached = Metrics({"requests": engine}, tasks=TASK_NAMES, queue_cache_s=3600)
    samples = _parse((await cached.render()).decode())
    depth = _value(samples, "patrol_job_queue_depth", **labels)
    assert depth >= 1
    assert _value(samples, "patrol_job_queue_oldest_age_seconds", **labels) >= 3600
    async with engine.begin() as conn:
        await conn.execute(
            text(f"UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = ({job})"),
            {"id": evidence["id"]},
        )
    again = _parse((await cached.render()).decode())  # within the cache window: as before
    assert _value(again, "patrol_job_queue_depth", **labels) == depth
    # The queue is shared with whatever else runs against this database: a fresh read is
    # compared with the queued jobs counted while no one can add or take one (SHARE lock).
    async with engine.begin() as conn:
        await conn.execute(text("LOCK TABLE procrastinate_jobs IN SHARE MODE"))
        queued = await conn.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs"
                " WHERE task_name = 'evidence:derivatives' AND status = 'todo'"
            )
        )
        fresh = _parse((await Metrics({"requests": engine}, queue_cache_s=0).render()).decode())
        taken = await conn.scalar(
            text(f"SELECT status::text FROM procrastinate_jobs WHERE id = ({job})"),
            {"id": evidence["id"]},
        )
    assert taken == "succeeded"  # the job taken off the queue is not among those counted
    assert _value(fresh, "patrol_job_queue_depth", **labels) == queued
    # every task has its series from the start, 0 while nothing is queued
    for task in TASK_NAMES:
        assert (
            _value(again, "patrol_job_queue_depth", queue="tasks", kind=task, state="failed") >= 0
        )


async def test_a_blocked_queue_read_gives_up_and_the_scrape_still_answers(
    engine: AsyncEngine,
) -> None:
    """The queue statement waits on a table lock no longer than its statement timeout."""
    metrics = Metrics({"requests": engine}, queue_cache_s=0, queue_timeout_s=0.2)
    locked, release = asyncio.Event(), asyncio.Event()

    async def hold_lock() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("LOCK TABLE procrastinate_jobs IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            await release.wait()

    holder = asyncio.create_task(hold_lock())
    try:
        await locked.wait()
        samples = _parse((await metrics.render()).decode())
    finally:
        release.set()
        await holder
    assert _value(samples, "patrol_job_queue_read_ok") == 0
    assert not any(name == "patrol_job_queue_depth" for name, _ in samples)
    assert ("patrol_db_pool_size", frozenset({("pool", "requests")})) in samples
    after = _parse((await metrics.render()).decode())
    assert _value(after, "patrol_job_queue_read_ok") == 1


def test_metrics_is_documented_as_an_authenticated_operation(app: Litestar) -> None:
    doc = app.openapi_schema.to_schema()
    op = doc["paths"]["/metrics"]["get"]
    assert op["operationId"] == "GetMetrics"
    assert op.get("security") != []
    assert op["responses"]["403"]["x-problem-codes"] == ["role_not_allowed"]
    assert op["responses"]["401"]["x-problem-codes"] == ["not_authenticated"]
    assert list(op["responses"]["200"]["content"]) == ["text/plain; version=0.0.4"]


async def test_geofence_index_size_grows_by_the_county_checked(
    client: Client, make_county: Any
) -> None:
    county = await _county_with_grid(client, make_county)  # 16 parcels
    admin = county.headers(Role.ADMIN)
    before = await _scrape(client, admin)
    check = await client.post(
        "/api/v1/geofence/check",
        json={"lon": 112.1005, "lat": 28.5005, "accuracyM": 5.0},
        headers=county.headers(Role.INSPECTOR),
    )
    assert check.status_code == 200, check.text
    after = await _scrape(client, admin)
    assert _delta(before, after, "patrol_geofence_index_features", layer="parcels") == 16
    assert _delta(before, after, "patrol_geofence_index_counties", layer="parcels") == 1
    # 16 squares: 5 vertices each, twice (feature and boundary), and their edge arrays
    assert _delta(before, after, "patrol_geofence_index_bytes", layer="parcels") >= 16 * 10 * 16


async def test_the_periodic_chores_are_scheduled_run_and_shown(
    settings: Settings, engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    app = task_app(settings)
    schedules = {(t.task.name, t.cron) for t in app.periodic_registry.periodic_tasks.values()}
    assert schedules == {
        ("patrol:chores", "*/5 * * * *"),
        ("petitions:overdue", "7 * * * *"),
        ("cases:tip_off_deadlines", "*/15 * * * *"),
        ("reports:overdue", "23 * * * *"),
        ("cases:procedure_deadlines", "*/15 * * * *"),
        ("sync:prune", "*/10 * * * *"),
        ("queue:retry_stalled", "* * * * *"),
        ("queue:prune_finished", "17 3 * * *"),
    }
    assert all(
        t.task.queue == PERIODIC_QUEUE for t in app.periodic_registry.periodic_tasks.values()
    )
    # one period's jobs, as the periodic deferrer queues them, run by a worker; a job of
    # these tasks left queued by another test's worker (whose periodic deferrer queues them
    # when the suite crosses their minute) would hold the queueing lock and refuse the defer
    async with engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM procrastinate_jobs WHERE status = 'todo' AND task_name IN"
                 " ('patrol:chores', 'petitions:overdue', 'sync:prune')")
        )  # fmt: skip
    async with app.open_async():
        for name in ("patrol:chores", "petitions:overdue", "sync:prune"):
            await app.configure_task(name).defer_async(timestamp=0)
    store = S3ObjectStore(settings.object_store)
    await run_jobs(
        settings.database, session_factory, store, settings.evidence, queues=(PERIODIC_QUEUE,)
    )
    samples = _parse((await Metrics({"requests": engine}, tasks=TASK_NAMES).render()).decode())
    last = "patrol_task_last_success_timestamp_seconds"
    assert _value(samples, last, task="patrol:chores") > 0
    assert _value(samples, last, task="sync:prune") > 0
    assert _value(samples, last, task="petitions:overdue") > 0
    for task in ("patrol:chores", "petitions:overdue", "sync:prune"):
        assert (
            _value(samples, "patrol_job_queue_depth", queue="tasks", kind=task, state="queued") == 0
        )


async def test_two_workers_defer_a_periodic_task_once_per_period(
    settings: Settings, engine: AsyncEngine
) -> None:
    """What each worker's periodic deferrer does at the same tick: one job between them."""
    async with engine.begin() as conn:  # a chores job another test's worker left queued
        await conn.execute(  # would hold the queueing lock: nothing would be deferred at all
            text("DELETE FROM procrastinate_jobs WHERE task_name = 'patrol:chores'"
                 " AND status = 'todo'")
        )  # fmt: skip
    apps = [task_app(settings), task_app(settings)]
    tick = 1_000_000_000 + int(uuid7().int % 10**8) * 300  # a period no other test used
    for app in apps:
        async with app.open_async():
            (chores,) = [
                t for t in app.periodic_registry.periodic_tasks.values()
                if t.task.name == "patrol:chores"
            ]  # fmt: skip
            await PeriodicDeferrer(registry=app.periodic_registry).defer_jobs([(chores, tick)])
    async with engine.begin() as conn:
        jobs = (
            await conn.execute(
                text(
                    "SELECT job_id FROM procrastinate_periodic_defers"
                    " WHERE task_name = 'patrol:chores' AND defer_timestamp = :tick"
                ),
                {"tick": tick},
            )
        ).all()
        assert len(jobs) == 1
        # nobody runs it here: leave no chores job for later tests' workers
        await conn.execute(
            text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": jobs[0][0]}
        )
