"""Periodic field-work jobs: close forgotten patrols, raise overdue five-to-one alerts and
resolve the alerts whose cause ended.

The background worker calls :func:`run_patrol_jobs` now and then. Each county runs in its own
transaction, so one county's failure neither blocks nor undoes another's; every step is
idempotent, so overlapping runs (several workers) are harmless.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.db import utcnow
from patrol.config import PatrolConfig
from patrol.duty import DutyService, GeofenceDutyRoster
from patrol.models import County
from patrol.sessions import auto_close_stale_patrols

__all__ = ["run_patrol_jobs"]

log = structlog.get_logger(__name__)

_DEFAULT_CONFIG = PatrolConfig()


async def run_patrol_jobs(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    config: PatrolConfig = _DEFAULT_CONFIG,
    now: datetime | None = None,
) -> dict[str, int]:
    """Close stale patrols, raise overdue duty alerts and resolve ended ones in every county,
    one commit per county.

    Returns counts: ``counties`` visited, ``patrols_closed``, ``duty_alerts`` added,
    ``alerts_resolved`` and ``failed`` counties (logged and rolled back; the next run tries
    again).
    """
    as_of = now or utcnow()
    async with session_factory() as session:
        county_ids = list(await session.scalars(select(County.id).order_by(County.id)))
    totals = {
        "counties": 0,
        "patrols_closed": 0,
        "duty_alerts": 0,
        "alerts_resolved": 0,
        "failed": 0,
    }
    roster = GeofenceDutyRoster()
    for county_id in county_ids:
        totals["counties"] += 1
        async with session_factory() as session:
            try:
                closed = 0
                while batch := await auto_close_stale_patrols(
                    session, config=config, now=as_of, county_id=county_id
                ):
                    closed += len(batch)
                    await session.commit()
                duty = DutyService(session, roster, config=config)
                resolved = await duty.resolve_ended_alerts(county_id, now=as_of)
                alerts = await duty.raise_overdue_alerts(county_id, now=as_of)
                await session.commit()
            except Exception:
                await session.rollback()
                totals["failed"] += 1
                log.exception("patrol.jobs_failed", county=str(county_id))
                continue
        totals["patrols_closed"] += closed
        totals["duty_alerts"] += alerts
        totals["alerts_resolved"] += resolved
        if closed or alerts or resolved:
            log.info(
                "patrol.jobs_done",
                county=str(county_id),
                patrols_closed=closed,
                duty_alerts=alerts,
                alerts_resolved=resolved,
            )
    return totals
