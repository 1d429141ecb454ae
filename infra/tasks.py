"""The task queue: procrastinate on the service's own PostgreSQL database.

Every piece of background work is a procrastinate task. Each domain package declares its tasks
on its own :class:`procrastinate.Blueprint` (``evidence.tasks``, ``patrol.tasks``,
``sync.tasks``); the composition root (:mod:`api.worker`) gathers them under one namespace per
package and builds one :class:`procrastinate.App` per process from the settings with
:func:`build_app`. This module knows no domain package.

* **Connection**: a psycopg pool with the database settings' host, port, user, password and
  database passed as separate connection parameters, never as a URL in argv or a log line.
* **Dependencies**: tasks take what they need (session factory, object store, settings) from
  a :class:`TaskDeps` handed to the worker as additional context (:func:`deps`).
* **Deferring in the caller's transaction**: :func:`defer_in_session` inserts the job with
  procrastinate's own SQL function (``procrastinate_defer_jobs_v1``) through the caller's
  SQLAlchemy session, so the job commits or rolls back with the work that asked for it.
* **Failures**: procrastinate keeps a job's state and attempts but not why it failed; the
  worker middleware :func:`record_failure` writes each failure's error to
  ``procrastinate_job_errors`` (created with procrastinate's schema by migration
  ``0018_task_queue``), which :func:`list_jobs` shows beside the job.
* **Outages**: :func:`run_worker` runs procrastinate's worker and starts it again after the
  database went away (procrastinate's worker stops when its connection fails); jobs a dead
  worker held are taken again by the periodic ``queue:retry_stalled`` task (every minute).
* **Housekeeping**: ``queue:prune_finished`` deletes, every night, the jobs that ended well
  more than :data:`KEEP_FINISHED_DAYS` ago; failed jobs stay for an operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from procrastinate import App, Blueprint, JobContext, PsycopgConnector
from procrastinate.periodic import PeriodicRegistry
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.objectstore import ObjectStore
from infra.scope import MANAGERS, Principal, Role, require_role
from infra.settings import (
    DatabaseSettings,
    EvidenceSettings,
    ProcedureSettings,
    ReportSettings,
)

__all__ = [
    "DEFAULT_QUEUE",
    "DEFER_JOB",
    "DEFER_KEYS",
    "JOB_STATES",
    "KEEP_FINISHED_DAYS",
    "PERIODIC_QUEUE",
    "JobRow",
    "TaskDeps",
    "add_periodic",
    "build_app",
    "defer_in_session",
    "defer_job_sql",
    "defer_params",
    "deps",
    "list_jobs",
    "queue_blueprint",
    "record_failure",
    "retry_job",
    "run_worker",
]

log = structlog.get_logger(__name__)

DEFAULT_QUEUE = "default"  # work something asked for (derivatives)
PERIODIC_QUEUE = "periodic"  # the periodic chores
JOB_STATES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")
_DEPS_KEY = "patrol_deps"
_STALLED_AFTER_S = 60.0  # a worker silent this long is gone; its running jobs are retried
_GRACEFUL_STOP_S = 30.0  # how long a stopping worker waits for the jobs in hand
KEEP_FINISHED_DAYS = 14  # succeeded jobs are listed this long, then deleted


@dataclass(frozen=True, slots=True)
class TaskDeps:
    """What tasks may use: the database, the object store, the evidence settings, the
    penalty procedure's settings (its filing deadline) and the report settings."""

    session_factory: async_sessionmaker[AsyncSession]
    store: ObjectStore
    evidence: EvidenceSettings
    spool_dir: Path | None = None
    reports: ReportSettings = field(default_factory=ReportSettings)
    procedure: ProcedureSettings = field(default_factory=ProcedureSettings)


def deps(context: JobContext) -> TaskDeps:
    """The dependencies the worker running this job was given."""
    found = context.additional_context.get(_DEPS_KEY)
    if not isinstance(found, TaskDeps):
        msg = "the worker was started without TaskDeps (infra.tasks.run_worker)"
        raise RuntimeError(msg)
    return found


# -- the app -------------------------------------------------------------------------------------
# URL query parameters that mean the same to libpq (asyncpg-only ones are left out)
_LIBPQ_QUERY = {
    "ssl": "sslmode",
    "sslmode": "sslmode",
    "host": "host",
    "sslrootcert": "sslrootcert",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "target_session_attrs": "target_session_attrs",
}


