"""Evidence's background tasks, on this package's procrastinate blueprint.

``derivatives`` (``evidence:derivatives`` once the composition root adds the blueprint under
the ``evidence`` namespace): the derivatives of one accepted evidence. Queued with the
acceptance (:func:`evidence.derivatives.derivatives_job`); the job's lock keeps one
evidence to one worker at a time; a failure is retried with exponential backoff (10 s, 20 s,
40 s, 80 s), then the job stays ``failed`` with its error for an operator. An original that no
longer matches its recorded SHA-256 is not retried.
"""

from __future__ import annotations

import uuid

from procrastinate import Blueprint, JobContext, RetryStrategy
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision

from evidence.derivatives import (
    DERIVATIVES_TASK,
    OriginalChangedError,
    make_evidence_derivatives,
)
from infra.tasks import deps

__all__ = ["DERIVATIVES_RETRY", "blueprint", "derivatives"]


class _Backoff(RetryStrategy):
    """Up to 5 attempts, 10 s doubling between them; a changed original fails at once."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, OriginalChangedError):
            return None
        if self.max_attempts and job.attempts >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": min(3600, 10 * 2**job.attempts)})


DERIVATIVES_RETRY = _Backoff(max_attempts=4)  # attempts counts the retries: 5 runs in all


async def derivatives(context: JobContext, evidence_id: str, county_id: str) -> None:
    """Make the kinds the evidence still lacks (``county_id`` scopes the job for ListJobs)."""
    del county_id
    found = deps(context)
    await make_evidence_derivatives(
        found.session_factory,
        found.store,
        uuid.UUID(evidence_id),
        custody_key=found.evidence.package_signing_key.encode(),
        spool_dir=found.spool_dir,
        caption_font=found.evidence.caption_font,
    )


def blueprint() -> Blueprint:
    """A new blueprint with this package's tasks (one per procrastinate app)."""
    tasks = Blueprint()
    tasks.task(name=DERIVATIVES_TASK, pass_context=True, retry=DERIVATIVES_RETRY)(derivatives)
    return tasks
