"""The queue's own behaviour, through procrastinate's worker on the real database: a failing
job holds back no other, a dead worker's job is taken again, old finished jobs are pruned."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from infra.tasks import PERIODIC_QUEUE, defer_in_session
from tests.evidence import media
from tests.evidence.conftest import Kit
from tests.jobs import jobs_of, run_jobs
from tests.worlds import World


async def _status(kit: Kit, job_id: int) -> str | None:
    async with kit.session_factory() as session:
        found = await session.scalar(
            text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
        )
    return None if found is None else str(found)


async def _job(kit: Kit, sql: str, **params: object) -> int:
    async with kit.session_factory() as session:
        job_id = int(await session.scalar(text(sql), params))
        await session.commit()
    return job_id


async def test_a_failing_job_holds_back_no_other(kit: Kit, county: World) -> None:
    ghost = uuid.uuid4()  # no such evidence: its job fails every time
    async with kit.session_factory() as session:
        await defer_in_session(
            session, "evidence:derivatives",
            {"evidence_id": str(ghost), "county_id": str(county.county_id)},
            lock=f"evidence:{ghost}", queueing_lock=f"derivatives:{ghost}",
        )  # fmt: skip
        await session.commit()
    evidence = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    await kit.run_jobs()
    ((_, status, attempts),) = await jobs_of(kit.session_factory, ghost)
    assert (status, attempts) == ("todo", 1)  # failed once, queued again for later
    done = await jobs_of(kit.session_factory, evidence.id)
    assert [(status, attempts) for _, status, attempts in done] == [("succeeded", 1)]
    async with kit.session_factory() as session:
        kinds = await session.scalars(
            text("SELECT kind FROM evidence_derivatives WHERE evidence_id = :id"),
            {"id": evidence.id},
        )
        assert sorted(kinds) == ["captioned", "share", "thumbnail"]
        await session.execute(  # leave nothing for later tests' workers
            text("DELETE FROM procrastinate_jobs WHERE args->>'evidence_id' = :id"),
            {"id": str(ghost)},
        )
        await session.commit()


async def test_a_dead_workers_job_is_taken_again_and_old_jobs_are_pruned(kit: Kit) -> None:
    # running on a worker that is gone (its row pruned: worker_id is NULL)
    stalled = await _job(
        kit,
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)"
        " VALUES ('nobody', 'patrol:chores', '{\"timestamp\": 0}', 'doing') RETURNING id",
    )
    # ended long ago: a success (pruned) and a failure (kept for an operator)
    old = "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) VALUES" \
          " ('nobody', 'patrol:chores', '{\"timestamp\": 0}', :status) RETURNING id"  # fmt: skip
    succeeded = await _job(kit, old, status="succeeded")
    failed = await _job(kit, old, status="failed")
    async with kit.session_factory() as session:
        await session.execute(
            text(
                "INSERT INTO procrastinate_events (job_id, type, at)"
                " SELECT id, status::text::procrastinate_job_event_type,"
                " now() - interval '15 days' FROM procrastinate_jobs WHERE id = ANY(:ids)"
            ),
            {"ids": [succeeded, failed]},
        )
        await session.commit()
    app_tasks = {"queue:retry_stalled", "queue:prune_finished"}
    async with kit.session_factory() as session:
        for task in sorted(app_tasks):  # one period's jobs, as the periodic deferrer queues them
            await session.execute(
                text(
                    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('periodic', :task, 0, NULL,"
                    " NULL, '{\"timestamp\": 0}'::jsonb, NULL)::procrastinate_job_to_defer_v1])"
                ),
                {"task": task},
            )
        await session.commit()
    await run_jobs(
        kit.database, kit.session_factory, kit.store, kit.settings, queues=(PERIODIC_QUEUE,)
    )
    assert await _status(kit, stalled) == "todo"  # queued again, on its own queue
    assert await _status(kit, succeeded) is None
    assert await _status(kit, failed) == "failed"
    async with kit.session_factory() as session:
        await session.execute(
            text("DELETE FROM procrastinate_jobs WHERE id = ANY(:ids)"), {"ids": [stalled, failed]}
        )
        await session.commit()