def _connection_parameters(database: DatabaseSettings) -> dict[str, Any]:
    url = make_url(database.url)
    params: dict[str, Any] = {
        "host": url.host or None,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
        "application_name": "patrol-tasks",
    }
    if database.connect_timeout_s:
        params["connect_timeout"] = max(1, round(database.connect_timeout_s))
    for key, value in url.query.items():  # asyncpg's ``ssl=require`` is libpq's ``sslmode``
        name = _LIBPQ_QUERY.get(key)
        if name is not None:
            params[name] = value if isinstance(value, str) else value[0]
    return {k: v for k, v in params.items() if v is not None}


def build_app(
    database: DatabaseSettings,
    blueprints: Mapping[str, Callable[[], Blueprint]],
    *,
    pool_size: int = 4,
    periodic: bool = True,
) -> App:
    """An app on the database of ``database`` (not yet open) with each namespace's tasks from
    a new blueprint of its factory (tasks are bound to the app that defers them, the periodic
    ones included). ``periodic=False``: the schedules are left out (tests)."""
    connector = PsycopgConnector(
        conninfo="",
        kwargs=_connection_parameters(database),
        min_size=1,
        max_size=max(2, pool_size),
        # waiting for a pooled connection is bounded as the engines' is (an outage is noticed
        # in seconds, and the worker starts again when the database is back)
        timeout=database.pool_timeout_s or 30.0,
    )
    app = App(connector=connector)
    for namespace, make in blueprints.items():
        app.add_tasks_from(make(), namespace=namespace)
    if not periodic:
        app.periodic_registry = PeriodicRegistry()  # type: ignore[no-untyped-call]
    return app


# -- deferring -----------------------------------------------------------------------------------
_DEFER_SQL = """
    SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(
        {queue}, {task}, 0, {lock}, {queueing_lock}, CAST({args} AS jsonb), NULL
    )::procrastinate_job_to_defer_v1])
    WHERE {when} AND NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs
        WHERE queueing_lock = {queueing_lock} AND status = 'todo'
    )
    """
DEFER_KEYS = ("queue", "task", "lock", "queueing_lock", "args")
"""The names of :func:`defer_params`' values, in the order :func:`defer_job_sql` numbers them."""


def defer_job_sql(first: int, *, when: str = "TRUE") -> str:
    """:data:`DEFER_JOB` for a statement sent straight to the driver: its values are
    ``$first`` onwards, in the order of :data:`DEFER_KEYS`; no job is queued unless the SQL
    condition ``when`` holds."""
    numbers = {key: f"${first + k}" for k, key in enumerate(DEFER_KEYS)}
    return _DEFER_SQL.format(when=when, **numbers)


DEFER_JOB = text(_DEFER_SQL.format(when="TRUE", **{key: f":{key}" for key in DEFER_KEYS}))
"""Queue one job (the values of :func:`defer_params`). A caller that writes rows of its own
in the same round trip may put them before it as data-modifying ``WITH`` clauses
(``DEFER_JOB.columns().add_cte(...)``): they run whether or not a job is queued."""


def defer_params(
    task: str,
    args: Mapping[str, str],
    *,
    lock: str | None = None,
    queueing_lock: str,
    queue: str = DEFAULT_QUEUE,
) -> dict[str, Any]:
    """The bound values of :data:`DEFER_JOB` (arguments as :func:`defer_in_session`)."""
    return {
        "queue": queue,
        "task": task,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "args": json.dumps(dict(args)),
    }


async def defer_in_session(
    session: AsyncSession,
    task: str,
    args: Mapping[str, str],
    *,
    lock: str | None = None,
    queueing_lock: str,
    queue: str = DEFAULT_QUEUE,
) -> None:
    """Queue ``task`` with ``args`` in the session's transaction (committed with it).

    At most one job with ``queueing_lock`` waits at a time: deferring again while one is
    queued does nothing. Jobs sharing ``lock`` never run at the same time.
    """
    await session.execute(
        DEFER_JOB,
        defer_params(task, args, lock=lock, queueing_lock=queueing_lock, queue=queue),
    )


