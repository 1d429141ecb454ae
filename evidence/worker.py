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
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.derivatives import run_pending_jobs
from infra.objectstore import ObjectStore
from infra.settings import EvidenceSettings
from patrol.jobs import run_patrol_jobs

__all__ = ["WorkerOptions", "run_worker"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    idle_s: float = 2.0  # sleep when there was nothing to do
    error_backoff_s: float = 10.0  # sleep after the database or storage failed
    patrol_jobs_every_s: float = 300.0  # closing forgotten patrols, overdue duty alerts; 0: off
    batch: int = 20  # jobs per round before looking at the other duties
    spool_dir: Path | None = None


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
    next_patrol_jobs = time.monotonic()
    log.info("worker.started")
    while not stop.is_set():
        try:
            if opts.patrol_jobs_every_s > 0 and time.monotonic() >= next_patrol_jobs:
                next_patrol_jobs = time.monotonic() + opts.patrol_jobs_every_s
                await run_patrol_jobs(session_factory)  # logs what it did, per county
            run = await run_pending_jobs(
                session_factory,
                store,
                custody_key=key,
                max_jobs=opts.batch,
                spool_dir=opts.spool_dir,
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
