"""Satellite batches: import a batch of change polygons (its tasks made and placed), the
batch list and views, and the bulk assignment of tasks to inspectors.

Captains and admins only; another county's batch or task does not exist (404). Every
handler is one call of :class:`~evidence.cases.satellite_batches.SatelliteBatchService` and
a mapping; the upload is spooled to a temporary file like a layer import's.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, JSONBody, MultipartBody
from litestar.status_codes import HTTP_200_OK

from api.controllers.layers import MAX_LAYER_UPLOAD_BYTES, _spool, _summary
from api.deps import Caller, SatelliteBatches
from api.mapping import to_wire, to_wire_list
from api.problems import request_lang
from evidence.cases import satellite_batches as sb
from mobile_contract.v1 import satellite_batches as s

__all__ = ["SatelliteBatchController"]


@dataclass
class SatelliteBatchUpload:
    """A batch file (GeoJSON, zipped Shapefile, GeoPackage) with the batch's name, kind,
    year, quarter (quarterly) or month (monthly), optional due dates (else the schedule's),
    the file's ``crs``, a ``fieldMap`` (JSON ``{"monitoring_no": "JCBH", "township_code":
    "XZQDM"}``, or ``k=v,k=v``), the ``layer`` of a GeoPackage, a Shapefile's ``encoding``, and
    ``dryRun`` to report without storing anything."""

    file: UploadFile
    name: str
    kind: s.BatchKindName
    year: int
    quarter: int | None = None
    month: int | None = None
    verifyDueOn: date | None = None  # noqa: N815 - the form field's wire name
    reportDueOn: date | None = None  # noqa: N815
    crs: str | None = None
    fieldMap: str | None = None  # noqa: N815
    layer: str | None = None
    encoding: str | None = None
    dryRun: bool = False  # noqa: N815


def _batch(v: sb.BatchView) -> s.SatelliteBatch:
    return to_wire(s.SatelliteBatch, v, by_status=s.SatelliteTaskCounts(**v.by_status))


def _import(r: sb.BatchImport, request: Request[Any, Any, Any]) -> s.SatelliteBatchImport:
    return to_wire(
        s.SatelliteBatchImport,
        r,
        import_=_summary(r.summary, request_lang(request)),
        batch=None if r.batch is None else _batch(r.batch),
        by_township=to_wire_list(s.TownshipTaskCount, r.by_township),
        by_area=to_wire_list(s.AreaTaskCount, r.by_area),
    )


class SatelliteBatchController(Controller):
    path = "/satellite"
    tags = ["satellite"]  # noqa: RUF012

    @post(
        "/batches",
        operation_id="CreateSatelliteBatch",
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_LAYER_UPLOAD_BYTES,
        summary="Import a satellite batch and make its tasks (captains, admins)",
    )
    async def create_batch(
        self,
        data: MultipartBody[SatelliteBatchUpload],
        satellite_batches: SatelliteBatches,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> s.SatelliteBatchImport:
        """The file becomes a new version of the change-polygon layer and each stored polygon
        a task, placed by township (code, else location) and contract area (the active area
        containing it: ``assigned``, a patrol target in its plans; none: ``unassigned``).
        Due dates default to the schedule. ``dryRun`` reports the same and stores nothing.
        A file above ``PATROL_LAYER_IMPORT_JOB_BYTES`` is refused (422
        ``invalid_satellite_batch``, ``reason: file_too_large``)."""
        batch = sb.BatchInput(
            name=data.name, kind=data.kind.value, year=data.year, quarter=data.quarter,
            month=data.month, verify_due_on=data.verifyDueOn, report_due_on=data.reportDueOn,
        )  # fmt: skip
        tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="satellite-"))
        try:
            path = await _spool(data.file, tmp)
            done = await satellite_batches.create_batch(
                principal, batch, path, source_name=data.file.filename or path.name,
                crs=data.crs or None, field_map=sb.parse_field_map(data.fieldMap),
                layer=data.layer or None, encoding=data.encoding or None, dry_run=data.dryRun,
            )  # fmt: skip
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        return _import(done, request)

    @get("/batches", operation_id="ListSatelliteBatches", summary="Satellite batches")
    async def list_batches(
        self, satellite_batches: SatelliteBatches, principal: Caller
    ) -> list[s.SatelliteBatch]:
        """Newest first, with task counts by status and the overdue count."""
        return [_batch(v) for v in await satellite_batches.list_batches(principal)]

    @get("/batches/{batch_id:uuid}", operation_id="GetSatelliteBatch", summary="A satellite batch")
    async def get_batch(
        self, batch_id: FromPath[uuid.UUID], satellite_batches: SatelliteBatches, principal: Caller
    ) -> s.SatelliteBatch:
        """Its schedule, layer version, task counts by status and overdue tasks."""
        return _batch(await satellite_batches.get_batch(principal, batch_id))

    @post(
        "/tasks/assign",
        operation_id="AssignSatelliteTasks",
        status_code=HTTP_200_OK,
        summary="Give satellite tasks to an inspector (captains, admins)",
    )
    async def assign_tasks(
        self,
        data: JSONBody[s.SatelliteTaskAssign],
        satellite_batches: SatelliteBatches,
        principal: Caller,
    ) -> s.SatelliteTaskAssignment:
        """A task without an area (or with another than ``areaId``) moves its target to
        ``areaId``, else to the inspector's nearest active area; submitted tasks are refused
        (409 ``satellite_task_submitted``)."""
        done = await satellite_batches.assign_tasks(
            principal, data.task_ids, inspector_id=data.inspector_id, area_id=data.area_id
        )
        tasks = to_wire_list(s.AssignedSatelliteTask, done)
        return s.SatelliteTaskAssignment(assigned=len(tasks), tasks=tasks)
