"""Background layer imports: large uploads become jobs any worker runs and any API replica
reports on.

:meth:`ImportJobRunner.submit` stages the upload in the object store (``imports/<job id>/
<file name>``), then writes the job row (:class:`~geofence.models.ImportJob`) and queues the
``geofence:import`` task (:mod:`geofence.tasks`) in one transaction, so whichever worker
process takes the task can read the file. :meth:`ImportJobRunner.run_job` (the task's body)
copies the staged file to a temporary directory, imports it (the heavy parts, read,
transform, check, run on worker threads inside :func:`import_layer`) and deletes the staged
object. While it runs it writes the counts so far (with the feature count the file declares,
known once the file is opened) and a heartbeat every ``heartbeat_s``; a done job's total is
the count it read. The job turns ``done`` in the same transaction that stores the new layer
version, so a done job always has its version (a dry run's has none: it reports and stores
nothing) and a failed one never leaves half a version behind.

A process that dies mid-import leaves its job ``running`` with a stale heartbeat. Such a job
is marked failed (``import_abandoned``) when the next API process starts
(:func:`fail_abandoned_jobs`) or when somebody reads it after the lease has run out. A
``queued`` job is waiting for a worker and is never abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence.enums import LayerKind
from geofence.errors import ImportJobNotFoundError
from geofence.importer import (
    BATCH_SIZE,
    FeatureIssue,
    ImportProgress,
    ImportSummary,
    ImportWarning,
    import_layer,
)
from geofence.layers import parse_kinds
from geofence.models import ImportJob
from infra.errors import DomainError
from infra.ids import uuid7
from infra.objectstore import ObjectStore
from infra.scope import Principal, Role, require_role, scoped
from infra.tasks import defer_in_session

__all__ = [
    "HEARTBEAT_S",
    "IMPORT_TASK",
    "LEASE_S",
    "STAGING_PREFIX",
    "TASK_NAMESPACE",
    "ImportJobInfo",
    "ImportJobRunner",
    "JobState",
    "fail_abandoned_jobs",
    "get_import_job",
]

log = structlog.get_logger(__name__)

HEARTBEAT_S = 2.0
LEASE_S = 30.0
STAGING_PREFIX = "imports/"
TASK_NAMESPACE = "geofence"  # the namespace the composition root gives this package's tasks
IMPORT_TASK = "import"  # the task's name in this package's blueprint (geofence.tasks)
_SAFE_NAME = re.compile(r"[^0-9A-Za-z._-]")
_ISSUE_CAP = 1000
_UNFINISHED = ("queued", "running")
_ABANDONED = {
    "code": "import_abandoned",
    "detail": "the server running the import stopped before it finished; upload the file again",
}
_INTERRUPTED = {
    "code": "import_interrupted",
    "detail": "the server shut down during the import; upload the file again",
}
_CRASHED = {
    "code": "internal_error",
    "detail": "the import failed unexpectedly; it has been logged with the job id",
}


class JobState:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ImportJobInfo:
    """What a job reports: its state, counts so far, first rejections, and the result."""

    id: uuid.UUID
    county_id: uuid.UUID
    kind: LayerKind
    state: str
    source_name: str
    source_bytes: int
    total: int | None
    read: int
    stored: int
    repaired: int
    rejected: int
    rejections: tuple[FeatureIssue, ...]
    error_code: str | None
    error_detail: str | None
    summary: ImportSummary | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime
    finished_at: datetime | None
    created_by: uuid.UUID | None = field(default=None)

    @classmethod
    def from_row(cls, row: ImportJob) -> ImportJobInfo:
        error = row.error or {}
        return cls(
            id=row.id, county_id=row.county_id, kind=LayerKind(row.kind), state=row.state,
            source_name=row.source_name, source_bytes=row.source_bytes, total=row.total,
            read=row.read_count, stored=row.stored_count, repaired=row.repaired_count,
            rejected=row.rejected_count,
            rejections=_issues((row.issues or {}).get("rejections", [])),
            error_code=error.get("code"), error_detail=error.get("detail"),
            summary=None if row.summary is None else _summary(row.summary),
            created_at=row.created_at, started_at=row.started_at, heartbeat_at=row.heartbeat_at,
            finished_at=row.finished_at, created_by=row.created_by,
        )  # fmt: skip


def _issues(items: Any) -> tuple[FeatureIssue, ...]:
    return tuple(FeatureIssue.from_json(i) for i in items)


def _summary(data: Mapping[str, Any]) -> ImportSummary:
    version = data.get("layer_version_id")
    return ImportSummary(
        layer_version_id=None if version is None else uuid.UUID(version),
        kind=LayerKind(data["kind"]),
        version_no=int(data["version_no"]), source_format=str(data["source_format"]),
        source_crs=str(data["source_crs"]), read=int(data["read"]), stored=int(data["stored"]),
        repaired=int(data["repaired"]), rejected=int(data["rejected"]),
        repairs=_issues(data.get("repairs", [])), rejections=_issues(data.get("rejections", [])),
        dry_run=bool(data.get("dry_run", False)), encoding=data.get("encoding"),
        source_layer=data.get("source_layer"),
        warnings=tuple(
            ImportWarning(str(w["code"]), str(w["detail"]), w.get("suggested_crs"))
            for w in data.get("warnings", [])
        ),
    )  # fmt: skip


def _capped(summary: ImportSummary) -> dict[str, Any]:
    data = summary.to_json()
    data["repairs"] = data["repairs"][:_ISSUE_CAP]
    data["rejections"] = data["rejections"][:_ISSUE_CAP]
    return data


def _progress_values(p: ImportProgress) -> dict[str, Any]:
    return {
        "total": p.total,
        "read_count": p.read,
        "stored_count": p.stored,
        "repaired_count": p.repaired,
        "rejected_count": p.rejected,
        "issues": {"rejections": [i.to_json() for i in p.rejections[:_ISSUE_CAP]]},
    }


def _expired(lease_s: float) -> Any:
    """Heartbeats older than the lease, by the database's clock (shared by every replica)."""
    return ImportJob.heartbeat_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, lease_s)


