"""The periodic prune of sync state: old feed rows, idle streams and old receipts go."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from sync.jobs import run_sync_jobs
from tests.sync.conftest import Phone, SyncWorld
from tests.sync.test_push import start

_COUNT = """
SELECT (SELECT count(*) FROM sync_streams WHERE county_id = :c),
       (SELECT count(*) FROM sync_receipts WHERE county_id = :c),
       (SELECT count(*) FROM sync_changes WHERE county_id = :c)
"""


async def test_prune_drops_what_is_old_and_keeps_what_is_in_use(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    idle: SyncWorld = await make_world()
    busy: SyncWorld = await make_world()
    for world in (idle, busy):
        p: Phone = phone(world.headers())
        await p.sync()
        p.outbox = [start(uuid7(), world.area_id)]
        assert (await p.push())[0]["status"] == "applied"
    async with session_factory() as session:
        for table, column in (
            ("sync_streams", "last_pull_at"),
            ("sync_receipts", "created_at"),
            ("sync_changes", "noted_at"),
        ):
            await session.execute(
                text(
                    f"UPDATE {table} SET {column} = now() - interval '100 days' "
                    "WHERE county_id = :c"
                ),
                {"c": idle.county.id},
            )
        await session.commit()
    counts = await run_sync_jobs(session_factory, force=True)
    assert counts["skipped"] == 0 and counts["failed"] == 0
    assert min(counts["streams"], counts["receipts"], counts["changes"]) >= 1
    async with session_factory() as session:
        left_idle = (await session.execute(text(_COUNT), {"c": idle.county.id})).one()
        left_busy = (await session.execute(text(_COUNT), {"c": busy.county.id})).one()
    assert tuple(left_idle) == (0, 0, 0)
    assert min(left_busy) >= 1
    # not due again within the hour (unless forced)
    assert (await run_sync_jobs(session_factory))["skipped"] == 1
