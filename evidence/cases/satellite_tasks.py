"""Satellite campaign tasks after assignment: the views, field results, the county review,
submission (上报), an admin's reopening, and the case an illegal result becomes.

Flow of a task (every step an event with who, when and, where one is due, the reason)::

    unassigned / assigned / sent_back / verified --field result--> verified
    verified --review: pass--> passed --submit--> submitted --admin reopens (reason)--> verified
             --review: send back (reason)--> sent_back
    passed / submitted, current result illegal --open case--> (the task names its case)

* **Field results** (``RecordSatelliteResult``, the push operation ``recordSatelliteResult``):
  the id is the phone's; the same result again answers what is stored, another result under
  the same id is ``id_reused``. Required fields depend on the outcome (legal: proof type and
  approval number; not new: its kind; illegal: violator, violator type, land use,
  construction status); a field of another outcome is refused naming it. The walked outline
  (else the task's polygon) is overlaid on the parcels: areas by land class in m² (shown in
  mu). A task has one current result: the one verified last; a result verified before the
  current one (a phone offline longer) is kept as history. A result on a task with a patrol
  target, naming a patrol, is also the target's verification (outcome ``found``) through
  :class:`patrol.verification.VerificationService`: a visit of the target on that patrol.
* **Who**: need-to-know of :mod:`evidence.cases.satellite_access` on every read and write (a
  task the caller cannot read does not exist: 404); an unassigned task takes results from
  captains and admins only; review, submission and cases are the managers'; reopening a
  submitted task is the admins', with a reason, in the custody chain.
* **Locks**: a submitted task changes only by reopening (``satellite_task_submitted``);
  a passed one takes no more results until it is reopened or submitted and reopened.

Errors: :class:`~evidence.cases.errors.SatelliteTaskNotFoundError` (404),
:class:`~evidence.cases.errors.InvalidSatelliteResultError` (422, ``field`` named),
:class:`~evidence.cases.errors.SatelliteTaskStatusError` (409, ``state``),
:class:`~evidence.cases.errors.SatelliteTaskSubmittedError` (409), ``id_reused`` (409),
``evidence_not_found`` (404), ``patrol_not_found`` (404), ``not_patrol_owner`` (403),
``invalid_time`` and ``invalid_cursor`` (422), the overlay's geometry errors (422).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import numpy as np
import shapely
import structlog
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.adapters import visible_evidence_ids
from evidence.cases.cases import CaseInput, Party, open_case
from evidence.cases.errors import (
    InvalidSatelliteResultError,
    SatelliteCaseExistsError,
    SatelliteTaskNotFoundError,
    SatelliteTaskStatusError,
    SatelliteTaskSubmittedError,
)
from evidence.cases.models import Case, SourceKind, ViolationKind
from evidence.cases.satellite_access import (
    require_field_role,
    require_manager,
    require_reopener,
    task_read_clause,
)
from evidence.cases.satellite_models import (
    ConstructionStatus,
    LandUse,
    NotNewKind,
    Outcome,
    ProofType,
    SatelliteBatch,
    SatelliteResult,
    SatelliteTask,
    SatelliteTaskEvent,
    TaskStatus,
    ViolatorType,
)
from evidence.custody import CustodyAction, CustodyLog
from geofence.gcj02 import gcj02_to_wgs84_array
from geofence.models import ChangePolygon
from geofence.overlay import M2_PER_MU, overlay_area, to_mu
from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import InvalidInputError, NotFoundError
from infra.geometry import parse_polygonal
from infra.scope import COUNTY_TZ, Principal, scoped
from patrol.errors import IdReusedError, NotPatrolOwnerError, PatrolNotFoundError
from patrol.field_models import ContractArea, PatrolSession, PatrolTarget
from patrol.models import Township, User
from patrol.verification import TargetVerificationInput, VerificationService

__all__ = [
    "MAX_PAGE",
    "EventView",
    "Ref",
    "ResultView",
    "SatelliteResultInput",
    "SatelliteTaskService",
    "SubmissionView",
    "SubmittedTask",
    "TaskFilter",
    "TaskPage",
    "TaskSummary",
    "TaskView",
]

log = structlog.get_logger(__name__)

MAX_PAGE = 1000
#: Tasks a field result is still due on (``overdue`` once their due day has passed).
_OPEN = (TaskStatus.UNASSIGNED.value, TaskStatus.ASSIGNED.value, TaskStatus.SENT_BACK.value)
_RECORDABLE = (*_OPEN, TaskStatus.VERIFIED.value)
_CASE_FROM = (TaskStatus.PASSED.value, TaskStatus.SUBMITTED.value)
_FUTURE_TOLERANCE = timedelta(minutes=5)

# the fields of each outcome: (name, required)
_OUTCOME_FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    Outcome.LEGAL.value: (
        ("proof_type", True),
        ("approval_no", True),
        ("approval_body", False),
        ("approval_date", False),
        ("approval_area_mu", False),
    ),
    Outcome.NOT_NEW.value: (("not_new_kind", True),),
    Outcome.ILLEGAL.value: (
        ("violator", True),
        ("violator_type", True),
        ("land_use", True),
        ("construction_status", True),
    ),
}
_ENUMS: dict[str, Any] = {
    "proof_type": ProofType,
    "not_new_kind": NotNewKind,
    "violator_type": ViolatorType,
    "land_use": LandUse,
    "construction_status": ConstructionStatus,
}
_LIMITS = {"approval_no": 100, "approval_body": 100, "violator": 200}

# names in the case's description (Simplified Chinese, as the case file reads)
_LAND_CLASS_ZH = {
    "permanent_basic_farmland": "永久基本农田",
    "cultivated": "耕地",
    "other_farmland": "其他农用地",
    "construction_approved": "已批建设用地",
    "construction_unapproved": "未批建设用地",
    "unused": "未利用地",
    "other": "其他",
}
_LAND_USE_ZH = {
    "housing": "住宅",
    "industrial": "工矿仓储",
    "commercial": "商服",
    "public": "公共管理与公共服务",
    "transport": "交通运输",
    "water": "水利设施",
    "mining": "采矿",
    "agricultural": "农业设施",
    "other": "其他",
}
_CONSTRUCTION_ZH = {"levelled": "已平整未建", "partly_built": "在建", "fully_built": "已建成"}


# -- inputs --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SatelliteResultInput:
    """One field result (:meth:`SatelliteTaskService.record_result`): REST and sync alike.

    A field of the outcome left ``None`` is not given; ``outline`` is a GeoJSON Polygon or
    MultiPolygon in ``crs`` (``wgs84`` or ``gcj02``, converted here)."""

    task_id: uuid.UUID
    result_id: uuid.UUID
    outcome: str
    verified_at: datetime
    patrol_id: uuid.UUID | None = None
    note: str = ""
    evidence_ids: tuple[uuid.UUID, ...] = ()
    proof_type: str | None = None
    approval_no: str | None = None
    approval_body: str | None = None
    approval_date: date | None = None
    approval_area_mu: float | None = None
    not_new_kind: str | None = None
    violator: str | None = None
    violator_type: str | None = None
    land_use: str | None = None
    construction_status: str | None = None
    outline: Mapping[str, Any] | None = None
    crs: str = "wgs84"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFilter:
    """``ListSatelliteTasks`` filters; ``overdue``: the due day has passed and no result
    is recorded, reviewed or submitted yet (with the service's clock)."""

    batch_id: uuid.UUID | None = None
    status: Sequence[str] = ()
    township_id: uuid.UUID | None = None
    area_id: uuid.UUID | None = None
    inspector_id: uuid.UUID | None = None
    outcome: str | None = None
    overdue: bool | None = None
    monitoring_no: str | None = None


# -- views ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ref:
    id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class EventView:
    kind: str
    at: datetime
    actor_id: uuid.UUID | None
    reason: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResultView:
    """A stored field result; ``current``: the task's result now. Areas in mu."""

    id: uuid.UUID
    task_id: uuid.UUID
    outcome: str
    verified_by: uuid.UUID
    verified_at: datetime
    received_at: datetime
    patrol_id: uuid.UUID | None
    note: str
    evidence_ids: list[uuid.UUID]
    proof_type: str | None
    approval_no: str
    approval_body: str
    approval_date: date | None
    approval_area_mu: float | None
    not_new_kind: str | None
    violator: str
    violator_type: str | None
    land_use: str | None
    construction_status: str | None
    outline: dict[str, Any] | None
    overlay_areas_mu: dict[str, float]
    overlay_area_mu: float
    overlay_area_m2: float
    current: bool


@dataclass(frozen=True, slots=True)
class TaskSummary:
    id: uuid.UUID
    batch_id: uuid.UUID
    monitoring_no: str
    township_id: uuid.UUID | None
    area_id: uuid.UUID | None
    inspector_id: uuid.UUID | None
    target_id: uuid.UUID | None
    status: str
    due_on: date
    overdue: bool
    outcome: str | None
    result_id: uuid.UUID | None
    reviewed_at: datetime | None
    submitted_at: datetime | None
    case_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class TaskPage:
    items: list[TaskSummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class TaskView:
    """One task with its polygon, current result, review, submission, case and history."""

    id: uuid.UUID
    batch: Ref
    monitoring_no: str
    township: Ref | None
    area: Ref | None
    inspector: Ref | None
    target_id: uuid.UUID | None
    status: str
    due_on: date
    overdue: bool
    polygon: dict[str, Any]
    polygon_area_mu: float
    monitored_areas_mu: dict[str, float]
    outcome: str | None
    result: ResultView | None
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None
    review_note: str
    submitted_by: uuid.UUID | None
    submitted_at: datetime | None
    case_id: uuid.UUID | None
    events: list[EventView]


@dataclass(frozen=True, slots=True)
class SubmittedTask:
    id: uuid.UUID
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class SubmissionView:
    count: int
    tasks: list[SubmittedTask]


# -- helpers -------------------------------------------------------------------------------------
def _bad(
    detail: str, code: str = codes.INVALID_SATELLITE_RESULT, **extra: Any
) -> InvalidSatelliteResultError:
    return InvalidSatelliteResultError(detail, code=code, **extra)


def _mu_map(areas: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): to_mu(float(v), 4) for k, v in sorted(areas.items())}


def _geojson(geom: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(shapely.to_geojson(geom))
    return loaded


def _today(now: datetime) -> date:
    return now.astimezone(COUNTY_TZ).date()


def _overdue(row: SatelliteTask, now: datetime) -> bool:
    return row.status in _OPEN and _today(now) > row.due_on


def _overdue_sql(now: datetime) -> ColumnElement[bool]:
    return and_(SatelliteTask.status.in_(_OPEN), SatelliteTask.due_on < _today(now))


def _encode_cursor(monitoring_no: str, task_id: uuid.UUID) -> str:
    raw = json.dumps([monitoring_no, str(task_id)], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        no, ident = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return str(no), uuid.UUID(str(ident))
    except (ValueError, TypeError, UnicodeError) as exc:
        raise InvalidInputError(
            "the cursor is not one this server issued", code=codes.INVALID_CURSOR, field="cursor"
        ) from exc


def _wgs84_outline(outline: Mapping[str, Any], crs: str) -> MultiPolygon:
    if crs not in ("wgs84", "gcj02"):
        raise _bad("crs must be wgs84 or gcj02", field="crs")
    polygon = parse_polygonal(dict(outline), field="outline")
    if crs == "wgs84":
        return polygon

    def convert(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        lon, lat = gcj02_to_wgs84_array(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return cast("MultiPolygon", shapely.transform(polygon, convert))


def _field_value(name: str, value: Any) -> Any:
    """A text field stripped, checked against its vocabulary and length."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    if name in _ENUMS and value:
        try:
            value = _ENUMS[name](value).value
        except ValueError as exc:
            allowed = ", ".join(v.value for v in _ENUMS[name])
            raise _bad(f"{name} must be one of {allowed}", field=name) from exc
    if name in _LIMITS and len(value) > _LIMITS[name]:
        raise _bad(f"{name} is longer than {_LIMITS[name]}", field=name)
    return value


def _outcome_values(item: SatelliteResultInput) -> dict[str, Any]:
    """The result's outcome columns from ``item``: the outcome's required fields present, no
    field of another outcome (422 ``invalid_satellite_result`` naming the field)."""
    try:
        outcome = Outcome(item.outcome).value
    except ValueError as exc:
        allowed = ", ".join(o.value for o in Outcome)
        raise _bad(f"outcome must be one of {allowed}", field="outcome") from exc
    mine = {name for name, _ in _OUTCOME_FIELDS[outcome]}
    for other, names in _OUTCOME_FIELDS.items():
        for name, _ in names:
            if name not in mine and getattr(item, name) is not None:
                raise _bad(
                    f"{name} is not a field of a {outcome} result (it is {other}'s)", field=name
                )
    values: dict[str, Any] = {"outcome": outcome}
    for name, required in _OUTCOME_FIELDS[outcome]:
        value = _field_value(name, getattr(item, name))
        if required and (value is None or value == ""):
            raise _bad(f"a {outcome} result needs {name}", field=name)
        values[name] = value
    area_mu = values.pop("approval_area_mu", None)
    if area_mu is not None and not (0 <= area_mu < 1e9):
        raise _bad("approval_area_mu must be a non-negative number", field="approval_area_mu")
    if outcome == Outcome.LEGAL.value:
        values["approval_area_m2"] = None if area_mu is None else round(area_mu * M2_PER_MU, 2)
    return values


_COLUMNS = (
    "outcome", "proof_type", "approval_no", "approval_body", "approval_date",
    "approval_area_m2", "not_new_kind", "violator", "violator_type", "land_use",
    "construction_status",
)  # fmt: skip
_DEFAULTS: dict[str, Any] = {"approval_no": "", "approval_body": "", "violator": ""}


def _columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every outcome column: the given values, the others empty."""
    out = {c: values.get(c) for c in _COLUMNS}
    return {c: _DEFAULTS[c] if v is None and c in _DEFAULTS else v for c, v in out.items()}


def _result_view(row: SatelliteResult, current: bool) -> ResultView:
    outline = None if row.outline is None else _geojson(to_shape(cast("Any", row.outline)))
    return ResultView(
        id=row.id,
        task_id=row.task_id,
        outcome=row.outcome,
        verified_by=row.verified_by,
        verified_at=row.verified_at,
        received_at=row.received_at,
        patrol_id=row.patrol_id,
        note=row.note,
        evidence_ids=list(row.evidence_ids or []),
        proof_type=row.proof_type,
        approval_no=row.approval_no,
        approval_body=row.approval_body,
        approval_date=row.approval_date,
        approval_area_mu=None if row.approval_area_m2 is None else to_mu(row.approval_area_m2, 4),
        not_new_kind=row.not_new_kind,
        violator=row.violator,
        violator_type=row.violator_type,
        land_use=row.land_use,
        construction_status=row.construction_status,
        outline=outline,
        overlay_areas_mu=_mu_map(row.overlay_areas or {}),
        overlay_area_mu=to_mu(row.overlay_area_m2, 4),
        overlay_area_m2=round(row.overlay_area_m2, 2),
        current=current,
    )


def _summary(row: SatelliteTask, now: datetime) -> TaskSummary:
    return TaskSummary(
        id=row.id,
        batch_id=row.batch_id,
        monitoring_no=row.monitoring_no,
        township_id=row.township_id,
        area_id=row.area_id,
        inspector_id=row.inspector_id,
        target_id=row.target_id,
        status=row.status,
        due_on=row.due_on,
        overdue=_overdue(row, now),
        outcome=row.outcome,
        result_id=row.result_id,
        reviewed_at=row.reviewed_at,
        submitted_at=row.submitted_at,
        case_id=row.case_id,
    )


def _describe(task: SatelliteTask, batch_name: str, result: SatelliteResult) -> str:
    """The case's cause: monitoring number, batch, use, construction status, areas in mu."""
    areas = "、".join(
        f"{_LAND_CLASS_ZH.get(k, k)}{to_mu(float(v), 2):g}亩"
        for k, v in sorted((result.overlay_areas or {}).items(), key=lambda kv: -float(kv[1]))
    )
    use = _LAND_USE_ZH.get(result.land_use or "", result.land_use or "")
    status = _CONSTRUCTION_ZH.get(result.construction_status or "", "")
    text = (
        f"卫片图斑{task.monitoring_no}（{batch_name}）实地核查为违法：{result.violator}"
        f"占地用于{use}，{status}；套合面积{to_mu(result.overlay_area_m2, 2):g}亩"
    )
    return f"{text}（{areas}）" if areas else text


# -- the service ---------------------------------------------------------------------------------
class SatelliteTaskService:
    """Satellite tasks of a county after assignment, for one request (committed by the caller)."""

    def __init__(
        self,
        session: AsyncSession,
        custody: CustodyLog | None = None,
        *,
        verifications: VerificationService | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``custody``: the chain reopenings are written to (keyed like the evidence
        service's); ``verifications``: records a result on a patrol as its target's visit."""
        self.session = session
        self._custody = custody or CustodyLog()
        self._clock = clock
        self._verifications = verifications or VerificationService(
            session, evidence=visible_evidence_ids, clock=clock
        )

    # -- reading ---------------------------------------------------------------------------------
    async def _load(
        self, principal: Principal, task_id: uuid.UUID, *, for_update: bool = False
    ) -> SatelliteTask:
        stmt = (
            scoped(select(SatelliteTask), SatelliteTask, principal)
            .where(SatelliteTask.id == task_id)
            .where(task_read_clause(principal))
        )
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise SatelliteTaskNotFoundError("satellite task not found", task_id=str(task_id))
        return row

    async def list_tasks(
        self,
        principal: Principal,
        filters: TaskFilter = TaskFilter(),
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> TaskPage:
        """By monitoring number (then id), a page at a time (keyset: ``next_cursor``)."""
        require_field_role(principal, "read satellite tasks")
        now = self._clock()
        f = filters
        stmt = scoped(select(SatelliteTask), SatelliteTask, principal).where(
            task_read_clause(principal)
        )
        equal = {
            SatelliteTask.batch_id: f.batch_id,
            SatelliteTask.township_id: f.township_id,
            SatelliteTask.area_id: f.area_id,
            SatelliteTask.inspector_id: f.inspector_id,
            SatelliteTask.outcome: f.outcome,
            SatelliteTask.monitoring_no: f.monitoring_no,
        }
        stmt = stmt.where(*(col == value for col, value in equal.items() if value is not None))
        if f.status:
            stmt = stmt.where(SatelliteTask.status.in_(list(f.status)))
        if f.overdue is not None:
            cond = _overdue_sql(now)
            stmt = stmt.where(cond if f.overdue else ~cond)
        if cursor is not None:
            no, ident = _decode_cursor(cursor)
            stmt = stmt.where(
                or_(
                    SatelliteTask.monitoring_no > no,
                    and_(SatelliteTask.monitoring_no == no, SatelliteTask.id > ident),
                )
            )
        size = max(1, min(limit, MAX_PAGE))
        stmt = stmt.order_by(SatelliteTask.monitoring_no, SatelliteTask.id).limit(size + 1)
        rows = list((await self.session.scalars(stmt)).all())
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            next_cursor = _encode_cursor(rows[-1].monitoring_no, rows[-1].id)
        return TaskPage([_summary(r, now) for r in rows], next_cursor)

    async def get_task(self, principal: Principal, task_id: uuid.UUID) -> TaskView:
        """The task, its polygon, current result, review, submission, case and history."""
        require_field_role(principal, "read satellite tasks")
        return await self._view(await self._load(principal, task_id))

    async def list_results(self, principal: Principal, task_id: uuid.UUID) -> list[ResultView]:
        """The task's results, newest verified first (the current one marked)."""
        require_field_role(principal, "read satellite tasks")
        task = await self._load(principal, task_id)
        rows = (
            await self.session.scalars(
                select(SatelliteResult)
                .where(SatelliteResult.task_id == task.id)
                .order_by(
                    SatelliteResult.verified_at.desc(),
                    SatelliteResult.received_at.desc(),
                    SatelliteResult.id.desc(),
                )
            )
        ).all()
        return [_result_view(r, r.id == task.result_id) for r in rows]

    async def _name(self, model: Any, column: Any, ident: uuid.UUID | None) -> Ref | None:
        if ident is None:
            return None
        name = await self.session.scalar(select(column).where(model.id == ident))
        return Ref(ident, str(name or ""))

    async def _view(self, row: SatelliteTask) -> TaskView:
        batch_name = await self.session.scalar(
            select(SatelliteBatch.name).where(SatelliteBatch.id == row.batch_id)
        )
        polygon = await self.session.get_one(ChangePolygon, row.change_polygon_id)
        result = None
        if row.result_id is not None:
            current = await self.session.get_one(SatelliteResult, row.result_id)
            result = _result_view(current, True)
        events = (
            await self.session.scalars(
                select(SatelliteTaskEvent)
                .where(SatelliteTaskEvent.task_id == row.id)
                .order_by(SatelliteTaskEvent.at, SatelliteTaskEvent.id)
            )
        ).all()
        return TaskView(
            id=row.id,
            batch=Ref(row.batch_id, str(batch_name or "")),
            monitoring_no=row.monitoring_no,
            township=await self._name(Township, Township.name, row.township_id),
            area=await self._name(ContractArea, ContractArea.name, row.area_id),
            inspector=await self._name(User, User.display_name, row.inspector_id),
            target_id=row.target_id,
            status=row.status,
            due_on=row.due_on,
            overdue=_overdue(row, self._clock()),
            polygon=_geojson(to_shape(cast("Any", polygon.geom))),
            polygon_area_mu=to_mu(polygon.area_m2, 4),
            monitored_areas_mu=_mu_map(polygon.monitored_areas or {}),
            outcome=row.outcome,
            result=result,
            reviewed_by=row.reviewed_by,
            reviewed_at=row.reviewed_at,
            review_note=row.review_note,
            submitted_by=row.submitted_by,
            submitted_at=row.submitted_at,
            case_id=row.case_id,
            events=[EventView(e.kind, e.at, e.actor_id, e.reason, dict(e.details)) for e in events],
        )

    # -- field results ---------------------------------------------------------------------------
    def _event(  # noqa: PLR0917 - an event reads best positionally
        self,
        row: SatelliteTask,
        kind: str,
        actor: Principal,
        at: datetime,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.session.add(
            SatelliteTaskEvent(
                county_id=row.county_id,
                task_id=row.id,
                kind=kind,
                at=at,
                actor_id=actor.user_id,
                reason=reason,
                details=dict(details or {}),
            )
        )

    def _verified_at(self, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            msg = "verified_at must carry a time zone offset"
            raise _bad(msg, codes.INVALID_TIME, field="verified_at")
        at = value.astimezone(UTC)
        if at > self._clock() + _FUTURE_TOLERANCE:
            raise _bad("verified_at is in the future", codes.INVALID_TIME, field="verified_at")
        return at

    @staticmethod
    def _writable(row: SatelliteTask, *allowed: str) -> None:
        if row.status == TaskStatus.SUBMITTED.value and TaskStatus.SUBMITTED.value not in allowed:
            raise SatelliteTaskSubmittedError(
                "the task has been submitted; an admin must reopen it first",
                task_id=str(row.id),
                state=row.status,
            )
        if row.status not in allowed:
            raise SatelliteTaskStatusError(
                f"the task is {row.status}",
                task_id=str(row.id),
                state=row.status,
                expected=list(allowed),
            )

    async def _patrol(
        self, principal: Principal, patrol_id: uuid.UUID | None
    ) -> PatrolSession | None:
        """The named patrol, with the caller on its crew (as a target verification)."""
        if patrol_id is None:
            return None
        patrol = await self.session.scalar(
            scoped(select(PatrolSession), PatrolSession, principal).where(
                PatrolSession.id == patrol_id
            )
        )
        if patrol is None:
            raise PatrolNotFoundError("patrol not found", patrol_id=str(patrol_id))
        crew = {patrol.inspector_id, *(patrol.companion_ids or [])}
        if principal.user_id not in crew:
            msg = "this patrol belongs to someone else"
            raise NotPatrolOwnerError(msg, patrol_id=str(patrol_id))
        return patrol

    async def _check_evidence(self, principal: Principal, evidence_ids: list[uuid.UUID]) -> None:
        if not evidence_ids:
            return
        visible = await visible_evidence_ids(self.session, principal, evidence_ids)
        if missing := [e for e in evidence_ids if e not in visible]:
            raise NotFoundError(
                "evidence not found", code=codes.EVIDENCE_NOT_FOUND, evidence_id=str(missing[0])
            )

    async def _overlay(
        self, principal: Principal, task: SatelliteTask, outline: MultiPolygon | None
    ) -> tuple[dict[str, float], float]:
        """Areas by land class (m²) and the total of the outline, else of the polygon."""
        if outline is None:
            geom = await self.session.scalar(
                select(ChangePolygon.geom).where(ChangePolygon.id == task.change_polygon_id)
            )
            shape = to_shape(cast("Any", geom))
        else:
            shape = outline
        result = await overlay_area(self.session, principal, shape, field="outline")
        by_class = {c.land_class.value: round(c.area_m2, 2) for c in result.land_classes}
        return by_class, round(result.area_m2, 2)

    async def record_result(
        self, principal: Principal, item: SatelliteResultInput
    ) -> tuple[ResultView, bool]:
        """Record a field result (``RecordSatelliteResult``); and whether it was stored before
        (a replay answers the stored result)."""
        require_field_role(principal, "record satellite results")
        verified_at = self._verified_at(item.verified_at)
        values = _outcome_values(item)
        note = item.note.strip()
        if len(note) > 4000:
            raise _bad("note is longer than 4000", field="note")
        outline = None if item.outline is None else _wgs84_outline(item.outline, item.crs)
        evidence_ids = list(dict.fromkeys(item.evidence_ids))
        given = (values, note, evidence_ids, outline, verified_at)
        stored = await self.session.get(SatelliteResult, item.result_id)
        if stored is not None:
            return await self._replay(principal, item, stored, given), True
        task = await self._load(principal, item.task_id, for_update=True)
        # the same result sent twice at once: the second waited for the task's lock
        stored = await self.session.get(SatelliteResult, item.result_id, populate_existing=True)
        if stored is not None:
            return await self._replay(principal, item, stored, given), True
        self._writable(task, *_RECORDABLE)
        if task.status == TaskStatus.UNASSIGNED.value:
            require_manager(principal, "record a result on an unassigned polygon")
        patrol = await self._patrol(principal, item.patrol_id)
        await self._check_evidence(principal, evidence_ids)
        by_class, total = await self._overlay(principal, task, outline)
        now = self._clock()
        row = SatelliteResult(
            id=item.result_id,
            county_id=task.county_id,
            task_id=task.id,
            verified_by=principal.user_id,
            verified_at=verified_at,
            received_at=now,
            patrol_id=None if patrol is None else patrol.id,
            **_columns(values),
            outline=None if outline is None else from_shape(outline, srid=4326),
            overlay_areas=by_class,
            overlay_area_m2=total,
            note=note,
            evidence_ids=evidence_ids,
        )
        current = (
            None
            if task.result_id is None
            else await self.session.get(SatelliteResult, task.result_id)
        )
        becomes_current = current is None or verified_at >= current.verified_at
        self.session.add(row)
        await self.session.flush()
        if becomes_current:
            task.result_id = row.id
            task.outcome = row.outcome
            task.status = TaskStatus.VERIFIED.value
            task.updated_at = now
        self._event(
            task, "result_recorded", principal, now,
            details={"result_id": str(row.id), "outcome": row.outcome,
                     "current": becomes_current, "verified_at": verified_at.isoformat()},
        )  # fmt: skip
        if patrol is not None and task.target_id is not None:
            await self._visit(principal, task.target_id, row, patrol)
        await self.session.flush()
        log.info(
            "satellite.result_recorded",
            county=str(task.county_id),
            task_id=str(task.id),
            outcome=row.outcome,
            current=becomes_current,
        )
        return _result_view(row, becomes_current), False

    async def _visit(
        self,
        principal: Principal,
        target_id: uuid.UUID,
        row: SatelliteResult,
        patrol: PatrolSession,
    ) -> None:
        """The result as the patrol target's verification (``found``, the result's id): a
        visit on the patrol. A target retired since assignment takes none."""
        active = await self.session.scalar(
            select(PatrolTarget.active).where(
                PatrolTarget.id == target_id, PatrolTarget.county_id == row.county_id
            )
        )
        if not active:
            return
        await self._verifications.record(
            principal,
            TargetVerificationInput(
                target_id=target_id,
                verification_id=row.id,
                outcome="found",
                verified_at=row.verified_at,
                patrol_id=patrol.id,
                note=row.note[:4000],
                evidence_ids=tuple(row.evidence_ids or ()),
            ),
        )

    async def _replay(
        self,
        principal: Principal,
        item: SatelliteResultInput,
        row: SatelliteResult,
        given: tuple[dict[str, Any], str, list[uuid.UUID], MultiPolygon | None, datetime],
    ) -> ResultView:
        """The stored result when ``item`` is the same one again; otherwise ``id_reused``."""
        values, note, evidence_ids, outline, verified_at = given
        stored_outline = None if row.outline is None else to_shape(cast("Any", row.outline))
        same_outline = (
            stored_outline is None
            if outline is None
            else stored_outline is not None and shapely.equals_exact(stored_outline, outline, 1e-9)
        )
        same = (
            row.county_id == principal.county_id
            and row.verified_by == principal.user_id
            and row.task_id == item.task_id
            and row.patrol_id == item.patrol_id
            and row.verified_at == verified_at
            and row.note == note
            and list(row.evidence_ids or []) == evidence_ids
            and all(getattr(row, c) == v for c, v in _columns(values).items())
            and same_outline
        )
        if not same:
            raise IdReusedError("this result id is already used", id=str(row.id))
        task = await self.session.get_one(SatelliteTask, row.task_id)
        return _result_view(row, task.result_id == row.id)

    # -- review, submission, reopening -----------------------------------------------------------
    async def review(
        self, principal: Principal, task_id: uuid.UUID, *, decision: str, reason: str = ""
    ) -> TaskView:
        """The county review of a verified task: ``pass`` or ``send_back`` (with a reason,
        which the phone sees as the task's review note)."""
        require_manager(principal, "review satellite results")
        if decision not in ("pass", "send_back"):
            raise _bad("decision must be pass or send_back", field="decision")
        reason = reason.strip()
        if decision == "send_back" and not reason:
            raise _bad("sending a result back needs a reason", field="reason")
        if len(reason) > 4000:
            raise _bad("reason is longer than 4000", field="reason")
        task = await self._load(principal, task_id, for_update=True)
        self._writable(task, TaskStatus.VERIFIED.value)
        now = self._clock()
        task.status = TaskStatus.PASSED.value if decision == "pass" else TaskStatus.SENT_BACK.value
        task.reviewed_at, task.reviewed_by, task.review_note = now, principal.user_id, reason
        task.updated_at = now
        result_id = None if task.result_id is None else str(task.result_id)
        details = {"decision": decision, "result_id": result_id}
        self._event(task, "reviewed", principal, now, reason, details)
        await self.session.flush()
        return await self._view(task)

    async def submit(self, principal: Principal, task_ids: Sequence[uuid.UUID]) -> SubmissionView:
        """Report passed tasks up (上报), all or none: a task not passed refuses the whole
        submission (409 naming the tasks)."""
        require_manager(principal, "submit satellite results")
        wanted = list(dict.fromkeys(task_ids))
        if not wanted:
            raise _bad("name the tasks to submit", field="task_ids")
        rows = (
            await self.session.scalars(
                scoped(select(SatelliteTask), SatelliteTask, principal)
                .where(SatelliteTask.id.in_(wanted), task_read_clause(principal))
                .order_by(SatelliteTask.id)
                .with_for_update()
            )
        ).all()
        found = {r.id: r for r in rows}
        if missing := [str(t) for t in wanted if t not in found]:
            raise SatelliteTaskNotFoundError(
                "satellite task not found", task_id=missing[0], task_ids=missing
            )
        if wrong := [found[t] for t in wanted if found[t].status != TaskStatus.PASSED.value]:
            raise SatelliteTaskStatusError(
                "only tasks that passed the county review are submitted",
                state=wrong[0].status,
                task_ids=[str(r.id) for r in wrong],
                states={str(r.id): r.status for r in wrong},
            )
        now = self._clock()
        for t in wanted:
            row = found[t]
            row.status = TaskStatus.SUBMITTED.value
            row.submitted_at, row.submitted_by, row.updated_at = now, principal.user_id, now
            self._event(row, "submitted", principal, now)
        await self.session.flush()
        log.info("satellite.submitted", county=str(principal.county_id), tasks=len(wanted))
        return SubmissionView(len(wanted), [SubmittedTask(t, now) for t in wanted])

    async def reopen(self, principal: Principal, task_id: uuid.UUID, *, reason: str) -> TaskView:
        """An admin takes a submitted task back for the county to review again (``verified``);
        the reason goes to the task's history and the custody chain."""
        require_reopener(principal)
        reason = reason.strip()
        if not reason:
            raise _bad("reopening needs a reason", field="reason")
        if len(reason) > 4000:
            raise _bad("reason is longer than 4000", field="reason")
        task = await self._load(principal, task_id, for_update=True)
        if task.status != TaskStatus.SUBMITTED.value:
            raise SatelliteTaskStatusError(
                f"the task is {task.status}", task_id=str(task.id), state=task.status,
                expected=[TaskStatus.SUBMITTED.value],
            )  # fmt: skip
        now = self._clock()
        submitted_at = task.submitted_at
        task.status = TaskStatus.VERIFIED.value
        task.submitted_at = task.submitted_by = None
        task.updated_at = now
        self._event(task, "reopened", principal, now, reason)
        await self._custody.append(
            self.session,
            county_id=task.county_id,
            action=CustodyAction.SATELLITE_REOPENED,
            subject_id=task.id,
            actor_id=principal.user_id,
            details={
                "monitoring_no": task.monitoring_no,
                "batch_id": str(task.batch_id),
                "reason": reason,
                "submitted_at": None if submitted_at is None else submitted_at.isoformat(),
            },
            at=now,
        )
        await self.session.flush()
        return await self._view(task)

    # -- the case --------------------------------------------------------------------------------
    async def open_case(
        self, principal: Principal, task_id: uuid.UUID, *, violation_kind: str | None = None
    ) -> TaskView:
        """Open a case (转立案) from a passed or submitted task whose current result is
        illegal: at the polygon's representative point, the violator as party, the result's
        evidence linked, the monitoring number, batch, use, construction status and areas in
        the cause; the case's source is the task and the task names the case. Once only."""
        require_manager(principal, "open cases from satellite tasks")
        task = await self._load(principal, task_id, for_update=True)
        if task.case_id is not None:
            case_no = await self.session.scalar(select(Case.case_no).where(Case.id == task.case_id))
            raise SatelliteCaseExistsError(
                "a case was already opened from this task", task_id=str(task.id),
                state=task.status, case_id=str(task.case_id), case_no=str(case_no or ""),
            )  # fmt: skip
        if task.status not in _CASE_FROM or task.outcome != Outcome.ILLEGAL.value:
            raise SatelliteTaskStatusError(
                "a case is opened from a passed or submitted task with an illegal result",
                task_id=str(task.id), state=task.status, outcome=task.outcome,
            )  # fmt: skip
        result = await self.session.get_one(SatelliteResult, task.result_id)
        geom = await self.session.scalar(
            select(ChangePolygon.geom).where(ChangePolygon.id == task.change_polygon_id)
        )
        point = to_shape(cast("Any", geom)).representative_point()
        batch_name = await self.session.scalar(
            select(SatelliteBatch.name).where(SatelliteBatch.id == task.batch_id)
        )
        kind = violation_kind or (
            ViolationKind.ILLEGAL_MINING.value
            if result.land_use == LandUse.MINING.value
            else ViolationKind.LAND_OCCUPATION.value
        )
        person = result.violator_type == ViolatorType.PERSON.value
        party_kind = "person" if person else "organisation"
        case = await open_case(
            self.session,
            principal,
            CaseInput(
                cause=_describe(task, str(batch_name or ""), result)[:2000],
                violation_kind=kind,
                lon=float(point.x),
                lat=float(point.y),
                source_kind=SourceKind.SATELLITE.value,
                source_id=task.id,
                parties=[Party(result.violator[:200], kind=party_kind)],
                evidence_ids=list(result.evidence_ids or []),
            ),
        )
        now = self._clock()
        task.case_id = case.id
        task.updated_at = now
        self._event(task, "case_opened", principal, now,
                    details={"case_id": str(case.id), "case_no": case.case_no})  # fmt: skip
        await self.session.flush()
        return await self._view(task)
