"""Tip-offs (12336 clues): intake, the county flow with its deadlines, field verification,
handling, feedback, the reporter's protected identity, and the desk's figures.

Flow (every step an event on the clue, with who and when)::

    received --accept--> accepted --assign verification--> verifying --verified--> verified
       |                                                                              |
       +--refuse (exclusion reason)--> refused                  stop order / no violation /
       +--transfer (authority named)--> transferred                   case opened
                                             |                               |
                   refused / transferred / handled --feedback to the reporter--> closed

Deadlines are the province's working days (:class:`infra.settings.TipOffSettings`: decide 1,
verify 10, feed back 15 unless the province says otherwise) counted from the day the clue was
received, with the county's calendar (:mod:`evidence.cases.calendar`), and stored with the
clue at intake. A step not done by its due time is overdue: the desk's list filters on it
(``overdue``), each clue lists its steps with due time, done time and a late flag, and the
periodic task (:mod:`evidence.cases.tasks`) raises a ``tip_off_overdue`` alert for the
captains, resolved when the step is done.

Receipt numbers: ``12336-<county admin code>-<yyyymmdd>-<seq>``, the day of registration in
China, the sequence per county and day from a counter row locked by the intake's
transaction: numbers without gaps or repeats under concurrency (a rolled-back intake gives
its number back).

Duplicates: a new clue within ``duplicate_radius_m`` (200 m) of an open clue about the same
reported party (normalised: width, case, spaces and punctuation ignored) is linked to it
(``duplicate_of``, the first clue of the chain) and left out of the figures.

Who may do what: the clue desk, captains and admins register, decide, assign, handle, feed
back and read clues; inspectors, joint teams and the security squad do not
(``role_not_allowed``). The reporter's identity (own table) is read only through
:meth:`TipOffService.get_reporter`, by the desk and captains (admins neither), and every read
appends a ``reporter_viewed`` entry to the custody chain (subject: the clue; the details
never hold the identity). No view, list, target, event or log carries it.

Field verification is patrol work: a target of kind ``tip_off`` in the active contract area
containing the clue's point, named by receipt number and clue type only. The result comes
back through :func:`on_tip_off_verified` (registered with the patrol verification listeners
by the composition root).
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, cast

import numpy as np
import shapely
import structlog
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point
from sqlalchemy import ColumnElement, and_, false, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.calendar import (
    CalendarDayView,
    WorkCalendar,
    delete_calendar_day,
    due_at,
    list_calendar_days,
    load_calendar,
    put_calendar_day,
)
from evidence.cases.cases import CaseInput, Party, check_evidence, open_case
from evidence.cases.errors import (
    InvalidTipOffError,
    TipOffNotFoundError,
    TipOffStatusError,
)
from evidence.cases.models import SourceKind
from evidence.cases.tip_off_models import (
    ClueType,
    Decision,
    FeedbackChannel,
    Handling,
    RefusalReason,
    TipOff,
    TipOffChannel,
    TipOffEvent,
    TipOffEvidence,
    TipOffReporter,
    TipOffStatus,
    VerificationOutcome,
)
from evidence.custody import CustodyAction, CustodyLog
from geofence.gcj02 import gcj02_to_wgs84, gcj02_to_wgs84_array
from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import NotFoundError
from infra.geometry import check_lon_lat, parse_polygonal
from infra.messages import DEFAULT_LANG, label
from infra.scope import COUNTY_TZ, Principal, Role, require_role, scoped
from infra.settings import TipOffSettings
from patrol.alerts import TIP_OFF_OVERDUE, raise_alert, resolve_alerts
from patrol.areas import AreaService, nearest_area_of
from patrol.field_models import ContractArea, PatrolAlert, PatrolTarget
from patrol.models import County, Township
from patrol.periods import parse_period

__all__ = [
    "REPORTER_READERS",
    "TIP_OFF_ROLES",
    "FiguresView",
    "PetitionLike",
    "ReporterInput",
    "ReporterView",
    "StepView",
    "TipOffEventView",
    "TipOffInput",
    "TipOffService",
    "TipOffView",
    "TownshipCount",
    "VerificationResultLike",
    "normalise_party",
    "on_tip_off_verified",
    "petition_clue_opener",
    "raise_overdue_alerts",
    "receipt_number",
]

log = structlog.get_logger(__name__)

TIP_OFF_ROLES = (Role.CLUE_DESK, Role.CAPTAIN, Role.ADMIN)
"""Register, decide, assign, handle, feed back and read clues."""
REPORTER_READERS = (Role.CLUE_DESK, Role.CAPTAIN)
"""Read a reporter's identity (every read in the custody chain)."""

_OPEN_FOR_DUPLICATES = TipOffStatus.CLOSED.value  # every status but this one is open
_FEEDBACK_FROM = (
    TipOffStatus.REFUSED.value,
    TipOffStatus.TRANSFERRED.value,
    TipOffStatus.HANDLED.value,
)
_VERIFIABLE = (TipOffStatus.ACCEPTED.value, TipOffStatus.VERIFYING.value)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


# -- inputs --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReporterInput:
    name: str = ""
    phone: str = ""
    id_no: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class TipOffInput:
    """What the desk registers. ``lon``/``lat`` and ``polygon`` (GeoJSON) are in ``crs``
    (``wgs84`` or ``gcj02``, converted to WGS84 here); ``reporter`` ``None``: anonymous."""

    channel: str
    received_at: datetime
    facts: str
    clue_type: str
    location_text: str = ""
    lon: float | None = None
    lat: float | None = None
    polygon: Mapping[str, Any] | None = None
    crs: str = "wgs84"
    township_id: uuid.UUID | None = None
    reported_party: str = ""
    reporter: ReporterInput | None = None
    evidence_ids: Sequence[uuid.UUID] = ()


