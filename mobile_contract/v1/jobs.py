"""Background jobs (derivatives, periodic chores): what is queued, running, done or failed."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated

import msgspec

__all__ = ["BackgroundJob", "BackgroundJobState", "TaskName"]

TaskName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class BackgroundJobState(enum.StrEnum):
    TODO = "todo"  # queued (or waiting for its retry time)
    DOING = "doing"  # a worker is running it
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # retries used up; ``lastError`` says why
    CANCELLED = "cancelled"
    ABORTED = "aborted"


class BackgroundJob(msgspec.Struct, kw_only=True, rename="camel"):
    id: int
    task: str  # e.g. evidence:derivatives, patrol:chores
    state: BackgroundJobState
    attempts: int  # runs that ended (succeeded, failed or put back for a retry)
    county_id: uuid.UUID | None = None
    evidence_id: uuid.UUID | None = None
    queued_at: datetime | None = None
    scheduled_at: datetime | None = None  # not before this (a retry's backoff)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