def staged_key(job_id: uuid.UUID, file_name: str) -> str:
    """Where an import's upload waits for its worker."""
    name = _SAFE_NAME.sub("_", Path(file_name).name)[-100:] or "upload"
    return f"{STAGING_PREFIX}{job_id}/{name}"


async def fail_abandoned_jobs(session: AsyncSession, *, lease_s: float = LEASE_S) -> int:
    """Mark failed every running job whose heartbeat is older than the lease (any county);
    run at start-up. The caller commits. Returns how many were marked."""
    result = await session.execute(
        update(ImportJob)
        .where(ImportJob.state == JobState.RUNNING, _expired(lease_s))
        .values(state=JobState.FAILED, error=_ABANDONED, finished_at=func.now())
        .returning(ImportJob.id)
    )
    ids = list(result.scalars())
    for job_id in ids:
        log.warning("geofence.import_job.abandoned", job_id=str(job_id))
    return len(ids)


async def get_import_job(
    session: AsyncSession, principal: Principal, job_id: uuid.UUID, *, lease_s: float = LEASE_S
) -> ImportJobInfo:
    """An admin reads a job of their county; another county's job is not found.

    A job whose runner stopped heartbeating longer than the lease ago is marked failed here.
    """
    require_role(principal, Role.ADMIN, action="read layer import jobs")
    base: Any = select(ImportJob)  # scoped() is typed for row tuples
    stmt = scoped(base, ImportJob, principal).where(ImportJob.id == job_id)
    row = await session.scalar(stmt)
    if row is None:
        raise ImportJobNotFoundError("import job not found", id=str(job_id))
    if row.state == JobState.RUNNING:
        marked = await session.scalar(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.state == JobState.RUNNING, _expired(lease_s))
            .values(state=JobState.FAILED, error=_ABANDONED, finished_at=func.now())
            .returning(ImportJob.id)
        )
        if marked is not None:
            log.warning("geofence.import_job.abandoned", job_id=str(job_id))
            await session.refresh(row)
    return ImportJobInfo.from_row(row)


