"""Satellite campaign tasks (卫片图斑核查任务): the task list and views, field results, the
county review, submission (上报), an admin's reopening and the case an illegal result opens.

Areas are shown in mu (1 mu = 666.67 m²), by land class (the values of ``LandClassName``).
Times are aware (with an offset); days (``dueOn``) are China's. Positions are WGS84 unless a
result's ``crs`` says ``gcj02`` (converted on intake; answers are WGS84).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from mobile_contract.v1.cases import ViolationKindName
from mobile_contract.v1.common import GeoJsonGeometry

__all__ = [
    "MAX_TASK_PAGE",
    "NamedRef",
    "ProofTypeName",
    "ReviewDecisionName",
    "SatelliteCaseCreate",
    "SatelliteConstructionStatusName",
    "SatelliteCrsName",
    "SatelliteLandUseName",
    "SatelliteNotNewKindName",
    "SatelliteOutcomeName",
    "SatelliteReopen",
    "SatelliteResult",
    "SatelliteResultCreate",
    "SatelliteReview",
    "SatelliteSubmission",
    "SatelliteSubmit",
    "SatelliteSubmittedTask",
    "SatelliteTask",
    "SatelliteTaskEvent",
    "SatelliteTaskPage",
    "SatelliteTaskStatusName",
    "SatelliteTaskSummary",
    "ViolatorTypeName",
]

#: The largest page ``ListSatelliteTasks`` answers (``limit``; 100 by default).
MAX_TASK_PAGE = 1000

Text = Annotated[str, msgspec.Meta(max_length=4000)]
Mu = Annotated[float, msgspec.Meta(ge=0, lt=1e9, description="mu (1 mu = 666.67 m²)")]


class SatelliteTaskStatusName(enum.StrEnum):
    UNASSIGNED = "unassigned"  # 未分派
    ASSIGNED = "assigned"  # 待核查
    VERIFIED = "verified"  # 待审核
    SENT_BACK = "sent_back"  # 已退回
    PASSED = "passed"  # 审核通过
    SUBMITTED = "submitted"  # 已上报


class SatelliteOutcomeName(enum.StrEnum):
    LEGAL = "legal"  # 合法
    NOT_NEW = "not_new"  # 非新增建设
    ILLEGAL = "illegal"  # 违法


class ProofTypeName(enum.StrEnum):
    FARMLAND_CONVERSION = "farmland_conversion"  # 农用地转用审批
    LAND_SWAP = "land_swap"  # 增减挂钩
    SEA_AREA = "sea_area"  # 海域使用权证
    UNUSED_LAND = "unused_land"  # 未利用地审批
    OTHER = "other"


class SatelliteNotNewKindName(enum.StrEnum):
    AGRICULTURAL_FACILITY = "agricultural_facility"  # 设施农用地
    TEMPORARY_USE = "temporary_use"  # 临时用地
    RURAL_ROAD = "rural_road"  # 农村道路
    NO_CHANGE = "no_change"  # 实地未变化
    PRE_EXISTING = "pre_existing"  # 以前年度已建
    OTHER = "other"


class ViolatorTypeName(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    VILLAGE_COLLECTIVE = "village_collective"
    GOVERNMENT = "government"


class SatelliteLandUseName(enum.StrEnum):
    HOUSING = "housing"
    INDUSTRIAL = "industrial"
    COMMERCIAL = "commercial"
    PUBLIC = "public"
    TRANSPORT = "transport"
    WATER = "water"
    MINING = "mining"
    AGRICULTURAL = "agricultural"
    OTHER = "other"


class SatelliteConstructionStatusName(enum.StrEnum):
    LEVELLED = "levelled"  # 已平整、未建
    PARTLY_BUILT = "partly_built"  # 在建
    FULLY_BUILT = "fully_built"  # 已建成


class SatelliteCrsName(enum.StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"


class ReviewDecisionName(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a review decision, not a password
    SEND_BACK = "send_back"


# -- requests ------------------------------------------------------------------------------------
class SatelliteResultCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """A field result (``PUT`` under the client's result id). By ``outcome``: ``legal`` needs
    ``proofType`` and ``approvalNo`` (``approvalBody``, ``approvalDate``, ``approvalAreaMu``
    optional); ``not_new`` needs ``notNewKind``; ``illegal`` needs ``violator``,
    ``violatorType``, ``landUse`` and ``constructionStatus``. A field of another outcome is
    refused (422 ``invalid_satellite_result`` naming it). ``outline``: the boundary walked on
    site (else the task's polygon is overlaid with the parcels). ``patrolId``: a patrol of the
    caller's crew; with a task target, the result counts as the target's visit."""

    outcome: SatelliteOutcomeName
    verified_at: Annotated[datetime, msgspec.Meta(tz=True)]
    patrol_id: uuid.UUID | None = None
    note: Text = ""
    evidence_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    proof_type: ProofTypeName | None = None
    approval_no: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    approval_body: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    approval_date: date | None = None
    approval_area_mu: Mu | None = None
    not_new_kind: SatelliteNotNewKindName | None = None
    violator: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    violator_type: ViolatorTypeName | None = None
    land_use: SatelliteLandUseName | None = None
    construction_status: SatelliteConstructionStatusName | None = None
    outline: GeoJsonGeometry | None = None
    crs: SatelliteCrsName = SatelliteCrsName.WGS84


class SatelliteReview(msgspec.Struct, kw_only=True, rename="camel"):
    """``send_back`` needs a ``reason`` (the phone sees it as the task's review note)."""

    decision: ReviewDecisionName
    reason: Text = ""


class SatelliteSubmit(msgspec.Struct, kw_only=True, rename="camel"):
    """Tasks to report up; every one must have passed the review, or none is submitted."""

    task_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=MAX_TASK_PAGE)]


class SatelliteReopen(msgspec.Struct, kw_only=True, rename="camel"):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class SatelliteCaseCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """``violationKind``: by default ``illegal_mining`` for a mining use, else
    ``land_occupation``."""

    violation_kind: ViolationKindName | None = None


# -- answers -------------------------------------------------------------------------------------
class NamedRef(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    name: str


class SatelliteTaskEvent(msgspec.Struct, kw_only=True, rename="camel"):
    """``kind``: ``result_recorded``, ``reviewed``, ``submitted``, ``reopened``,
    ``case_opened`` (and the assignment steps)."""

    kind: str
    at: datetime
    actor_id: uuid.UUID | None = None
    reason: str
    details: dict[str, Any]


class SatelliteResult(msgspec.Struct, kw_only=True, rename="camel"):
    """A field result; ``current``: the task's result now (the one verified last).
    ``overlayAreasMu``: the outline (or polygon) over the parcels, mu by land class."""

    id: uuid.UUID
    task_id: uuid.UUID
    outcome: SatelliteOutcomeName
    verified_by: uuid.UUID
    verified_at: datetime
    received_at: datetime
    patrol_id: uuid.UUID | None = None
    note: str
    evidence_ids: list[uuid.UUID]
    proof_type: ProofTypeName | None = None
    approval_no: str
    approval_body: str
    approval_date: date | None = None
    approval_area_mu: float | None = None
    not_new_kind: SatelliteNotNewKindName | None = None
    violator: str
    violator_type: ViolatorTypeName | None = None
    land_use: SatelliteLandUseName | None = None
    construction_status: SatelliteConstructionStatusName | None = None
    outline: GeoJsonGeometry | None = None
    overlay_areas_mu: dict[str, float]
    overlay_area_mu: float
    overlay_area_m2: float
    current: bool


class SatelliteTaskSummary(msgspec.Struct, kw_only=True, rename="camel"):
    """``overdue``: the due day has passed and no result is recorded (or it was sent back)."""

    id: uuid.UUID
    batch_id: uuid.UUID
    monitoring_no: str
    township_id: uuid.UUID | None = None
    area_id: uuid.UUID | None = None
    inspector_id: uuid.UUID | None = None
    target_id: uuid.UUID | None = None
    status: SatelliteTaskStatusName
    due_on: date
    overdue: bool
    outcome: SatelliteOutcomeName | None = None
    result_id: uuid.UUID | None = None
    reviewed_at: datetime | None = None
    submitted_at: datetime | None = None
    case_id: uuid.UUID | None = None


class SatelliteTaskPage(msgspec.Struct, kw_only=True, rename="camel"):
    """By monitoring number; send ``nextCursor`` back as ``cursor`` (with the same filters)
    for the next page (null on the last)."""

    items: list[SatelliteTaskSummary]
    next_cursor: str | None = None


class SatelliteTask(msgspec.Struct, kw_only=True, rename="camel"):
    """One task: its polygon (GeoJSON) and monitored areas (mu by land class), the current
    result, the review (``reviewedBy``/``reviewedAt``/``reviewNote``), the submission, the
    case it became and its history."""

    id: uuid.UUID
    batch: NamedRef
    monitoring_no: str
    township: NamedRef | None = None
    area: NamedRef | None = None
    inspector: NamedRef | None = None
    target_id: uuid.UUID | None = None
    status: SatelliteTaskStatusName
    due_on: date
    overdue: bool
    polygon: GeoJsonGeometry
    polygon_area_mu: float
    monitored_areas_mu: dict[str, float]
    outcome: SatelliteOutcomeName | None = None
    result: SatelliteResult | None = None
    reviewed_by: uuid.UUID | None = None
    reviewed_at: datetime | None = None
    review_note: str
    submitted_by: uuid.UUID | None = None
    submitted_at: datetime | None = None
    case_id: uuid.UUID | None = None
    events: list[SatelliteTaskEvent]


class SatelliteSubmittedTask(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    submitted_at: datetime


class SatelliteSubmission(msgspec.Struct, kw_only=True, rename="camel"):
    count: int
    tasks: list[SatelliteSubmittedTask]
