"""What the background loop does here: the job queue plus every package's periodic chores."""

from __future__ import annotations

from evidence.worker import PATROL_CHORE, Chore, WorkerOptions
from sync.jobs import run_sync_jobs

__all__ = ["worker_options"]


def worker_options() -> WorkerOptions:
    """Derivatives, patrol chores every 5 minutes, sync pruning (itself at most hourly)."""
    return WorkerOptions(chores=(PATROL_CHORE, Chore("sync", 600.0, run_sync_jobs)))
