"""The background loop: derivatives jobs, and patrol's periodic jobs now and then.

One loop serves both ways of running it: as an asyncio task inside the API process (the
embedded default, ``PATROL_INPROCESS_WORKER=1``) and as ``patrol worker`` in its own process.
Any number of loops may run against one database (jobs are claimed with ``SKIP LOCKED``).
Setting ``stop`` ends the loop after the job in hand; an idle loop wakes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.derivatives import run_pending_jobs
from infra.objectstore import ObjectStore
from infra.settings import EvidenceSettings
from patrol.jobs import run_patrol_jobs

__all__ = ["Chore", "WorkerOptions", "run_worker"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Chore:
    """Periodic work beside the job queue; each chore commits its own transactions."""

    name: str
    every_s: float
    run: Callable[[async_sessionmaker[AsyncSession]], Awaitable[object]]


# Closing forgotten patrols and raising overdue five-to-one alerts, every 5 minutes.
PATROL_CHORE = Chore("patrol", 300.0, run_patrol_jobs)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    idle_s: float = 2.0  # sleep when there was nothing to do
    error_backoff_s: float = 10.0  # sleep after the database or storage failed
    chores: tuple[Chore, ...] = (PATROL_CHORE,)  # the composition root may add more
    batch: int = 20  # jobs per round before looking at the other duties
    spool_dir: Path | None = None


async def _run_due_chores(
    session_factory: async_sessionmaker[AsyncSession],
    chores: tuple[Chore, ...],
    next_run: dict[str, float],
) -> None:
    for chore in chores:
        if chore.every_s <= 0 or time.monotonic() < next_run.get(chore.name, 0.0):
            continue
        next_run[chore.name] = time.monotonic() + chore.every_s
        try:
            await chore.run(session_factory)  # each chore logs what it did
        except Exception as exc:  # one failing chore never stops the others or the queue
            log.warning(
                "worker.chore_failed",
                chore=chore.name,
                error=type(exc).__name__,
                detail=str(exc)[:300],
            )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_worker(
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    settings: EvidenceSettings,
    *,
    stop: asyncio.Event,
    options: WorkerOptions | None = None,
) -> None:
    """Run until ``stop`` is set. Failures are logged and retried; they never end the loop."""
    opts = options or WorkerOptions()
    key = settings.package_signing_key.encode()
    next_run: dict[str, float] = {}
    log.info("worker.started", chores=[c.name for c in opts.chores])
    while not stop.is_set():
        try:
            await _run_due_chores(session_factory, opts.chores, next_run)
            run = await run_pending_jobs(
                session_factory,
                store,
                custody_key=key,
                max_jobs=opts.batch,
                spool_dir=opts.spool_dir,
                caption_font=settings.caption_font,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop outlives a database or storage outage
            log.warning("worker.round_failed", error=type(exc).__name__, detail=str(exc)[:300])
            await _wait(stop, opts.error_backoff_s)
            continue
        if run.done + run.retried + run.failed == 0:
            await _wait(stop, opts.idle_s)
    log.info("worker.stopped")