class PetitionLike(Protocol):
    """What :func:`petition_clue_opener` reads of ``evidence.cases.petitions.PetitionView``."""

    @property
    def reg_no(self) -> str: ...
    @property
    def form(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def township_id(self) -> uuid.UUID | None: ...


class VerificationResultLike(Protocol):
    """What :func:`on_tip_off_verified` reads of ``patrol.verification.VerificationResult``."""

    @property
    def county_id(self) -> uuid.UUID: ...
    @property
    def target_id(self) -> uuid.UUID: ...
    @property
    def target_kind(self) -> str: ...
    @property
    def ref_id(self) -> uuid.UUID | None: ...
    @property
    def inspector_id(self) -> uuid.UUID: ...
    @property
    def session_id(self) -> uuid.UUID | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def note(self) -> str: ...
    @property
    def finding_ids(self) -> tuple[uuid.UUID, ...]: ...
    @property
    def evidence_ids(self) -> tuple[uuid.UUID, ...]: ...
    @property
    def verified_at(self) -> datetime: ...


# -- views ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StepView:
    """One step of the flow: due time (``None``: no deadline), done time, late (done at or
    after the due time) and overdue (not done, due time passed)."""

    step: str  # decide | verify | handle | feedback
    due_at: datetime | None
    done_at: datetime | None
    late: bool
    overdue: bool


@dataclass(frozen=True, slots=True)
class TipOffEventView:
    kind: str
    at: datetime
    actor_id: uuid.UUID | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TipOffView:
    """A clue without its reporter's identity (``anonymous`` says whether there is one)."""

    id: uuid.UUID
    receipt_no: str
    channel: str
    received_at: datetime
    location_text: str
    crs: str
    lon: float | None
    lat: float | None
    geometry: dict[str, Any] | None  # GeoJSON MultiPolygon, WGS84
    township_id: uuid.UUID | None
    reported_party: str
    facts: str
    clue_type: str
    anonymous: bool
    status: str
    duplicate_of: uuid.UUID | None
    registered_by: uuid.UUID
    decision: str | None
    refusal_reason: str | None
    transfer_to: str | None
    decision_note: str
    decided_at: datetime | None
    area_id: uuid.UUID | None
    target_id: uuid.UUID | None
    verify_due_on: date
    verification_outcome: str | None
    verification_note: str
    verified_at: datetime | None
    verified_by: uuid.UUID | None
    finding_ids: tuple[uuid.UUID, ...]
    verification_evidence_ids: tuple[uuid.UUID, ...]
    handling: str | None
    handling_note: str
    handled_at: datetime | None
    case_id: uuid.UUID | None
    feedback_channel: str | None
    feedback_content: str
    fed_back_at: datetime | None
    steps: tuple[StepView, ...]
    overdue: bool
    created_at: datetime
    updated_at: datetime
    evidence_ids: tuple[uuid.UUID, ...] = ()  # GetTipOff only
    events: tuple[TipOffEventView, ...] = ()  # GetTipOff only


@dataclass(frozen=True, slots=True)
class ReporterView:
    tip_off_id: uuid.UUID
    receipt_no: str
    anonymous: bool
    name: str
    phone: str
    id_no: str
    address: str


@dataclass(frozen=True, slots=True)
class TownshipCount:
    township_id: uuid.UUID | None
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class FiguresView:
    """Clues received from ``date_from`` to ``date_to`` (China's days), duplicates left out
    (``duplicates`` says how many there were)."""

    date_from: date
    date_to: date
    total: int
    duplicates: int
    by_channel: dict[str, int]
    by_clue_type: dict[str, int]
    by_status: dict[str, int]
    by_township: tuple[TownshipCount, ...]
    on_time: int
    late: int


# -- helpers -------------------------------------------------------------------------------------
def normalise_party(party: str) -> str:
    """The reported party as duplicates compare it: full-width folded, lower case, no spaces
    or punctuation."""
    folded = unicodedata.normalize("NFKC", party).casefold()
    return _PUNCT.sub("", folded)[:200]


def receipt_number(admin_code: str, day: date, seq: int) -> str:
    return f"12336-{admin_code}-{day:%Y%m%d}-{seq:04d}"


def _bad(detail: str, code: str = codes.INVALID_TIP_OFF, **extra: Any) -> InvalidTipOffError:
    return InvalidTipOffError(detail, code=code, **extra)


def _enum(kind: Any, value: str, fieldname: str) -> str:
    try:
        return str(kind(value).value)
    except ValueError as exc:
        allowed = ", ".join(v.value for v in kind)
        raise _bad(f"{fieldname} must be one of {allowed}", field=fieldname) from exc


def _text(value: str, fieldname: str, *, limit: int, required: bool = False) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise _bad(f"{fieldname} must not be empty", field=fieldname)
    if len(cleaned) > limit:
        raise _bad(f"{fieldname} is longer than {limit}", field=fieldname)
    return cleaned


def _aware(value: datetime, fieldname: str, now: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise _bad(
            f"{fieldname} must carry a time zone offset", codes.INVALID_TIME, field=fieldname
        )
    at = value.astimezone(UTC)
    if at > now + timedelta(minutes=5):
        raise _bad(f"{fieldname} is in the future", codes.INVALID_TIME, field=fieldname)
    return at


def _to_wgs84_polygon(geometry: Mapping[str, Any], crs: str) -> MultiPolygon:
    polygon = parse_polygonal(dict(geometry), field="polygon")
    if crs != "gcj02":
        return polygon

    def convert(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        lon, lat = gcj02_to_wgs84_array(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return cast("MultiPolygon", shapely.transform(polygon, convert))


def _step(step: str, due: datetime | None, done: datetime | None, now: datetime) -> StepView:
    late = done is not None and due is not None and done >= due
    overdue = done is None and due is not None and now >= due
    return StepView(step, due, done, late, overdue)


def _steps(row: TipOff, now: datetime) -> tuple[StepView, ...]:
    steps = [_step("decide", row.decide_due_at, row.decided_at, now)]
    if row.decision == Decision.ACCEPT.value:
        steps.append(_step("verify", row.verify_due_at, row.verified_at, now))
        steps.append(_step("handle", None, row.handled_at, now))
    steps.append(_step("feedback", row.feedback_due_at, row.fed_back_at, now))
    return tuple(steps)


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """SQL: some step of the clue is not done and past its due time."""
    return or_(
        and_(TipOff.decided_at.is_(None), TipOff.decide_due_at <= now),
        and_(
            TipOff.decision == Decision.ACCEPT.value,
            TipOff.verified_at.is_(None),
            TipOff.verify_due_at <= now,
        ),
        and_(TipOff.fed_back_at.is_(None), TipOff.feedback_due_at <= now),
    )


def late_condition(now: datetime) -> ColumnElement[bool]:
    """SQL: some step of the clue was done late or is overdue."""
    done_late = or_(
        func.coalesce(TipOff.decided_at >= TipOff.decide_due_at, false()),
        func.coalesce(TipOff.verified_at >= TipOff.verify_due_at, false()),
        func.coalesce(TipOff.fed_back_at >= TipOff.feedback_due_at, false()),
    )
    return or_(done_late, overdue_condition(now))


def _geojson(geom: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(shapely.to_geojson(geom))
    return loaded


def _view(
    row: TipOff,
    now: datetime,
    *,
    evidence_ids: Sequence[uuid.UUID] = (),
    events: Sequence[TipOffEvent] = (),
) -> TipOffView:
    point = None if row.location is None else to_shape(cast("Any", row.location))
    area = None if row.area_geom is None else _geojson(to_shape(cast("Any", row.area_geom)))
    steps = _steps(row, now)
    return TipOffView(
        id=row.id,
        receipt_no=row.receipt_no,
        channel=row.channel,
        received_at=row.received_at,
        location_text=row.location_text,
        crs=row.crs,
        lon=None if point is None else float(point.x),
        lat=None if point is None else float(point.y),
        geometry=area,
        township_id=row.township_id,
        reported_party=row.reported_party,
        facts=row.facts,
        clue_type=row.clue_type,
        anonymous=row.anonymous,
        status=row.status,
        duplicate_of=row.duplicate_of,
        registered_by=row.registered_by,
        decision=row.decision,
        refusal_reason=row.refusal_reason,
        transfer_to=row.transfer_to,
        decision_note=row.decision_note,
        decided_at=row.decided_at,
        area_id=row.area_id,
        target_id=row.target_id,
        verify_due_on=row.verify_due_on,
        verification_outcome=row.verification_outcome,
        verification_note=row.verification_note,
        verified_at=row.verified_at,
        verified_by=row.verified_by,
        finding_ids=tuple(row.finding_ids or ()),
        verification_evidence_ids=tuple(row.verification_evidence_ids or ()),
        handling=row.handling,
        handling_note=row.handling_note,
        handled_at=row.handled_at,
        case_id=row.case_id,
        feedback_channel=row.feedback_channel,
        feedback_content=row.feedback_content,
        fed_back_at=row.fed_back_at,
        steps=steps,
        overdue=any(s.overdue for s in steps),
        created_at=row.created_at,
        updated_at=row.updated_at,
        evidence_ids=tuple(evidence_ids),
        events=tuple(TipOffEventView(e.kind, e.at, e.actor_id, dict(e.details)) for e in events),
    )


def _event(  # noqa: PLR0917 - an event reads best positionally
    session: AsyncSession,
    row: TipOff,
    kind: str,
    actor_id: uuid.UUID | None,
    at: datetime,
    details: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        TipOffEvent(
            county_id=row.county_id,
            tip_off_id=row.id,
            kind=kind,
            at=at,
            actor_id=actor_id,
            details=dict(details or {}),
        )
    )


def _alert_key(row_id: uuid.UUID, step: str) -> str:
    return f"{TIP_OFF_OVERDUE}:{row_id}:{step}"


async def _step_done(session: AsyncSession, row: TipOff, step: str, at: datetime) -> None:
    """The step's overdue alert (if one was raised) ends."""
    await resolve_alerts(
        session,
        county_id=row.county_id,
        where=PatrolAlert.dedupe_key == _alert_key(row.id, step),
        resolution="tip_off_step_done",
        at=at,
    )


def _period(
    period: str | None, day: date | None, date_from: date | None, date_to: date | None
) -> tuple[date, date]:
    try:
        found = parse_period(period, day, date_from, date_to)
    except ValueError as exc:
        raise _bad(
            "give period (week, month, quarter, half, year) and date, or from and to",
            codes.INVALID_FIGURES_PERIOD,
        ) from exc
    return found.start, found.end


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time(0), COUNTY_TZ).astimezone(UTC)


# -- the verification listener -------------------------------------------------------------------
async def on_tip_off_verified(session: AsyncSession, result: VerificationResultLike) -> None:
    """Record a field verification of a clue's target: outcome, inspector, time, findings
    and evidence; the clue becomes ``verified`` (an event, and its verify alert resolved).

    A result for a clue that is unknown, of another county, or past verification is logged
    and otherwise ignored (the inspector's record stays with the patrol)."""
    if result.ref_id is None:
        return
    row = (
        await session.execute(
            select(TipOff)
            .where(TipOff.id == result.ref_id, TipOff.county_id == result.county_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.status not in (*_VERIFIABLE, TipOffStatus.VERIFIED.value):
        log.info(
            "tip_off.verification_ignored",
            tip_off_id=str(result.ref_id),
            status=None if row is None else row.status,
        )
        return
    outcome = _enum(VerificationOutcome, result.outcome, "outcome")
    at = result.verified_at.astimezone(UTC)
    row.verification_outcome = outcome
    row.verification_note = result.note[:4000]
    row.verified_at = at
    row.verified_by = result.inspector_id
    row.verification_session_id = result.session_id
    row.finding_ids = list(result.finding_ids)
    row.verification_evidence_ids = list(result.evidence_ids)
    row.status = TipOffStatus.VERIFIED.value
    _event(
        session,
        row,
        "verified",
        result.inspector_id,
        at,
        {
            "outcome": outcome,
            "target_id": str(result.target_id),
            "session_id": None if result.session_id is None else str(result.session_id),
            "finding_ids": [str(i) for i in result.finding_ids],
            "evidence_ids": [str(i) for i in result.evidence_ids],
        },
    )
    await _step_done(session, row, "verify", at)
    await session.flush()


# -- the periodic check --------------------------------------------------------------------------
async def raise_overdue_alerts(session: AsyncSession, now: datetime) -> int:
    """Raise a ``tip_off_overdue`` alert for each overdue step of every county's clues
    (idempotent: one alert per clue and step). Returns how many were added."""
    rows = (
        await session.scalars(select(TipOff).where(overdue_condition(now)).order_by(TipOff.id))
    ).all()
    added = 0
    for row in rows:
        for step in _steps(row, now):
            if not step.overdue or step.due_at is None:
                continue
            due = step.due_at.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")
            added += await raise_alert(
                session,
                county_id=row.county_id,
                kind=TIP_OFF_OVERDUE,
                severity="medium",
                dedupe_key=_alert_key(row.id, step.step),
                params={"receipt_no": row.receipt_no, "step": step.step, "due": due},
                raised_at=now,
            )
    return added


# -- the service ---------------------------------------------------------------------------------
class TipOffService:
    """12336 clues of a county, for one request (one session, committed by the caller)."""

    def __init__(
        self,
        session: AsyncSession,
        settings: TipOffSettings,
        custody: CustodyLog,
        *,
        areas: AreaService | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self._settings = settings
        self._custody = custody
        self._areas = areas or AreaService(session)
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------------
    async def _load(
        self, principal: Principal, tip_off_id: uuid.UUID, *, for_update: bool = False
    ) -> TipOff:
        stmt = scoped(select(TipOff), TipOff, principal).where(TipOff.id == tip_off_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise TipOffNotFoundError("tip-off not found", tip_off_id=str(tip_off_id))
        return row

    async def _full_view(self, row: TipOff) -> TipOffView:
        evidence = (
            await self.session.scalars(
                select(TipOffEvidence.evidence_id)
                .where(TipOffEvidence.tip_off_id == row.id)
                .order_by(TipOffEvidence.position)
            )
        ).all()
        events = (
            await self.session.scalars(
                select(TipOffEvent)
                .where(TipOffEvent.tip_off_id == row.id)
                .order_by(TipOffEvent.at, TipOffEvent.id)
            )
        ).all()
        return _view(row, self._clock(), evidence_ids=evidence, events=events)

    async def get_tip_off(self, principal: Principal, tip_off_id: uuid.UUID) -> TipOffView:
        """One clue with its steps, evidence and history (never its reporter)."""
        require_role(principal, *TIP_OFF_ROLES, action="read tip-offs")
        return await self._full_view(await self._load(principal, tip_off_id))

    async def list_tip_offs(
        self,
        principal: Principal,
        *,
        status: Sequence[str] | None = None,
        channel: Sequence[str] | None = None,
        clue_type: Sequence[str] | None = None,
        township_id: uuid.UUID | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        overdue: bool | None = None,
        duplicates: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TipOffView]:
        """Newest received first; ``overdue`` keeps clues with (or without) an overdue step,
        ``duplicates`` those linked (or not) to an earlier clue."""
        require_role(principal, *TIP_OFF_ROLES, action="read tip-offs")
        now = self._clock()
        stmt = scoped(select(TipOff), TipOff, principal)
        if status:
            stmt = stmt.where(TipOff.status.in_(list(status)))
        if channel:
            stmt = stmt.where(TipOff.channel.in_(list(channel)))
        if clue_type:
            stmt = stmt.where(TipOff.clue_type.in_(list(clue_type)))
        if township_id is not None:
            stmt = stmt.where(TipOff.township_id == township_id)
        if received_from is not None:
            stmt = stmt.where(TipOff.received_at >= received_from)
        if received_to is not None:
            stmt = stmt.where(TipOff.received_at < received_to)
        if overdue is not None:
            cond = overdue_condition(now)
            stmt = stmt.where(cond if overdue else ~cond)
        if duplicates is not None:
            dup = TipOff.duplicate_of.is_not(None)
            stmt = stmt.where(dup if duplicates else ~dup)
        stmt = stmt.order_by(TipOff.received_at.desc(), TipOff.id.desc())
        rows = (await self.session.scalars(stmt.limit(limit).offset(offset))).all()
        return [_view(r, now) for r in rows]

    # -- intake ----------------------------------------------------------------------------------
    async def _next_receipt(self, county_id: uuid.UUID, day: date) -> str:
        seq = await self.session.scalar(
            text(
                "INSERT INTO tip_off_receipt_counters (county_id, day, last_seq) "
                "VALUES (:county, :day, 1) ON CONFLICT (county_id, day) DO UPDATE "
                "SET last_seq = tip_off_receipt_counters.last_seq + 1 RETURNING last_seq"
            ),
            {"county": county_id, "day": day},
        )
        admin_code = await self.session.scalar(
            select(County.admin_code).where(County.id == county_id)
        )
        return receipt_number(str(admin_code), day, int(seq or 0))

    async def _township(
        self, principal: Principal, township_id: uuid.UUID | None, point: Point | None
    ) -> uuid.UUID | None:
        if township_id is not None:
            found = await self.session.scalar(
                scoped(select(Township.id), Township, principal).where(Township.id == township_id)
            )
            if found is None:
                raise NotFoundError(
                    "township not found",
                    code=codes.TOWNSHIP_NOT_FOUND,
                    township_id=str(township_id),
                )
            return township_id
        if point is None:
            return None
        return await self.session.scalar(
            scoped(select(Township.id), Township, principal)
            .where(func.ST_Covers(Township.geom, func.ST_GeomFromText(point.wkt, 4326)))
            .order_by(Township.code)
            .limit(1)
        )

    async def _original_of(
        self, principal: Principal, party_key: str, point: Point | None
    ) -> uuid.UUID | None:
        """The open clue this one repeats: same party, within the radius (the chain's first)."""
        if not party_key or point is None:
            return None
        here = func.ST_GeomFromText(point.wkt, 4326)
        row = (
            await self.session.execute(
                scoped(select(TipOff.id, TipOff.duplicate_of), TipOff, principal)
                .where(
                    TipOff.party_key == party_key,
                    TipOff.status != _OPEN_FOR_DUPLICATES,
                    TipOff.location.is_not(None),
                    func.ST_DWithin(
                        func.geography(TipOff.location),
                        func.geography(here),
                        self._settings.duplicate_radius_m,
                    ),
                )
                .order_by(TipOff.received_at, TipOff.id)
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        return cast("uuid.UUID", row.duplicate_of or row.id)

    async def open_tip_off(self, principal: Principal, data: TipOffInput) -> TipOffView:
        """Register a clue: acknowledged with a receipt number, its deadlines set, linked to
        the open clue it repeats (if any), its reporter (unless anonymous) stored apart."""
        require_role(principal, *TIP_OFF_ROLES, action="register tip-offs")
        now = self._clock()
        channel = _enum(TipOffChannel, data.channel, "channel")
        clue_type = _enum(ClueType, data.clue_type, "clue_type")
        if data.crs not in ("wgs84", "gcj02"):
            raise _bad("crs must be wgs84 or gcj02", field="crs")
        received_at = _aware(data.received_at, "received_at", now)
        facts = _text(data.facts, "facts", limit=8000, required=True)
        party = _text(data.reported_party, "reported_party", limit=500)
        location_text = _text(data.location_text, "location_text", limit=1000)
        polygon = None if data.polygon is None else _to_wgs84_polygon(data.polygon, data.crs)
        point: Point | None = None
        if (data.lon is None) != (data.lat is None):
            raise _bad("give both lon and lat, or neither", field="lon")
        if data.lon is not None and data.lat is not None:
            lon, lat = data.lon, data.lat
            check_lon_lat(lon, lat, field="location")
            if data.crs == "gcj02":
                lon, lat = gcj02_to_wgs84(lon, lat)
            point = Point(lon, lat)
        elif polygon is not None:
            point = polygon.representative_point()
        evidence_ids = await check_evidence(self.session, principal, data.evidence_ids)
        township_id = await self._township(principal, data.township_id, point)
        party_key = normalise_party(party)
        duplicate_of = await self._original_of(principal, party_key, point)

        province = await self.session.scalar(
            select(County.province_code).where(County.id == principal.county_id)
        )
        figures = self._settings.for_province(str(province or ""))
        start = received_at.astimezone(COUNTY_TZ).date()
        calendar: WorkCalendar = await load_calendar(self.session, principal.county_id, start)
        verify_due = due_at(received_at, figures.verify_days, calendar)
        today = now.astimezone(COUNTY_TZ).date()
        row = TipOff(
            county_id=principal.county_id,
            receipt_no=await self._next_receipt(principal.county_id, today),
            channel=channel,
            received_at=received_at,
            location_text=location_text,
            crs=data.crs,
            location=None if point is None else from_shape(point, srid=4326),
            area_geom=None if polygon is None else from_shape(polygon, srid=4326),
            township_id=township_id,
            reported_party=party,
            party_key=party_key,
            facts=facts,
            clue_type=clue_type,
            anonymous=data.reporter is None,
            status=TipOffStatus.RECEIVED.value,
            duplicate_of=duplicate_of,
            registered_by=principal.user_id,
            decide_due_at=due_at(received_at, figures.decide_days, calendar),
            verify_due_at=verify_due,
            verify_due_on=(verify_due - timedelta(days=1)).astimezone(COUNTY_TZ).date(),
            feedback_due_at=due_at(received_at, figures.feedback_days, calendar),
            finding_ids=[],
            verification_evidence_ids=[],
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        if data.reporter is not None:
            r = data.reporter
            self.session.add(
                TipOffReporter(
                    county_id=row.county_id,
                    tip_off_id=row.id,
                    name=_text(r.name, "reporter.name", limit=100),
                    phone=_text(r.phone, "reporter.phone", limit=40),
                    id_no=_text(r.id_no, "reporter.id_no", limit=40),
                    address=_text(r.address, "reporter.address", limit=1000),
                )
            )
        for position, evidence_id in enumerate(evidence_ids):
            self.session.add(
                TipOffEvidence(
                    county_id=row.county_id,
                    tip_off_id=row.id,
                    evidence_id=evidence_id,
                    position=position,
                    linked_by=principal.user_id,
                    linked_at=now,
                )
            )
        _event(
            self.session,
            row,
            "registered",
            principal.user_id,
            now,
            {
                "receipt_no": row.receipt_no,
                "channel": channel,
                "anonymous": row.anonymous,
                "duplicate_of": None if duplicate_of is None else str(duplicate_of),
            },
        )
        await self.session.flush()
        log.info(
            "tip_off.registered",
            tip_off_id=str(row.id),
            receipt_no=row.receipt_no,
            duplicate_of=None if duplicate_of is None else str(duplicate_of),
        )
        return await self._full_view(row)

    # -- the flow --------------------------------------------------------------------------------
    def _expect(self, row: TipOff, *statuses: str) -> None:
        if row.status not in statuses:
            raise TipOffStatusError(
                f"the tip-off is {row.status}",
                state=row.status,
                expected=list(statuses),
            )

    async def decide(
        self,
        principal: Principal,
        tip_off_id: uuid.UUID,
        *,
        decision: str,
        refusal_reason: str | None = None,
        transfer_to: str | None = None,
        note: str = "",
    ) -> TipOffView:
        """Accept, refuse (an exclusion reason) or transfer (the authority named)."""
        require_role(principal, *TIP_OFF_ROLES, action="decide tip-offs")
        row = await self._load(principal, tip_off_id, for_update=True)
        self._expect(row, TipOffStatus.RECEIVED.value)
        decision = _enum(Decision, decision, "decision")
        now = self._clock()
        reason: str | None = None
        authority: str | None = None
        if decision == Decision.REFUSE.value:
            if not refusal_reason:
                raise _bad(
                    "refusing needs an exclusion reason",
                    codes.REFUSAL_REASON_REQUIRED,
                    field="refusal_reason",
                )
            reason = _enum(RefusalReason, refusal_reason, "refusal_reason")
            row.status = TipOffStatus.REFUSED.value
        elif decision == Decision.TRANSFER.value:
            authority = _text(transfer_to or "", "transfer_to", limit=200)
            if not authority:
                raise _bad(
                    "a transfer names the receiving authority",
                    codes.TRANSFER_TO_REQUIRED,
                    field="transfer_to",
                )
            row.status = TipOffStatus.TRANSFERRED.value
        else:
            row.status = TipOffStatus.ACCEPTED.value
        row.decision = decision
        row.refusal_reason = reason
        row.transfer_to = authority
        row.decision_note = _text(note, "note", limit=4000)
        row.decided_at = now
        row.decided_by = principal.user_id
        details: dict[str, Any] = {"decision": decision}
        if reason:
            details["refusal_reason"] = reason
        if authority:
            details["transfer_to"] = authority
        _event(self.session, row, "decided", principal.user_id, now, details)
        await _step_done(self.session, row, "decide", now)
        await self.session.flush()
        return await self._full_view(row)

    async def _area_of_inspector(
        self, principal: Principal, inspector_id: uuid.UUID, point: Point
    ) -> uuid.UUID:
        area_id = await nearest_area_of(self.session, principal, inspector_id, point.wkt)
        if area_id is None:
            raise _bad(
                "the inspector leads or belongs to no active patrol area",
                codes.NO_AREA_FOR_TIP_OFF,
                field="inspector_id",
            )
        return area_id

    async def _area_containing(self, principal: Principal, point: Point) -> uuid.UUID | None:
        here = func.ST_GeomFromText(point.wkt, 4326)
        return await self.session.scalar(
            scoped(select(ContractArea.id), ContractArea, principal)
            .where(ContractArea.active, func.ST_Covers(ContractArea.geom, here))
            .order_by(func.ST_Area(ContractArea.geom), ContractArea.code)
            .limit(1)
        )

    async def assign_verification(
        self,
        principal: Principal,
        tip_off_id: uuid.UUID,
        *,
        area_id: uuid.UUID | None = None,
        inspector_id: uuid.UUID | None = None,
    ) -> TipOffView:
        """Field verification as patrol work: a ``tip_off`` target (named by receipt number
        and clue type only) in the active area containing the clue's point, or ``area_id``,
        or — ``inspector_id``, the inspector sent directly — the active area that inspector
        leads or belongs to nearest the clue; due by the verify deadline (kept on the clue as
        ``verify_due_on``)."""
        require_role(principal, *TIP_OFF_ROLES, action="assign tip-off verification")
        row = await self._load(principal, tip_off_id, for_update=True)
        self._expect(row, TipOffStatus.ACCEPTED.value)
        if row.location is None:
            raise _bad("the tip-off has no point or polygon to verify", codes.TIP_OFF_NOT_LOCATED)
        point = cast("Point", to_shape(cast("Any", row.location)))
        if area_id is None and inspector_id is not None:
            area_id = await self._area_of_inspector(principal, inspector_id, point)
        if area_id is None:
            area_id = await self._area_containing(principal, point)
            if area_id is None:
                raise _bad(
                    "no active patrol area contains the tip-off; name one",
                    codes.NO_AREA_FOR_TIP_OFF,
                    field="area_id",
                )
        name = f"{row.receipt_no} {label('clue_type', row.clue_type, DEFAULT_LANG)}"
        # the clue desk places the target on the brigade's behalf (targets are the managers')
        acting = (
            principal
            if principal.role in (Role.CAPTAIN, Role.ADMIN)
            else replace(principal, role=Role.CAPTAIN)
        )
        target = await self._areas.add_target(
            acting,
            area_id,
            kind="tip_off",
            name=name,
            lon=float(point.x),
            lat=float(point.y),
            ref_id=row.id,
            due_on=row.verify_due_on,
        )
        now = self._clock()
        row.area_id = target.area_id
        row.target_id = target.id
        row.assigned_at = now
        row.assigned_by = principal.user_id
        row.status = TipOffStatus.VERIFYING.value
        _event(
            self.session,
            row,
            "verification_assigned",
            principal.user_id,
            now,
            {
                "area_id": str(target.area_id),
                "target_id": str(target.id),
                "due_on": row.verify_due_on.isoformat(),
            },
        )
        await self.session.flush()
        return await self._full_view(row)

    async def _retire_target(self, row: TipOff) -> None:
        """A handled clue needs no more field work: its verification target leaves the
        area's plans and the phones (kept, inactive, with its verification history)."""
        if row.target_id is not None:
            await self.session.execute(
                update(PatrolTarget)
                .where(PatrolTarget.id == row.target_id, PatrolTarget.county_id == row.county_id)
                .values(active=False)
            )

    async def handle(
        self, principal: Principal, tip_off_id: uuid.UUID, *, handling: str, note: str = ""
    ) -> TipOffView:
        """After verification: a stop order or no violation (a case: :meth:`open_case`)."""
        require_role(principal, *TIP_OFF_ROLES, action="handle tip-offs")
        row = await self._load(principal, tip_off_id, for_update=True)
        self._expect(row, TipOffStatus.VERIFIED.value)
        handling = _enum(Handling, handling, "handling")
        if handling == Handling.CASE_OPENED.value:
            raise _bad("a case is opened with OpenCaseFromTipOff", field="handling")
        now = self._clock()
        row.handling = handling
        row.handling_note = _text(note, "note", limit=4000)
        row.handled_at = now
        row.handled_by = principal.user_id
        row.status = TipOffStatus.HANDLED.value
        await self._retire_target(row)
        _event(self.session, row, "handled", principal.user_id, now, {"handling": handling})
        await self.session.flush()
        return await self._full_view(row)

    async def open_case(
        self,
        principal: Principal,
        tip_off_id: uuid.UUID,
        *,
        violation_kind: str,
        cause: str | None = None,
        evidence_ids: Sequence[uuid.UUID] = (),
    ) -> TipOffView:
        """Open a case from a verified clue: its facts, location, reported party and evidence
        (the clue's, the verification's and ``evidence_ids``); the case's source is the clue
        and the clue names the case; the handling becomes ``case_opened``."""
        require_role(principal, *TIP_OFF_ROLES, action="open cases from tip-offs")
        row = await self._load(principal, tip_off_id, for_update=True)
        self._expect(row, TipOffStatus.VERIFIED.value)
        if row.location is None:
            raise _bad("the tip-off has no location for a case", codes.TIP_OFF_NOT_LOCATED)
        point = to_shape(cast("Any", row.location))
        linked = (
            await self.session.scalars(
                select(TipOffEvidence.evidence_id)
                .where(TipOffEvidence.tip_off_id == row.id)
                .order_by(TipOffEvidence.position)
            )
        ).all()
        evidence = list(
            dict.fromkeys([*linked, *(row.verification_evidence_ids or ()), *evidence_ids])
        )
        case_cause = cause if cause is not None else f"举报线索{row.receipt_no}：{row.facts}"
        parties = [Party(row.reported_party[:200])] if row.reported_party else []
        case = await open_case(
            self.session,
            principal,
            CaseInput(
                cause=case_cause[:2000],
                violation_kind=violation_kind,
                lon=float(point.x),
                lat=float(point.y),
                source_kind=SourceKind.TIP_OFF.value,
                source_id=row.id,
                parties=parties,
                evidence_ids=evidence,
            ),
            also_allowed=(Role.CLUE_DESK,),
        )
        now = self._clock()
        row.case_id = case.id
        row.handling = Handling.CASE_OPENED.value
        row.handled_at = now
        row.handled_by = principal.user_id
        row.status = TipOffStatus.HANDLED.value
        await self._retire_target(row)
        _event(
            self.session,
            row,
            "case_opened",
            principal.user_id,
            now,
            {"case_id": str(case.id), "case_no": case.case_no},
        )
        await self.session.flush()
        return await self._full_view(row)

    async def feedback(
        self,
        principal: Principal,
        tip_off_id: uuid.UUID,
        *,
        channel: str,
        content: str,
        at: datetime | None = None,
    ) -> TipOffView:
        """The reporter was told the outcome (channel, time, content); the clue is closed."""
        require_role(principal, *TIP_OFF_ROLES, action="record tip-off feedback")
        row = await self._load(principal, tip_off_id, for_update=True)
        self._expect(row, *_FEEDBACK_FROM)
        channel = _enum(FeedbackChannel, channel, "channel")
        now = self._clock()
        when = now if at is None else _aware(at, "at", now)
        if when < row.received_at:
            raise _bad("feedback before the tip-off was received", codes.INVALID_TIME, field="at")
        row.feedback_channel = channel
        row.feedback_content = _text(content, "content", limit=4000, required=True)
        row.fed_back_at = when
        row.fed_back_by = principal.user_id
        row.status = TipOffStatus.CLOSED.value
        _event(self.session, row, "fed_back", principal.user_id, now, {"channel": channel})
        await _step_done(self.session, row, "feedback", when)
        await self.session.flush()
        return await self._full_view(row)

    # -- the reporter ----------------------------------------------------------------------------
    async def get_reporter(self, principal: Principal, tip_off_id: uuid.UUID) -> ReporterView:
        """The reporter's identity, for the desk and captains; the read is in the custody
        chain (who, when, which clue — never the identity itself)."""
        require_role(principal, *REPORTER_READERS, action="read a reporter's identity")
        row = await self._load(principal, tip_off_id)
        reporter = await self.session.get(TipOffReporter, row.id)
        await self._custody.append(
            self.session,
            county_id=row.county_id,
            action=CustodyAction.REPORTER_VIEWED,
            subject_id=row.id,
            actor_id=principal.user_id,
            details={"receipt_no": row.receipt_no, "role": principal.role.value},
            at=self._clock(),
        )
        if reporter is None:
            return ReporterView(row.id, row.receipt_no, True, "", "", "", "")
        return ReporterView(
            row.id,
            row.receipt_no,
            False,
            reporter.name,
            reporter.phone,
            reporter.id_no,
            reporter.address,
        )

    # -- the working-day calendar ----------------------------------------------------------------
    async def list_holidays(
        self, principal: Principal, *, since: date | None = None, until: date | None = None
    ) -> list[CalendarDayView]:
        return await list_calendar_days(self.session, principal, since=since, until=until)

    async def put_holiday(
        self, principal: Principal, day: date, kind: str, name: str = ""
    ) -> CalendarDayView:
        return await put_calendar_day(self.session, principal, day, kind, name)

    async def delete_holiday(self, principal: Principal, day: date) -> None:
        await delete_calendar_day(self.session, principal, day)

    # -- figures ---------------------------------------------------------------------------------
    async def figures(
        self,
        principal: Principal,
        *,
        period: str | None = None,
        day: date | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
    ) -> FiguresView:
        """Counts of the clues received in a period by channel, type, township, status and
        timeliness (late: a step done late or overdue now); a duplicate counts once, with
        the clue it repeats."""
        require_role(principal, *TIP_OFF_ROLES, action="read tip-off figures")
        start, end = _period(period, day, date_from, date_to)
        now = self._clock()
        base = scoped(select(TipOff), TipOff, principal).where(
            TipOff.received_at >= _local_start(start),
            TipOff.received_at < _local_start(end + timedelta(days=1)),
        )
        counted = base.where(TipOff.duplicate_of.is_(None)).subquery()
        duplicates = await self.session.scalar(
            select(func.count()).select_from(
                base.where(TipOff.duplicate_of.is_not(None)).subquery()
            )
        )

        async def by(column: str) -> dict[str, int]:
            col = counted.c[column]
            rows = await self.session.execute(select(col, func.count()).group_by(col))
            return {str(k): int(n) for k, n in rows if k is not None}

        towns = await self.session.execute(
            select(counted.c.township_id, Township.name, func.count())
            .select_from(counted)
            .outerjoin(Township, Township.id == counted.c.township_id)
            .group_by(counted.c.township_id, Township.name)
            .order_by(Township.name.nulls_last())
        )
        lateness = (
            select(late_condition(now).label("late"))
            .where(
                TipOff.county_id == principal.county_id,
                TipOff.duplicate_of.is_(None),
                TipOff.received_at >= _local_start(start),
                TipOff.received_at < _local_start(end + timedelta(days=1)),
            )
            .subquery()
        )
        late_rows = await self.session.execute(
            select(lateness.c.late, func.count()).group_by(lateness.c.late)
        )
        timeliness = {bool(k): int(n) for k, n in late_rows}
        by_status = await by("status")
        return FiguresView(
            date_from=start,
            date_to=end,
            total=sum(by_status.values()),
            duplicates=int(duplicates or 0),
            by_channel=await by("channel"),
            by_clue_type=await by("clue_type"),
            by_status=by_status,
            by_township=tuple(TownshipCount(t, name or "", int(n)) for t, name, n in towns),
            on_time=timeliness.get(False, 0),
            late=timeliness.get(True, 0),
        )


# -- petitions -----------------------------------------------------------------------------------
def petition_clue_opener(
    settings: TipOffSettings,
) -> Callable[[AsyncSession, Principal, PetitionLike], Awaitable[uuid.UUID]]:
    """The opener :func:`evidence.cases.petitions.register_petition_clue_opener` takes: a
    complaint or accusation petition about a violation becomes a clue (channel ``letter`` for a
    letter, ``other`` for visits, calls and online petitions), registered in the petition's
    transaction with its received time, township and text. The petitioner's identity stays
    with the petition: the clue is anonymous and names the petition by its number."""

    async def open_from_petition(
        session: AsyncSession, principal: Principal, petition: PetitionLike
    ) -> uuid.UUID:
        channel = TipOffChannel.LETTER if petition.form == "letter" else TipOffChannel.OTHER
        facts = f"信访件 {petition.reg_no}：{petition.subject}\n{petition.content}"
        service = TipOffService(session, settings, CustodyLog())
        view = await service.open_tip_off(
            principal,
            TipOffInput(
                channel=channel.value,
                received_at=petition.received_at,
                facts=facts[:8000],
                clue_type=ClueType.LAND_OTHER.value,
                township_id=petition.township_id,
            ),
        )
        return view.id

    return open_from_petition