# -- failures ------------------------------------------------------------------------------------
_RECORD_ERROR = """
    INSERT INTO procrastinate_job_errors (job_id, attempt, error, at)
    VALUES (%(job_id)s, %(attempt)s, %(error)s, now())
    ON CONFLICT (job_id) DO UPDATE
        SET attempt = EXCLUDED.attempt, error = EXCLUDED.error, at = EXCLUDED.at
"""


async def record_failure(call_next: Any, context: JobContext, worker: Any) -> Any:
    """Worker middleware: a task's exception is written beside its job, then re-raised."""
    try:
        return await call_next()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        try:
            await worker.app.connector.execute_query_async(
                _RECORD_ERROR,
                job_id=context.job.id,
                attempt=context.job.attempts + 1,
                error=error,
            )
        except Exception as write_exc:  # the job's own failure is what matters
            log.warning("tasks.error_not_recorded", error=type(write_exc).__name__)
        log.warning(
            "tasks.job_failed",
            job_id=context.job.id,
            task=context.job.task_name,
            attempt=context.job.attempts + 1,
            error=type(exc).__name__,
            detail=str(exc)[:300],
        )
        raise


# -- the queue's own chore -------------------------------------------------------------------------
async def retry_stalled(context: JobContext, timestamp: int) -> int:
    """Put back the running jobs of workers that stopped sending heartbeats (a crash, a kill:
    what the old lease did). Their tasks are idempotent; the job runs again from the start."""
    del timestamp
    manager = context.app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=_STALLED_AFTER_S))
    for job in stalled:
        await manager.retry_job(job)
        log.warning("tasks.stalled_job_retried", job_id=job.id, task=job.task_name)
    return len(stalled)


async def prune_finished(context: JobContext, timestamp: int) -> None:
    """Delete jobs that succeeded, were cancelled or aborted more than
    :data:`KEEP_FINISHED_DAYS` ago (their error rows go with them); failed jobs stay until an
    operator retried them."""
    del timestamp
    await context.app.job_manager.delete_old_jobs(
        nb_hours=KEEP_FINISHED_DAYS * 24, include_cancelled=True, include_aborted=True
    )


def add_periodic(
    tasks: Blueprint, name: str, run: Callable[..., Any], *, cron: str, queueing_lock: str
) -> None:
    """Register ``run`` as a periodic task on the periodic queue: one job per period for all
    workers together (``queueing_lock``: a period's job is not queued twice)."""
    task = tasks.task(
        name=name, pass_context=True, queue=PERIODIC_QUEUE, queueing_lock=queueing_lock
    )
    tasks.periodic(cron=cron)(task(run))


def queue_blueprint() -> Blueprint:
    """A new blueprint with the queue's own tasks (one per procrastinate app)."""
    tasks = Blueprint()
    add_periodic(tasks, "retry_stalled", retry_stalled, cron="* * * * *",
                 queueing_lock="retry_stalled")  # fmt: skip
    add_periodic(tasks, "prune_finished", prune_finished, cron="17 3 * * *",  # daily, at night
                 queueing_lock="prune_finished")  # fmt: skip
    return tasks


# -- the worker ----------------------------------------------------------------------------------
async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_worker(
    app: App,
    task_deps: TaskDeps,
    *,
    stop: asyncio.Event,
    concurrency: int = 1,
    name: str | None = None,
    error_backoff_s: float = 10.0,
    graceful_stop_s: float = _GRACEFUL_STOP_S,
    wait: bool = True,
    queues: list[str] | None = None,
) -> None:
    """Run procrastinate's worker until ``stop`` is set; return after the jobs in hand ended.

    A task's failure is procrastinate's business (retry or ``failed``) and never stops the
    worker. The worker itself stops when the database goes away; it is started again after
    ``error_backoff_s`` as long as ``stop`` is not set. With ``wait=False`` it returns once
    no job is due (tests, one-off runs); ``queues`` limits it to those queues (default: all).
    """
    options: dict[str, Any] = {
        "concurrency": max(1, concurrency),
        "additional_context": {_DEPS_KEY: task_deps},
        "install_signal_handlers": False,
        "shutdown_graceful_timeout": graceful_stop_s,
        "worker_middleware": [record_failure],
        "wait": wait,
        "update_heartbeat_interval": 10.0,
        "stalled_worker_timeout": _STALLED_AFTER_S,
    }
    if name:
        options["name"] = name
    if queues is not None:
        options["queues"] = queues
    log.info("worker.started", tasks=sorted(app.tasks), concurrency=options["concurrency"])
    while not stop.is_set():
        try:
            async with app.open_async():
                worker = asyncio.create_task(app.run_worker_async(**options))
                stopper = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({worker, stopper}, return_when="FIRST_COMPLETED")
                if worker not in done:  # asked to stop: the jobs in hand finish first
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                    break
                stopper.cancel()
                worker.result()  # raises what stopped it
                if not wait:
                    break
                # procrastinate stops its worker when a side task (the listener, the
                # heartbeat) lost its connection: start again once the database answers
                log.warning("worker.stopped_early")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the worker outlives a database outage
            if not wait:
                raise
            log.warning("worker.round_failed", error=type(exc).__name__, detail=str(exc)[:300])
        await _wait(stop, error_backoff_s)
    log.info("worker.stopped")


