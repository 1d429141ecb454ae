"""The background work of this service: every package's procrastinate tasks in one app.

Each package makes a blueprint of its tasks; :func:`task_app` adds a new one of each to a
procrastinate app on the configured database, under the package's namespace
(``evidence:derivatives``, ``geofence:import``, ``patrol:chores``, ``petitions:overdue``,
``cases:tip_off_deadlines``, ``cases:procedure_deadlines``, ``reports:generate``,
``reports:overdue``, ``sync:prune``,
``queue:retry_stalled``).
:func:`run_background_worker` runs it with the dependencies the tasks use, in the API process
(the embedded default) or as ``patrol worker``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from procrastinate import App, Blueprint
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence import tasks as evidence_tasks
from evidence.cases import petition_tasks, report_tasks
from evidence.cases import tasks as cases_tasks
from evidence.derivatives import TASK_NAMESPACE as EVIDENCE_NAMESPACE
from geofence import tasks as geofence_tasks
from geofence.jobs import TASK_NAMESPACE as GEOFENCE_NAMESPACE
from infra import tasks as queue
from infra.objectstore import ObjectStore
from infra.settings import Settings
from patrol import tasks as patrol_tasks
from sync import tasks as sync_tasks

__all__ = ["BLUEPRINTS", "TASK_NAMES", "run_background_worker", "task_app"]

BLUEPRINTS: dict[str, Callable[[], Blueprint]] = {
    EVIDENCE_NAMESPACE: evidence_tasks.blueprint,
    GEOFENCE_NAMESPACE: geofence_tasks.blueprint,
    "patrol": patrol_tasks.blueprint,
    "petitions": petition_tasks.blueprint,
    "cases": cases_tasks.blueprint,
    "reports": report_tasks.blueprint,
    "sync": sync_tasks.blueprint,
    "queue": queue.queue_blueprint,
}


def _names() -> tuple[str, ...]:
    every = Blueprint()
    for namespace, make in BLUEPRINTS.items():
        every.add_tasks_from(make(), namespace=namespace)
    return tuple(sorted(every.tasks))


TASK_NAMES = _names()


def task_app(settings: Settings, *, concurrency: int = 1, periodic: bool = True) -> App:
    """A procrastinate app on the configured database (opened by the worker); ``periodic``
    False leaves the chores' schedules out (a test's worker)."""
    return queue.build_app(
        settings.database, BLUEPRINTS, pool_size=concurrency + 3, periodic=periodic
    )


async def run_background_worker(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    *,
    stop: asyncio.Event,
    concurrency: int = 1,
    wait: bool = True,
    app: App | None = None,
) -> None:
    """Run the tasks until ``stop`` is set (``wait=False``: until no job is due)."""
    deps = queue.TaskDeps(
        session_factory=session_factory,
        store=store,
        evidence=settings.evidence,
        reports=settings.reports,
        procedure=settings.procedure,
    )
    await queue.run_worker(
        app or task_app(settings, concurrency=concurrency),
        deps,
        stop=stop,
        concurrency=concurrency,
        wait=wait,
    )
