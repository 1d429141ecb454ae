"""Satellite batches (卫片批次): the import of a batch of change polygons, its tasks by
township and contract area, the batch views, and the bulk assignment of tasks.

Dates are county-local days. A dry run (``dryRun``) reports what an import would create and
stores nothing: its ``batch`` is absent and its ``import.layerVersionId`` the nil UUID.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec

from mobile_contract.v1.geofence import ImportSummary

__all__ = [
    "AreaTaskCount",
    "AssignedSatelliteTask",
    "BatchKindName",
    "SatelliteBatch",
    "SatelliteBatchImport",
    "SatelliteTaskAssign",
    "SatelliteTaskAssignment",
    "SatelliteTaskCounts",
    "TownshipTaskCount",
]


class BatchKindName(enum.StrEnum):
    QUARTERLY = "quarterly"
    MONTHLY = "monthly"
    SPECIAL = "special"


class SatelliteTaskCounts(msgspec.Struct, kw_only=True, rename="camel"):
    """Tasks of a batch by status."""

    unassigned: int = 0
    assigned: int = 0
    verified: int = 0
    sent_back: int = 0
    passed: int = 0
    submitted: int = 0


class SatelliteBatch(msgspec.Struct, kw_only=True, rename="camel"):
    """A batch with its schedule and the layer version it was imported as; ``overdue``:
    tasks still waiting for a field result after ``verifyDueOn``."""

    id: uuid.UUID
    name: str
    kind: BatchKindName
    year: int
    quarter: int | None = None
    month: int | None = None
    layer_version_id: uuid.UUID
    layer_version_no: int
    verify_due_on: date
    report_due_on: date
    polygons: int
    task_count: int
    by_status: SatelliteTaskCounts
    overdue: int
    created_by: uuid.UUID
    created_at: datetime


class TownshipTaskCount(msgspec.Struct, kw_only=True, rename="camel"):
    """Tasks in one township (``townshipId`` null: in no known township)."""

    township_id: uuid.UUID | None = None
    name: str
    tasks: int


class AreaTaskCount(msgspec.Struct, kw_only=True, rename="camel"):
    """Tasks in one contract area (``areaId`` null: in no active area, unassigned)."""

    area_id: uuid.UUID | None = None
    code: str
    name: str
    tasks: int


class SatelliteBatchImport(msgspec.Struct, kw_only=True, rename="camel"):
    """What the import created (or, ``dryRun``, would create): the layer import's summary
    (repairs, rejections), the tasks by township and area, how many are unassigned, and the
    monitoring numbers already in tasks of other open batches of the county."""

    dry_run: bool
    import_: ImportSummary = msgspec.field(name="import")
    batch: SatelliteBatch | None = None
    task_count: int
    by_township: list[TownshipTaskCount]
    by_area: list[AreaTaskCount]
    unassigned: int
    repeated_monitoring_nos: list[str]


class SatelliteTaskAssign(msgspec.Struct, kw_only=True, rename="camel"):
    """Tasks to give to one inspector (or joint-team member); ``areaId``: the contract area
    whose patrols verify them (default: the task's own, else the inspector's nearest)."""

    task_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=1000)]
    inspector_id: uuid.UUID
    area_id: uuid.UUID | None = None


class AssignedSatelliteTask(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    status: str
    area_id: uuid.UUID | None = None
    inspector_id: uuid.UUID | None = None
    target_id: uuid.UUID | None = None


class SatelliteTaskAssignment(msgspec.Struct, kw_only=True, rename="camel"):
    assigned: int
    tasks: list[AssignedSatelliteTask]