@dataclass(frozen=True, slots=True)
class _Work:
    job_id: uuid.UUID
    county_id: uuid.UUID
    created_by: uuid.UUID | None
    path: Path
    kind: LayerKind
    source_name: str
    crs: str | None
    field_map: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)  # layer, encoding, preset, dry_run


class ImportJobRunner:
    """Queues import jobs (the API) and runs them (the ``geofence:import`` task)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        lease_s: float = LEASE_S,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.heartbeat_s = heartbeat_s
        self.lease_s = lease_s
        self.batch_size = batch_size
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid7().hex[-8:]}"[-64:]

    async def submit(
        self,
        principal: Principal,
        path: Path,
        kind: str,
        *,
        source_name: str,
        crs: str | None = None,
        field_map: Mapping[str, str] | None = None,
        layer: str | None = None,
        encoding: str | None = None,
        preset: str | None = None,
        dry_run: bool = False,
    ) -> ImportJobInfo:
        """Queue the import (or dry run) of ``path`` (an admin's upload on local disk; the
        caller may delete it on return); the options are those of
        :func:`~geofence.importer.import_layer`.

        The file is staged in the object store first; the job row and its task are committed
        together after that, so the row can be read at once from any replica and any worker
        can run the task.
        """
        require_role(principal, Role.ADMIN, action="import reference layers")
        layer_kind = parse_kinds([kind], field="kind")[0]
        size = (await asyncio.to_thread(path.stat)).st_size
        job_id = uuid7()
        key = staged_key(job_id, path.name)
        more = {"layer": layer, "encoding": encoding, "preset": preset, "dry_run": dry_run}
        options = {"crs": crs, "field_map": dict(field_map or {}), **more, "staged": key}
        await self.store.put_file(key, path, content_type="application/octet-stream")
        try:
            async with self.sessions() as session:
                row = ImportJob(
                    id=job_id, county_id=principal.county_id, kind=layer_kind.value,
                    state=JobState.QUEUED, source_name=source_name[:255], source_bytes=size,
                    options=options, read_count=0, stored_count=0, repaired_count=0,
                    rejected_count=0, issues={}, runner=self.name, created_by=principal.user_id,
                )  # fmt: skip
                session.add(row)
                await session.flush()
                await defer_in_session(
                    session,
                    f"{TASK_NAMESPACE}:{IMPORT_TASK}",
                    {"job_id": str(job_id), "county_id": str(principal.county_id)},
                    lock=f"layer-import:{job_id}",
                    queueing_lock=f"layer-import:{job_id}",
                )
                await session.commit()
                info = ImportJobInfo.from_row(row)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.store.delete(key)
            raise
        log.info("geofence.import_job.queued", job_id=str(info.id), county=str(info.county_id),
                 kind=layer_kind.value, bytes=size)  # fmt: skip
        return info

    async def recover(self) -> None:
        """At start-up: mark failed the jobs that dead processes left running (never raises:
        a database that is not up yet leaves it to the reads)."""
        try:
            async with self.sessions() as session:
                await fail_abandoned_jobs(session, lease_s=self.lease_s)
                await session.commit()
        except Exception as exc:
            log.warning("geofence.import_job.recovery_skipped", error=type(exc).__name__)

    async def run_job(self, job_id: uuid.UUID) -> None:
        """Run a queued import (the ``geofence:import`` task's body). A job that already
        ended (done, failed, abandoned) is left alone; its staged file is deleted either way.
        An import that fails is recorded on the job row, not raised."""
        async with self.sessions() as session:
            row = await session.get(ImportJob, job_id)
            if row is None:
                log.warning("geofence.import_job.missing", job_id=str(job_id))
                return
            options = dict(row.options or {})
            key = str(options.pop("staged", "") or "")
            work = _Work(
                job_id, row.county_id, row.created_by, Path(key or "upload"),
                LayerKind(row.kind), row.source_name, options.pop("crs", None),
                dict(options.pop("field_map", {}) or {}), options,
            )  # fmt: skip
            unfinished = row.state in _UNFINISHED
        try:
            if unfinished:
                await self._run_staged(work, key)
        finally:
            if key:
                with contextlib.suppress(Exception):  # a leftover is only a stray upload
                    await self.store.delete(key)

    def _download(self, key: str, path: Path) -> None:
        with path.open("wb") as out:
            for chunk in self.store.iter_chunks(key):
                out.write(chunk)

    async def _run_staged(self, work: _Work, key: str) -> None:
        latest: list[ImportProgress] = []
        beat = asyncio.create_task(self._beat(work.job_id, latest))
        tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="layer-import-"))
        try:
            await self._set(work.job_id, state=JobState.RUNNING, started_at=func.now(),
                            heartbeat_at=func.now(), runner=self.name)  # fmt: skip
            path = tmp / Path(key).name
            await asyncio.to_thread(self._download, key, path)
            await self._import(replace(work, path=path), latest)
        except asyncio.CancelledError:
            await asyncio.shield(self._fail(work.job_id, _INTERRUPTED, latest))
            raise
        except Exception:
            log.exception("geofence.import_job.crashed", job_id=str(work.job_id))
            await self._fail(work.job_id, _CRASHED, latest)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            await asyncio.to_thread(shutil.rmtree, tmp, True)

    async def _import(self, work: _Work, latest: list[ImportProgress]) -> None:
        def progress(p: ImportProgress) -> None:
            latest[:] = [p]

        async with self.sessions() as session:
            try:
                summary = await import_layer(
                    session, work.county_id, work.path, work.kind.value, crs=work.crs,
                    field_map=work.field_map, created_by=work.created_by,
                    source_name=work.source_name, progress=progress, batch_size=self.batch_size,
                    **work.options,
                )  # fmt: skip
            except DomainError as exc:
                await session.rollback()
                await self._fail(work.job_id, {"code": exc.code, "detail": exc.detail}, latest)
                log.info("geofence.import_job.refused", job_id=str(work.job_id), code=exc.code)
                return
            # done in the import's own transaction: a done job always has its version
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == work.job_id)
                .values(
                    state=JobState.DONE, finished_at=func.now(), heartbeat_at=func.now(),
                    layer_version_id=summary.layer_version_id, summary=_capped(summary),
                    total=summary.read, read_count=summary.read, stored_count=summary.stored,
                    repaired_count=summary.repaired, rejected_count=summary.rejected,
                    issues={"rejections": [i.to_json() for i in summary.rejections[:_ISSUE_CAP]]},
                )
            )  # fmt: skip
            await session.commit()
        log.info("geofence.import_job.done", job_id=str(work.job_id), stored=summary.stored,
                 rejected=summary.rejected, version=summary.version_no)  # fmt: skip

    async def _beat(self, job_id: uuid.UUID, latest: list[ImportProgress]) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            values: dict[str, Any] = {"heartbeat_at": func.now()}
            if latest:
                values.update(_progress_values(latest[0]))
            try:
                await self._set(job_id, **values)
            except Exception as exc:  # a missed beat is retried; the lease allows for several
                log.warning("geofence.import_job.heartbeat_failed", job_id=str(job_id),
                            error=type(exc).__name__)  # fmt: skip

    async def _fail(
        self, job_id: uuid.UUID, error: dict[str, str], latest: list[ImportProgress]
    ) -> None:
        values: dict[str, Any] = {"error": error, "finished_at": func.now()}
        if latest:
            values.update(_progress_values(latest[0]))
        try:
            await self._set(job_id, state=JobState.FAILED, **values)
        except Exception as exc:  # the lease marks it failed later
            log.warning("geofence.import_job.unrecorded_failure", job_id=str(job_id),
                        error=type(exc).__name__)  # fmt: skip

    async def _set(self, job_id: uuid.UUID, **values: Any) -> None:
        """Update an unfinished job in a short transaction of its own."""
        async with self.sessions() as session:
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.state.in_(_UNFINISHED))
                .values(**values)
            )
            await session.commit()
