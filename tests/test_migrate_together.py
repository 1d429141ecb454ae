"""Two processes migrating one database at the same moment (two servers starting, a server and
``patrol migrate``) take turns on an advisory lock held for the migration's transaction: the
second waits for the first to commit, then finds the schema current."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.models import MODEL_MODULES
from infra.migrate import MIGRATION_LOCK, Migrator

_WAITING = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
    "AND ((classid::bigint << 32) | objid::bigint) = :key"
)


async def test_a_migration_waits_for_one_under_way(engine: AsyncEngine) -> None:
    migrator = Migrator(engine, MODEL_MODULES)
    async with engine.connect() as holder:  # another process, in the middle of migrating
        await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        upgrade = asyncio.create_task(migrator.upgrade())
        waiting = 0
        for _ in range(600):  # until the upgrade is seen queued behind the lock
            async with engine.connect() as probe:
                waiting = (await probe.execute(_WAITING, {"key": MIGRATION_LOCK})).scalar_one()
            if waiting or upgrade.done():
                break
            await asyncio.sleep(0.05)
        assert waiting == 1 and not upgrade.done()
        await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        await holder.commit()
        await upgrade  # then it runs, finds the schema current, and ends
    assert await migrator.is_current()
