"""Periodic sync jobs: prune the change feed, idle streams and old push receipts.

The background worker calls :func:`run_sync_jobs` now and then (every minute is fine): the
pruning itself runs at most once per :data:`PRUNE_EVERY` in a process, and only one process
at a time runs it (a transaction-scoped advisory lock; the others skip). Everything it
deletes is safe to lose: a stream whose feed rows are gone compares in full, a phone whose
stream is gone starts over, and receipts are kept far longer than a phone stays offline.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sync.pull import prune_sync_state

__all__ = ["PRUNE_EVERY", "run_sync_jobs"]

log = structlog.get_logger(__name__)

PRUNE_EVERY = timedelta(hours=1)
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended('sync-prune', 0))")
_last_prune: list[float] = []  # monotonic time of this process's last prune


async def run_sync_jobs(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    force: bool = False,
) -> dict[str, int]:
    """Prune sync state when due (``force``: now). Returns the rows deleted per kind
    (``changes``, ``streams``, ``receipts``), ``skipped`` (1: not due, or another process
    is pruning) and ``failed`` (1: logged and rolled back; the next run tries again)."""
    counts = {"changes": 0, "streams": 0, "receipts": 0, "skipped": 1, "failed": 0}
    clock = time.monotonic()
    if not force and _last_prune and clock - _last_prune[-1] < PRUNE_EVERY.total_seconds():
        return counts
    async with session_factory() as session:
        if not await session.scalar(_TRY_LOCK):
            return counts
        counts["skipped"] = 0
        try:
            counts |= await prune_sync_state(session, now=now)
            await session.commit()
        except Exception:
            await session.rollback()
            log.exception("sync.prune_failed")
            counts["failed"] = 1
            return counts
    _last_prune[:] = [clock]
    log.info("sync.pruned", **counts)
    return counts
