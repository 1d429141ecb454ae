"""Geofence's background task: a queued layer import (``geofence:import``).

The upload waits in the object store; the job row (``geofence_import_jobs``) keeps the state,
counts and heartbeat that ``GetImportJob`` reports (:mod:`geofence.jobs`). An import that
fails is recorded on that row and ends the task normally; it is not retried (the admin
uploads a corrected file). A worker that dies mid-import leaves the row to the lease, which
reports it ``import_abandoned``.
"""

from __future__ import annotations

import uuid

from procrastinate import Blueprint, JobContext

from geofence.jobs import IMPORT_TASK, ImportJobRunner
from infra.tasks import deps

__all__ = ["blueprint", "import_layer_job"]


async def import_layer_job(context: JobContext, job_id: str, county_id: str) -> None:
    """Run one queued import (``county_id`` scopes the job for ListJobs)."""
    del county_id
    found = deps(context)
    await ImportJobRunner(found.session_factory, found.store).run_job(uuid.UUID(job_id))


def blueprint() -> Blueprint:
    """A new blueprint with this package's tasks (one per procrastinate app)."""
    tasks = Blueprint()
    tasks.task(name=IMPORT_TASK, pass_context=True)(import_layer_job)
    return tasks
