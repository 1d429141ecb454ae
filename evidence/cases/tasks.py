"""Casework's periodic task: alerts for tip-off steps past their deadline.

Every 15 minutes (``cases:tip_off_deadlines``): each overdue step of a 12336 clue (decide,
verify, feed back) raises one ``tip_off_overdue`` alert in its county's feed (idempotent per
clue and step); the alert is resolved when the step is done
(:mod:`evidence.cases.tip_offs`). Registered like ``patrol.tasks``.
"""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from evidence.cases.tip_offs import raise_overdue_alerts
from infra.db import utcnow
from infra.tasks import add_periodic, deps

__all__ = ["TIP_OFF_DEADLINES_CRON", "blueprint", "tip_off_deadlines"]

TIP_OFF_DEADLINES_CRON = "*/15 * * * *"


async def tip_off_deadlines(context: JobContext, timestamp: int) -> dict[str, int]:
    del timestamp
    async with deps(context).session_factory() as session:
        added = await raise_overdue_alerts(session, utcnow())
        await session.commit()
    return {"alerts_raised": added}


def blueprint() -> Blueprint:
    """A new blueprint with this package's tasks (one per procrastinate app)."""
    tasks = Blueprint()
    add_periodic(
        tasks,
        "tip_off_deadlines",
        tip_off_deadlines,
        cron=TIP_OFF_DEADLINES_CRON,
        queueing_lock="cases-tip-off-deadlines",
    )
    return tasks
