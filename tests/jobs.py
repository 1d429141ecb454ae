"""Running queued jobs inside a test: procrastinate's worker until no job is due."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.worker import BLUEPRINTS
from infra.objectstore import ObjectStore
from infra.settings import DatabaseSettings, EvidenceSettings
from infra.tasks import DEFAULT_QUEUE, TaskDeps, build_app, run_worker


async def run_jobs(
    database: DatabaseSettings,
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    evidence: EvidenceSettings,
    *,
    queues: tuple[str, ...] = (DEFAULT_QUEUE,),
) -> None:
    """Run every due job of ``queues`` (jobs other tests queued too), then return."""
    app = build_app(database, BLUEPRINTS, periodic=False)  # no chores deferred by a test
    deps = TaskDeps(session_factory=session_factory, store=store, evidence=evidence)
    await run_worker(app, deps, stop=asyncio.Event(), wait=False, queues=list(queues))


async def make_due(session_factory: async_sessionmaker[AsyncSession], job_id: int) -> None:
    """Bring a job's retry time forward to now (its backoff is not what a test waits for)."""
    async with session_factory() as session:
        await session.execute(
            text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = :id"),
            {"id": job_id},
        )
        await session.commit()


async def jobs_of(
    session_factory: async_sessionmaker[AsyncSession], evidence_id: object
) -> list[tuple[int, str, int]]:
    """(id, status, attempts) of the derivatives jobs of one evidence, oldest first."""
    async with session_factory() as session:
        rows = await session.execute(
            text(
                "SELECT id, status::text, attempts FROM procrastinate_jobs"
                " WHERE task_name = 'evidence:derivatives' AND args->>'evidence_id' = :id"
                " ORDER BY id"
            ),
            {"id": str(evidence_id)},
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]
