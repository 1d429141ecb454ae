"""Satellite enforcement campaign (卫片执法) tables and their vocabularies.

* ``satellite_batches`` — one batch of change polygons as the ministry or the province issued
  it (a quarter, a month, or a named special campaign), imported as a version of the county's
  change-polygon layer, with the campaign's due dates.
* ``satellite_tasks`` — one polygon of a batch to verify in the field: where it fell (township,
  contract area), who verifies it, its patrol target, its state in the county flow
  (:class:`TaskStatus`), its current result, review, submission and the case it became.
* ``satellite_results`` — a field verification result (the phone's id; history kept: the
  task's ``result_id`` names the current one): outcome, proof of legality, kind of not-new
  construction, or the violation (violator, use, construction status), with the areas by
  land class from the overlay of the polygon (or the walked outline).
* ``satellite_task_events`` — who did what to a task and when (assignments, results,
  reviews, submission, admin reopenings with their reason).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from evidence.cases.models import _in
from infra.db import Base, CountyOwned, Timestamped, UuidPk, utcnow

__all__ = [
    "BatchKind",
    "ConstructionStatus",
    "LandUse",
    "NotNewKind",
    "Outcome",
    "ProofType",
    "SatelliteBatch",
    "SatelliteResult",
    "SatelliteTask",
    "SatelliteTaskEvent",
    "TaskStatus",
    "ViolatorType",
]


class BatchKind(enum.StrEnum):
    QUARTERLY = "quarterly"  # 季度卫片 (since the end of 2023)
    MONTHLY = "monthly"  # 月度卫片 (月清)
    SPECIAL = "special"  # 专项 (a named special campaign)


class TaskStatus(enum.StrEnum):
    UNASSIGNED = "unassigned"  # in no active contract area: a captain assigns it
    ASSIGNED = "assigned"  # a target in an area's plan; the field result is due
    VERIFIED = "verified"  # a field result is recorded; the county review is due
    SENT_BACK = "sent_back"  # the review sent it back with a reason; a new result is due
    PASSED = "passed"  # the county review passed it; to be reported up
    SUBMITTED = "submitted"  # reported up (上报): locked unless an admin reopens it


class Outcome(enum.StrEnum):
    LEGAL = "legal"  # 合法
    NOT_NEW = "not_new"  # 非新增建设
    ILLEGAL = "illegal"  # 违法


class ProofType(enum.StrEnum):
    FARMLAND_CONVERSION = "farmland_conversion"  # 农用地转用审批
    LAND_SWAP = "land_swap"  # 城乡建设用地增减挂钩
    SEA_AREA = "sea_area"  # 海域使用权证
    UNUSED_LAND = "unused_land"  # 未利用地审批
    OTHER = "other"  # 其他用地手续


class NotNewKind(enum.StrEnum):
    AGRICULTURAL_FACILITY = "agricultural_facility"  # 设施农用地
    TEMPORARY_USE = "temporary_use"  # 临时用地
    RURAL_ROAD = "rural_road"  # 农村道路
    NO_CHANGE = "no_change"  # 实地未变化
    PRE_EXISTING = "pre_existing"  # 以前年度已建
    OTHER = "other"


class ViolatorType(enum.StrEnum):
    PERSON = "person"  # 个人
    ORGANISATION = "organisation"  # 企业、单位
    VILLAGE_COLLECTIVE = "village_collective"  # 村集体
    GOVERNMENT = "government"  # 政府及部门


class LandUse(enum.StrEnum):
    HOUSING = "housing"  # 住宅
    INDUSTRIAL = "industrial"  # 工矿仓储
    COMMERCIAL = "commercial"  # 商服
    PUBLIC = "public"  # 公共管理与公共服务
    TRANSPORT = "transport"  # 交通运输
    WATER = "water"  # 水利设施
    MINING = "mining"  # 采矿
    AGRICULTURAL = "agricultural"  # 农业设施
    OTHER = "other"


class ConstructionStatus(enum.StrEnum):
    LEVELLED = "levelled"  # 已平整、未建
    PARTLY_BUILT = "partly_built"  # 在建
    FULLY_BUILT = "fully_built"  # 已建成


_UUIDS = ARRAY(Uuid(as_uuid=True))


def _nullable_in(column: str, kind: type[enum.StrEnum]) -> str:
    return f"{column} IS NULL OR {_in(column, kind)}"


class SatelliteBatch(UuidPk, CountyOwned, Timestamped, Base):
    """A batch of change polygons and its schedule (county-local due dates)."""

    __tablename__ = "satellite_batches"
    __table_args__ = (
        UniqueConstraint("county_id", "name"),
        CheckConstraint(_in("kind", BatchKind), name="kind"),
        CheckConstraint("quarter IS NULL OR quarter BETWEEN 1 AND 4", name="quarter"),
        CheckConstraint("month IS NULL OR month BETWEEN 1 AND 12", name="month"),
    )

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(12))
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int | None] = mapped_column(Integer)
    month: Mapped[int | None] = mapped_column(Integer)
    # the change-polygon layer version the batch was imported as
    layer_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("geofence_layer_versions.id", ondelete="RESTRICT"), index=True
    )
    verify_due_on: Mapped[date] = mapped_column(Date)  # field results due (county-local day)
    report_due_on: Mapped[date] = mapped_column(Date)  # submission (上报) due
    polygons: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class SatelliteTask(UuidPk, CountyOwned, Timestamped, Base):
    """One change polygon of a batch to verify, review and report up."""

    __tablename__ = "satellite_tasks"
    __table_args__ = (
        UniqueConstraint("batch_id", "change_polygon_id"),
        CheckConstraint(_in("status", TaskStatus), name="status"),
        Index("ix_satellite_tasks_batch_status", "batch_id", "status"),
        Index("ix_satellite_tasks_county_township", "county_id", "township_id"),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("satellite_batches.id", ondelete="CASCADE")
    )
    change_polygon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("geofence_change_polygons.id", ondelete="RESTRICT"), index=True
    )
    monitoring_no: Mapped[str] = mapped_column(String(64))
    township_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("townships.id", ondelete="RESTRICT")
    )
    area_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patrol_areas.id", ondelete="RESTRICT"), index=True
    )
    inspector_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    target_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patrol_targets.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), default=TaskStatus.UNASSIGNED.value)
    due_on: Mapped[date] = mapped_column(Date)
    assigned_at: Mapped[datetime | None]
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    # the current field result (history in satellite_results)
    result_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(
            "satellite_results.id", ondelete="RESTRICT", use_alter=True,
            name="fk_satellite_tasks_result_id_satellite_results",
        )
    )  # fmt: skip
    outcome: Mapped[str | None] = mapped_column(String(10))  # the current result's outcome
    # county review
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    review_note: Mapped[str] = mapped_column(Text, default="")
    # reported up
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    # the case an illegal result became (转立案); the case names the task as its source
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))


class SatelliteResult(CountyOwned, Base):
    """A field verification result of a task; ``id`` is the phone's (or console's) id."""

    __tablename__ = "satellite_results"
    __table_args__ = (
        CheckConstraint(_in("outcome", Outcome), name="outcome"),
        CheckConstraint(_nullable_in("proof_type", ProofType), name="proof_type"),
        CheckConstraint(_nullable_in("not_new_kind", NotNewKind), name="not_new_kind"),
        CheckConstraint(_nullable_in("violator_type", ViolatorType), name="violator_type"),
        CheckConstraint(_nullable_in("land_use", LandUse), name="land_use"),
        CheckConstraint(
            _nullable_in("construction_status", ConstructionStatus), name="construction_status"
        ),
        Index("ix_satellite_results_task_verified", "task_id", "verified_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("satellite_tasks.id", ondelete="CASCADE"))
    verified_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    verified_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    patrol_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patrol_sessions.id", ondelete="RESTRICT")
    )
    outcome: Mapped[str] = mapped_column(String(10))
    # legal: the proof
    proof_type: Mapped[str | None] = mapped_column(String(24))
    approval_no: Mapped[str] = mapped_column(String(100), default="")
    approval_body: Mapped[str] = mapped_column(String(100), default="")
    approval_date: Mapped[date | None] = mapped_column(Date)
    approval_area_m2: Mapped[float | None] = mapped_column(Float)
    # not new construction: what it is
    not_new_kind: Mapped[str | None] = mapped_column(String(24))
    # illegal: the violation
    violator: Mapped[str] = mapped_column(String(200), default="")
    violator_type: Mapped[str | None] = mapped_column(String(20))
    land_use: Mapped[str | None] = mapped_column(String(16))
    construction_status: Mapped[str | None] = mapped_column(String(16))
    # the walked outline, when the inspector walked one (else the polygon is overlaid)
    outline: Mapped[object | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True
    )
    # overlay with the parcels: land class -> m² (shown in mu), and the total
    overlay_areas: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    overlay_area_m2: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str] = mapped_column(Text, default="")
    evidence_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)


class SatelliteTaskEvent(UuidPk, CountyOwned, Base):
    """One step in a task's history: who, when, what, and why (a reason where one is due)."""

    __tablename__ = "satellite_task_events"
    __table_args__ = (Index("ix_satellite_task_events_task_at", "task_id", "at"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("satellite_tasks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
