"""Patrol's periodic task: close forgotten patrols, raise and resolve five-to-one alerts.

Every 5 minutes (``patrol:chores``). procrastinate's periodic deferrer queues one job per
period for all workers together; the work itself is idempotent per county anyway
(:func:`patrol.jobs.run_patrol_jobs`). A county that failed makes the job fail after the
others were done, so the failure is visible in the job list and the metrics; the next period
tries again.
"""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from infra.tasks import add_periodic, deps
from patrol.jobs import run_patrol_jobs

__all__ = ["CHORES_CRON", "ChoreFailedError", "blueprint", "chores"]

CHORES_CRON = "*/5 * * * *"


class ChoreFailedError(RuntimeError):
    """Some counties failed (they were logged and rolled back; the others are done)."""


async def chores(context: JobContext, timestamp: int) -> dict[str, int]:
    del timestamp
    counts = await run_patrol_jobs(deps(context).session_factory)
    if counts.get("failed"):
        msg = f"{counts['failed']} county(ies) failed: {counts}"
        raise ChoreFailedError(msg)
    return counts


def blueprint() -> Blueprint:
    """A new blueprint with this package's tasks (one per procrastinate app)."""
    tasks = Blueprint()
    add_periodic(tasks, "chores", chores, cron=CHORES_CRON, queueing_lock="patrol-chores")
    return tasks
