"""Reports' background tasks.

``reports:generate`` makes one report's files (queued by ``CreateReport`` in its transaction;
the job's lock keeps one report to one worker at a time). ``reports:overdue`` (hourly) raises
a ``report_overdue`` alert in each county for a report not produced by its due date
(:func:`evidence.cases.reports.raise_overdue_reports`); one commit per county, and a county
that failed makes the job fail after the others were done.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from procrastinate import Blueprint, JobContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.reports import GENERATE_TASK, generate_report, raise_overdue_reports
from infra.db import utcnow
from infra.settings import ReportSettings
from infra.tasks import add_periodic, deps
from patrol.models import County

__all__ = ["OVERDUE_CRON", "ReportChoreFailedError", "blueprint", "run_report_overdue"]

log = structlog.get_logger(__name__)

OVERDUE_CRON = "23 * * * *"


class ReportChoreFailedError(RuntimeError):
    """Some counties failed (they were logged and rolled back; the others are done)."""


async def run_report_overdue(
    session_factory: async_sessionmaker[AsyncSession],
    settings: ReportSettings,
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """Raise overdue-report alerts in every county; counts ``counties``, ``raised`` and
    ``failed``."""
    as_of = now or utcnow()
    async with session_factory() as session:
        county_ids = list(await session.scalars(select(County.id).order_by(County.id)))
    totals = {"counties": 0, "raised": 0, "failed": 0}
    for county_id in county_ids:
        totals["counties"] += 1
        async with session_factory() as session:
            try:
                totals["raised"] += await raise_overdue_reports(
                    session, county_id, settings, now=as_of
                )
                await session.commit()
            except Exception:
                await session.rollback()
                totals["failed"] += 1
                log.exception("reports.overdue_failed", county=str(county_id))
    return totals


async def generate(context: JobContext, report_id: str, county_id: str) -> str:
    """Generate one report (``county_id`` scopes the job for ListJobs)."""
    del county_id
    found = deps(context)
    return await generate_report(found.session_factory, found.store, uuid.UUID(report_id))


async def overdue(context: JobContext, timestamp: int) -> dict[str, int]:
    del timestamp
    found = deps(context)
    counts = await run_report_overdue(found.session_factory, found.reports)
    if counts["failed"]:
        msg = f"{counts['failed']} county(ies) failed: {counts}"
        raise ReportChoreFailedError(msg)
    return counts


def blueprint() -> Blueprint:
    """A new blueprint with the reports' tasks (one per procrastinate app)."""
    tasks = Blueprint()
    tasks.task(name=GENERATE_TASK, pass_context=True)(generate)
    add_periodic(tasks, "overdue", overdue, cron=OVERDUE_CRON, queueing_lock="reports-overdue")
    return tasks
