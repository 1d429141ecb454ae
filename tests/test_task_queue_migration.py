"""Migration 0018_task_queue: procrastinate's schema, and the old jobs table moved into it.

Run in a schema of its own (first on the search path), so that the session's database, already
at the head, is not touched: 0017, a few ``evidence_jobs`` rows, then the upgrade.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.models import MODEL_MODULES
from infra.migrate import Migrator
from infra.settings import Settings


@pytest.fixture
async def scratch(settings: Settings, engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """An engine whose tables land in a new schema (the session's database is at the head)."""
    del engine
    schema = f"migration_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(
        settings.database.url,
        connect_args={"server_settings": {"search_path": f"{schema}, public"}},
    )
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        # Alembic's version table here, or it would find the session's one in public
        await conn.execute(
            text(
                f"CREATE TABLE {schema}.alembic_version (version_num varchar(32) NOT NULL,"
                " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
    try:
        yield engine
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await engine.dispose()


_JOB = text(
    "INSERT INTO evidence_jobs (id, county_id, evidence_id, kind, status, attempts, run_after,"
    " last_error) VALUES (:id, :county, :evidence, 'derivatives', :status, :attempts,"
    " now() - interval '1 minute', :error)"
)


async def test_pending_evidence_jobs_become_procrastinate_jobs(scratch: AsyncEngine) -> None:
    migrator = Migrator(scratch, MODEL_MODULES)
    await migrator.upgrade("0017_alert_params")
    county = uuid.uuid4()
    evidence = {status: uuid.uuid4() for status in ("queued", "running", "failed", "done")}
    async with scratch.begin() as conn:
        # the jobs' evidence and county rows are not what this is about
        await conn.execute(
            text(
                "ALTER TABLE evidence_jobs DROP CONSTRAINT fk_evidence_jobs_evidence_id_evidence,"
                " DROP CONSTRAINT fk_evidence_jobs_county_id_counties"
            )
        )
        for status, evidence_id in evidence.items():
            await conn.execute(
                _JOB,
                {
                    "id": uuid.uuid4(), "county": county, "evidence": evidence_id,
                    "status": status, "attempts": {"queued": 1, "running": 2}.get(status, 5),
                    "error": "DerivativesFailedError: not made: captioned" if status != "done"
                    else None,
                },
            )  # fmt: skip

    await migrator.upgrade("heads")

    async with scratch.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT j.args->>'evidence_id', j.task_name, j.status::text, j.attempts,"
                    " j.args->>'county_id', j.lock, j.queueing_lock, e.error"
                    " FROM procrastinate_jobs j"
                    " LEFT JOIN procrastinate_job_errors e ON e.job_id = j.id ORDER BY j.id"
                )
            )
        ).all()
        gone = await conn.scalar(text("SELECT to_regclass(current_schema() || '.evidence_jobs')"))
    by_evidence = {uuid.UUID(r[0]): r[1:] for r in rows}
    error = "DerivativesFailedError: not made: captioned"
    queued, running, failed = (evidence[s] for s in ("queued", "running", "failed"))
    assert by_evidence == {
        queued: ("evidence:derivatives", "todo", 1, str(county), f"evidence:{queued}",
                 f"derivatives:{queued}", error),
        running: ("evidence:derivatives", "todo", 2, str(county), f"evidence:{running}",
                  f"derivatives:{running}", error),
        failed: ("evidence:derivatives", "failed", 5, str(county), f"evidence:{failed}",
                 None, error),
    }  # fmt: skip
    assert gone is None

    # and back: the old table returns empty, procrastinate's objects go
    await migrator.downgrade("0017_alert_params")
    async with scratch.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM evidence_jobs")) == 0
        assert (
            await conn.scalar(text("SELECT to_regclass(current_schema() || '.procrastinate_jobs')"))
            is None
        )
        functions = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%'"
                " AND pronamespace = current_schema()::regnamespace"
            )
        )
        assert functions == 0
        # the session's own schema kept its queue
        assert await conn.scalar(text("SELECT to_regclass('public.procrastinate_jobs')"))
