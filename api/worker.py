"""What the background loop does here: the job queue plus every package's periodic chores."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from evidence.worker import PATROL_CHORE, Chore, WorkerOptions
from sync.jobs import run_sync_jobs

__all__ = ["worker_options"]


def worker_options(
    *, watch: Callable[[Sequence[Chore]], Sequence[Chore]] | None = None
) -> WorkerOptions:
    """Derivatives, patrol chores every 5 minutes, sync pruning (itself at most hourly).

    ``watch`` wraps the chores (the API process counts their runs, :mod:`api.metrics`)."""
    chores: Sequence[Chore] = (PATROL_CHORE, Chore("sync", 600.0, run_sync_jobs))
    return WorkerOptions(chores=tuple(watch(chores) if watch else chores))
