"""Petitions' periodic task: captain alerts for petition steps past their statutory date.

Every hour (``petitions:overdue``; dates are county-local days, so an hour after midnight
at most): each county's overdue steps raise a ``petition_overdue`` alert (once per step and
due date), and open ones whose step is no longer overdue are resolved
(:func:`evidence.cases.petitions.raise_overdue_alerts`); recording the step resolves its
alert at once. One commit per county; a county that failed makes the job fail after the
others were done.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from procrastinate import Blueprint, JobContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.petitions import raise_overdue_alerts
from infra.db import utcnow
from infra.tasks import add_periodic, deps
from patrol.models import County

__all__ = ["OVERDUE_CRON", "PetitionChoreFailedError", "blueprint", "run_petition_jobs"]

log = structlog.get_logger(__name__)

OVERDUE_CRON = "7 * * * *"


class PetitionChoreFailedError(RuntimeError):
    """Some counties failed (they were logged and rolled back; the others are done)."""


async def run_petition_jobs(
    session_factory: async_sessionmaker[AsyncSession], *, now: datetime | None = None
) -> dict[str, int]:
    """Raise and resolve petition alerts in every county; counts ``counties``, ``raised``,
    ``resolved`` and ``failed``."""
    as_of = now or utcnow()
    async with session_factory() as session:
        county_ids = list(await session.scalars(select(County.id).order_by(County.id)))
    totals = {"counties": 0, "raised": 0, "resolved": 0, "failed": 0}
    for county_id in county_ids:
        totals["counties"] += 1
        async with session_factory() as session:
            try:
                raised, resolved = await raise_overdue_alerts(session, county_id, now=as_of)
                await session.commit()
            except Exception:
                await session.rollback()
                totals["failed"] += 1
                log.exception("petitions.jobs_failed", county=str(county_id))
                continue
        totals["raised"] += raised
        totals["resolved"] += resolved
    return totals


async def overdue(context: JobContext, timestamp: int) -> dict[str, int]:
    del timestamp
    counts = await run_petition_jobs(deps(context).session_factory)
    if counts.get("failed"):
        msg = f"{counts['failed']} county(ies) failed: {counts}"
        raise PetitionChoreFailedError(msg)
    return counts


def blueprint() -> Blueprint:
    """A new blueprint with the petitions' task (one per procrastinate app)."""
    tasks = Blueprint()
    add_periodic(tasks, "overdue", overdue, cron=OVERDUE_CRON, queueing_lock="petitions-overdue")
    return tasks
