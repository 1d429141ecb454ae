"""Background jobs, for captains and admins: the county's jobs with their state and error."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from api.deps import Caller, Db
from api.mapping import to_wire
from infra.tasks import JobRow, list_jobs
from mobile_contract.v1 import jobs as c

__all__ = ["JobController"]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _job(job: JobRow) -> c.BackgroundJob:
    return to_wire(c.BackgroundJob, job, evidence_id=_uuid(job.args.get("evidence_id")))


class JobController(Controller):
    path = "/jobs"
    tags = ["jobs"]  # noqa: RUF012

    @get("", operation_id="ListJobs", summary="Background jobs of the county (captain, admin)")
    async def list_jobs(
        self,
        db: Db,
        principal: Caller,
        job_state: Annotated[c.BackgroundJobState | None, QueryParameter(name="state")] = None,
        task: FromQuery[c.TaskName | None] = None,
    ) -> list[c.BackgroundJob]:
        """Newest first, at most 200: each job's task, state, attempts, when it was queued,
        started and finished, and why its last attempt failed. Captains and admins see their
        county's jobs (derivatives, layer imports); admins also the periodic chores, which
        belong to no county. Others: 403 ``role_not_allowed``."""
        rows = await list_jobs(
            db, principal, state=job_state.value if job_state else None, task=task, limit=200
        )
        return [_job(r) for r in rows]
