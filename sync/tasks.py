"""Sync's periodic task: prune the change feed, idle streams and old push receipts.

Every 10 minutes (``sync:prune``), one job per period for all workers together; the pruning
itself still runs at most hourly per process and in one process at a time
(:func:`sync.jobs.run_sync_jobs`). A failed prune fails the job (visible in the job list and
the metrics); the next period tries again.
"""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from infra.tasks import add_periodic, deps
from sync.jobs import run_sync_jobs

__all__ = ["PRUNE_CRON", "PruneFailedError", "blueprint", "prune"]

PRUNE_CRON = "*/10 * * * *"


class PruneFailedError(RuntimeError):
    """The prune was rolled back (logged with its cause)."""


async def prune(context: JobContext, timestamp: int) -> dict[str, int]:
    del timestamp
    counts = await run_sync_jobs(deps(context).session_factory)
    if counts.get("failed"):
        msg = "sync pruning failed and was rolled back"
        raise PruneFailedError(msg)
    return counts


def blueprint() -> Blueprint:
    """A new blueprint with this package's tasks (one per procrastinate app)."""
    tasks = Blueprint()
    add_periodic(tasks, "prune", prune, cron=PRUNE_CRON, queueing_lock="sync-prune")
    return tasks
