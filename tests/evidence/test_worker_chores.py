"""The background loop runs each chore when due; a failing chore stops nothing else."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.worker import Chore, WorkerOptions, run_worker
from infra.objectstore import S3ObjectStore
from infra.settings import EvidenceSettings


async def test_chores_run_when_due_and_failures_stay_contained(
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    evidence_settings: EvidenceSettings,
) -> None:
    calls: list[str] = []

    async def broken(_factory: async_sessionmaker[AsyncSession]) -> None:
        calls.append("broken")
        raise RuntimeError("chore failed")

    async def counting(_factory: async_sessionmaker[AsyncSession]) -> None:
        calls.append("counting")

    stop = asyncio.Event()
    options = WorkerOptions(
        idle_s=0.05,
        chores=(
            Chore("broken", 0.1, broken),
            Chore("counting", 0.1, counting),
            Chore("off", 0.0, counting),
        ),
    )
    task = asyncio.create_task(
        run_worker(session_factory, store, evidence_settings, stop=stop, options=options)
    )
    # The loop may first work through jobs other tests queued; wait for two rounds of chores.
    for _ in range(400):
        if calls.count("broken") >= 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert calls.count("broken") >= 2  # it failed and was tried again on the next turn
    assert calls.count("counting") == calls.count("broken")  # ran every time despite the failure
    assert task.exception() is None