# -- jobs for operators ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    task: str
    state: str
    attempts: int
    county_id: uuid.UUID | None
    args: dict[str, Any]
    queued_at: datetime | None
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None


_LIST = """
    SELECT j.id, j.task_name, j.status::text, j.attempts, j.args, j.scheduled_at,
           (SELECT min(e.at) FROM procrastinate_events e
             WHERE e.job_id = j.id AND e.type = 'deferred') AS queued_at,
           (SELECT max(e.at) FROM procrastinate_events e
             WHERE e.job_id = j.id AND e.type = 'started') AS started_at,
           CASE WHEN j.status IN ('succeeded', 'failed', 'cancelled', 'aborted') THEN
             (SELECT max(e.at) FROM procrastinate_events e
               WHERE e.job_id = j.id
                 AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted'))
           END AS finished_at,
           err.error
      FROM procrastinate_jobs j
      LEFT JOIN procrastinate_job_errors err ON err.job_id = j.id
     WHERE (CAST(:state AS text) IS NULL OR j.status::text = :state)
       AND (CAST(:task AS text) IS NULL OR j.task_name = :task)
       AND (CAST(:all_counties AS boolean)
            OR j.args->>'county_id' = :county
            OR (CAST(:unscoped AS boolean) AND NOT j.args ? 'county_id'))
     ORDER BY j.id DESC
     LIMIT :limit
"""


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


async def list_jobs(
    session: AsyncSession,
    principal: Principal | None,
    *,
    state: str | None = None,
    task: str | None = None,
    limit: int = 100,
) -> list[JobRow]:
    """Jobs, newest first. ``principal`` None is the operator's command line (every job);
    captains and admins see their county's jobs, admins also the jobs of no county (the
    periodic chores). Others may not look."""
    if principal is not None:
        require_role(principal, *MANAGERS, action="list background jobs")
    if state is not None and state not in JOB_STATES:
        state = "__none__"  # no job has it; the API validates before this
    rows = await session.execute(
        text(_LIST),
        {
            "state": state,
            "task": task,
            "all_counties": principal is None,
            "county": str(principal.county_id) if principal is not None else "",
            "unscoped": principal is not None and principal.role is Role.ADMIN,
            "limit": max(1, min(limit, 1000)),
        },
    )
    return [
        JobRow(
            id=int(r[0]),
            task=str(r[1]),
            state=str(r[2]),
            attempts=int(r[3]),
            county_id=_uuid((r[4] or {}).get("county_id")),
            args=dict(r[4] or {}),
            scheduled_at=r[5],
            queued_at=r[6],
            started_at=r[7],
            finished_at=r[8],
            last_error=r[9],
        )
        for r in rows
    ]


async def retry_job(session: AsyncSession, job_id: int) -> bool:
    """Queue a failed job again now (the operator's ``patrol jobs retry``); False when there
    is no failed job with this id."""
    found = await session.scalar(
        text("SELECT 1 FROM procrastinate_jobs WHERE id = :id AND status = 'failed' FOR UPDATE"),
        {"id": job_id},
    )
    if found is None:
        return False
    await session.execute(
        text("SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"), {"id": job_id}
    )
    return True
