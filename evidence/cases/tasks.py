"""Casework's periodic tasks: alerts for tip-off steps and case steps past their deadline.

Every 15 minutes (``cases:tip_off_deadlines``): each overdue step of a 12336 clue (decide,
verify, feed back) raises one ``tip_off_overdue`` alert in its county's feed (idempotent per
clue and step); the alert is resolved when the step is done
(:mod:`evidence.cases.tip_offs`). Registered like ``patrol.tasks``.

Every 15 minutes (``cases:procedure_deadlines``): each overdue officer duty of an open case's
administrative procedure (filing, decision, service) raises one ``case_step_overdue`` alert
(idempotent per case and step), resolved when the step is recorded or when a pause or an
extension moved its due time past now (:mod:`evidence.cases.procedure`).
"""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from evidence.cases import procedure
from evidence.cases.tip_offs import raise_overdue_alerts
from infra.db import utcnow
from infra.tasks import add_periodic, deps

__all__ = [
    "PROCEDURE_DEADLINES_CRON",
    "TIP_OFF_DEADLINES_CRON",
    "blueprint",
    "procedure_deadlines",
    "tip_off_deadlines",
]

TIP_OFF_DEADLINES_CRON = "*/15 * * * *"
PROCEDURE_DEADLINES_CRON = "*/15 * * * *"


async def tip_off_deadlines(context: JobContext, timestamp: int) -> dict[str, int]:
    del timestamp
    async with deps(context).session_factory() as session:
        added = await raise_overdue_alerts(session, utcnow())
        await session.commit()
    return {"alerts_raised": added}


async def procedure_deadlines(context: JobContext, timestamp: int) -> dict[str, int]:
    del timestamp
    found = deps(context)
    async with found.session_factory() as session:
        raised, resolved = await procedure.raise_overdue_alerts(session, utcnow(), found.procedure)
        await session.commit()
    return {"alerts_raised": raised, "alerts_resolved": resolved}


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
    add_periodic(
        tasks,
        "procedure_deadlines",
        procedure_deadlines,
        cron=PROCEDURE_DEADLINES_CRON,
        queueing_lock="cases-procedure-deadlines",
    )
    return tasks
