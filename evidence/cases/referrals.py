"""Flags and criminal referrals (国务院令第310号), step by step, with their legal timers.

::

    flag_for_referral (case or finding, with a reason)
    create_referral   team of >= 2 officers writes the report     -> reported
    record_decision   the head decides within 3 days              -> approved | rejected
    record_transfer   to the police within 24 h of approval       -> transferred
                      (referral letter, investigation report, list of items [, appraisals])
    record_police_receipt   the police sign the receipt           -> received
    record_police_decision  the police decide within 3 days       -> police_filed | not_filed
    request_reconsideration within 3 days of a refusal            -> reconsideration
    record_police_decision  the police answer within 3 days       -> police_filed |
                                                                     closed_not_filed
    record_handover   items and materials within 3 days of filing -> handed_over

A step given when the referral is not waiting for it raises :class:`StepOutOfOrderError`
(nothing is stored). Until a step is recorded, :func:`overdue_steps` lists it once it is
past due. A step recorded after its due time is kept and marked late: every recorded step
of :data:`STEP_TIMES` comes back as a :class:`StepTiming` (``late``, and ``late_by_s``, the
whole seconds after the due time, rounded up; 0 when on time — recorded exactly at the due
instant is on time), computed from the step's stored time and its stored due time, and the
step's case event keeps the same figures. The time of a step is its ``at`` (an officer may
record a step after the fact), else the server's clock.

The case follows its referral (:func:`evidence.cases.cases.enter_referral`,
:func:`evidence.cases.cases.leave_referral`; the workflow is drawn in :mod:`evidence.cases.cases`)::

    reported (team's report)               case -> referred (remembers where it was)
    rejected (head refuses)                case -> back where it was
    approved, transferred, received        case stays referred
    not_filed (police refuse to file)      case -> back where it was (the police return it)
    reconsideration (asked within 3 days)  case -> referred again
    closed_not_filed (refused again)       case -> back where it was
    police_filed, handed_over              case stays referred (the police have it, and a
                                           later referral turned down leaves it there);
                                           captains close it or resume the procedure

A finished (closed, terminated, withdrawn) case cannot be referred (``case_closed``). A
fine never replaces a referral: administrative measures already ordered go on, and the
case resumes them when the referral comes back.

Who may act: the security squad and captains flag, refer, record transfers and police
steps; the head's decision belongs to captains and admins. The squad sees only flagged and
referred items, and cases carrying a screening suggestion (read-only until flagged); it
cannot flag what it cannot read. Another county's case or referral does not exist for the
caller.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.access import squad_sees_finding
from evidence.cases.cases import (
    FlagView,
    ensure_unfinished,
    enter_referral,
    leave_referral,
    load_case,
    record_event,
)
from evidence.cases.errors import (
    CaseNotFlaggedError,
    CaseNotFoundError,
    InvalidStepError,
    MissingMaterialsError,
    ReconsiderationClosedError,
    ReferralAlreadyOpenError,
    ReferralNotFoundError,
    StepOutOfOrderError,
    TeamTooSmallError,
    UnknownTeamMemberError,
)
from evidence.cases.models import (
    Case,
    Referral,
    ReferralFlag,
    ReferralStatus,
    ReferralStep,
    SourceKind,
)
from infra import error_codes as codes
from infra.db import utcnow
from infra.scope import Principal, Role, require_role, scoped
from patrol.field_models import Finding
from patrol.models import User

__all__ = [
    "DECISION_DUE",
    "HANDOVER_DUE",
    "POLICE_DECISION_DUE",
    "RECEIPT_DUE",
    "RECONSIDERATION_WINDOW",
    "STEP_TIMES",
    "TRANSFER_DUE",
    "Material",
    "MaterialKind",
    "OverdueStep",
    "ReferralView",
    "StepTiming",
    "create_referral",
    "flag_for_referral",
    "get_referral",
    "list_flags",
    "list_referrals",
    "overdue_steps",
    "record_decision",
    "record_handover",
    "record_police_decision",
    "record_police_receipt",
    "record_transfer",
    "request_reconsideration",
    "step_timing",
    "step_timings",
]

DECISION_DUE = timedelta(days=3)  # the head decides within 3 days of the report
TRANSFER_DUE = timedelta(hours=24)  # transfer within 24 h of approval
RECEIPT_DUE = timedelta(days=3)  # [INFERRED] receipt is signed on delivery; chase after 3 days
POLICE_DECISION_DUE = timedelta(days=3)  # the police decide within 3 days of receipt
RECONSIDERATION_WINDOW = timedelta(days=3)  # reconsideration may be asked within 3 days
HANDOVER_DUE = timedelta(days=3)  # items and materials within 3 days of the filing notice
_FUTURE_SLACK = timedelta(minutes=5)

STEP_TIMES: tuple[tuple[ReferralStep, str, str], ...] = (
    (ReferralStep.DECISION, "decision_due_at", "decided_at"),
    (ReferralStep.TRANSFER, "transfer_due_at", "transferred_at"),
    (ReferralStep.POLICE_RECEIPT, "receipt_due_at", "receipt_at"),
    (ReferralStep.POLICE_DECISION, "police_decision_due_at", "police_decided_at"),
    (
        ReferralStep.RECONSIDERATION_REQUEST,
        "reconsideration_due_at",
        "reconsideration_requested_at",
    ),
    (
        ReferralStep.RECONSIDERATION_DECISION,
        "reconsideration_decision_due_at",
        "reconsideration_decided_at",
    ),
    (ReferralStep.HANDOVER, "handover_due_at", "handed_over_at"),
)
"""Each timed step, in procedure order, with the ``referrals`` columns of its due time and
of the time it was recorded (a reconsideration asked late is refused, so that one is always
on time)."""

_FLAGGERS = (Role.SECURITY_SQUAD, Role.CAPTAIN)
_ACTORS = (Role.SECURITY_SQUAD, Role.CAPTAIN, Role.ADMIN)
_HEADS = (Role.CAPTAIN, Role.ADMIN)
# who reads referrals and their timers: those who act on them, and the procuratorate that
# supervises them (read-only; its reads are audited by the case service)
_READERS = (*_ACTORS, Role.PROCURATORATE)
# the referral statuses that take the case to ``referred`` and those that give it back
_CASE_ENTERS = frozenset({ReferralStatus.REPORTED, ReferralStatus.RECONSIDERATION})
_CASE_RETURNS = frozenset(
    {ReferralStatus.REJECTED, ReferralStatus.NOT_FILED, ReferralStatus.CLOSED_NOT_FILED}
)
_Ts = TypeVarTuple("_Ts")


class MaterialKind(enum.StrEnum):
    REFERRAL_LETTER = "referral_letter"  # 涉嫌犯罪案件移送书
    INVESTIGATION_REPORT = "investigation_report"  # 涉嫌犯罪案件情况的调查报告
    ITEMS_LIST = "items_list"  # 涉案物品清单
    APPRAISAL_REPORT = "appraisal_report"  # 有关检验报告或者鉴定结论
    EVIDENCE_PACKAGE = "evidence_package"  # the exported package (by its id)
    ITEM = "item"  # a physical item handed over
    OTHER = "other"


_REQUIRED_MATERIALS = (
    MaterialKind.REFERRAL_LETTER,
    MaterialKind.INVESTIGATION_REPORT,
    MaterialKind.ITEMS_LIST,
)


@dataclass(frozen=True, slots=True)
class Material:
    """A document or item given to the police: kind, title, number or reference."""

    kind: str
    title: str
    reference: str = ""
    quantity: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "reference": self.reference,
            "quantity": self.quantity,
        }


@dataclass(frozen=True, slots=True)
class StepTiming:
    """A recorded step against its due time. ``late``: recorded after the due time, by
    ``late_by_s`` whole seconds (rounded up, so any lateness is at least 1); on time: 0."""

    step: str
    due_at: datetime
    done_at: datetime
    late: bool
    late_by_s: int


def step_timing(step: str, due_at: datetime, done_at: datetime) -> StepTiming:
    """How late ``done_at`` is against ``due_at`` (exactly at the due instant is on time)."""
    if done_at <= due_at:
        return StepTiming(step, due_at, done_at, late=False, late_by_s=0)
    delta = done_at - due_at
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return StepTiming(step, due_at, done_at, late=True, late_by_s=-(-micros // 1_000_000))


def step_timings(times: Mapping[str, datetime | None]) -> tuple[StepTiming, ...]:
    """The recorded steps of one referral, in procedure order, from its ``referrals``
    columns (an ORM row's, or the sync pull's row with the columns of :data:`STEP_TIMES`)."""
    out = []
    for step, due_column, done_column in STEP_TIMES:
        due, done = times[due_column], times[done_column]
        if due is not None and done is not None:
            out.append(step_timing(step.value, due, done))
    return tuple(out)


def _row_times(row: Referral) -> dict[str, datetime | None]:
    return {column: getattr(row, column) for _, *columns in STEP_TIMES for column in columns}


@dataclass(frozen=True, slots=True)
class ReferralView:
    id: uuid.UUID
    county_id: uuid.UUID
    case_id: uuid.UUID
    case_no: str
    status: str
    team_ids: tuple[uuid.UUID, ...]
    report: str
    reported_by: uuid.UUID
    reported_at: datetime
    decision_due_at: datetime
    decision: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_note: str
    transfer_due_at: datetime | None
    transferred_at: datetime | None
    police_unit: str
    materials: tuple[Material, ...]
    receipt_due_at: datetime | None
    receipt_at: datetime | None
    receipt_no: str
    police_decision_due_at: datetime | None
    police_decision: str | None
    police_decided_at: datetime | None
    police_decision_no: str
    police_reason: str
    reconsideration_due_at: datetime | None
    reconsideration_requested_at: datetime | None
    reconsideration_reason: str
    reconsideration_decision_due_at: datetime | None
    reconsideration_result: str | None
    reconsideration_decided_at: datetime | None
    handover_due_at: datetime | None
    handed_over_at: datetime | None
    handover_items: tuple[Material, ...]
    next_step: str | None
    next_due_at: datetime | None
    overdue: bool
    closed_at: datetime | None
    steps: tuple[StepTiming, ...] = ()  # the recorded steps against their due times

    @property
    def late(self) -> bool:
        """Some step was recorded after its due time (``overdue`` is about the next one)."""
        return any(s.late for s in self.steps)


@dataclass(frozen=True, slots=True)
class OverdueStep:
    """A legal step that is past its due time and not recorded yet."""

    referral_id: uuid.UUID
    case_id: uuid.UUID
    case_no: str
    status: str
    step: str
    due_at: datetime
    overdue_s: int


# -- helpers -------------------------------------------------------------------------------------
def _materials(rows: Sequence[dict[str, Any]] | None) -> tuple[Material, ...]:
    return tuple(Material(**m) for m in rows or [])


def _is_overdue(row: Referral, now: datetime) -> bool:
    return (
        row.next_due_at is not None
        and row.next_step != ReferralStep.RECONSIDERATION_REQUEST.value
        and row.next_due_at < now
    )


def _view(row: Referral, case_no: str, now: datetime | None = None) -> ReferralView:
    return ReferralView(
        id=row.id,
        county_id=row.county_id,
        case_id=row.case_id,
        case_no=case_no,
        status=row.status,
        team_ids=tuple(row.team_ids),
        report=row.report,
        reported_by=row.reported_by,
        reported_at=row.reported_at,
        decision_due_at=row.decision_due_at,
        decision=row.decision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        transfer_due_at=row.transfer_due_at,
        transferred_at=row.transferred_at,
        police_unit=row.police_unit,
        materials=_materials(row.materials),
        receipt_due_at=row.receipt_due_at,
        receipt_at=row.receipt_at,
        receipt_no=row.receipt_no,
        police_decision_due_at=row.police_decision_due_at,
        police_decision=row.police_decision,
        police_decided_at=row.police_decided_at,
        police_decision_no=row.police_decision_no,
        police_reason=row.police_reason,
        reconsideration_due_at=row.reconsideration_due_at,
        reconsideration_requested_at=row.reconsideration_requested_at,
        reconsideration_reason=row.reconsideration_reason,
        reconsideration_decision_due_at=row.reconsideration_decision_due_at,
        reconsideration_result=row.reconsideration_result,
        reconsideration_decided_at=row.reconsideration_decided_at,
        handover_due_at=row.handover_due_at,
        handed_over_at=row.handed_over_at,
        handover_items=_materials(row.handover_items),
        next_step=row.next_step,
        next_due_at=row.next_due_at,
        overdue=_is_overdue(row, now or utcnow()),
        closed_at=row.closed_at,
        steps=step_timings(_row_times(row)),
    )


def _step_time(at: datetime | None, after: datetime | None, fieldname: str = "at") -> datetime:
    """When a step happened: default now; aware, not in the future, not before ``after``."""
    now = utcnow()
    if at is None:
        when = now
    elif at.tzinfo is None or at.utcoffset() is None:
        msg = f"{fieldname} must carry a time zone offset"
        raise InvalidStepError(msg, code=codes.INVALID_TIME, field=fieldname)
    else:
        when = at.astimezone(UTC)
    if when > now + _FUTURE_SLACK:
        raise InvalidStepError(
            f"{fieldname} is in the future", code=codes.INVALID_TIME, field=fieldname
        )
    if after is not None and when < after:
        msg = f"{fieldname} is before the previous step ({after.isoformat()})"
        raise InvalidStepError(msg, code=codes.INVALID_TIME, field=fieldname)
    return when


def _expect(row: Referral, *allowed: ReferralStatus, step: str) -> None:
    if ReferralStatus(row.status) not in allowed:
        raise StepOutOfOrderError(
            f"cannot record {step} while the referral is {row.status}",
            status=row.status,
            step=step,
            expected_step=row.next_step,
        )


def _late(due: datetime | None, when: datetime) -> dict[str, Any]:
    """The lateness of a step recorded at ``when``, for its case event."""
    if due is None:
        return {"late": False, "late_by_s": 0}
    timing = step_timing("", due, when)
    return {"late": timing.late, "late_by_s": timing.late_by_s}


def _set_next(row: Referral, step: ReferralStep | None, due: datetime | None) -> None:
    row.next_step = None if step is None else step.value
    row.next_due_at = due


async def _load(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID
) -> tuple[Referral, Case]:
    """The referral (locked) and its case; the squad sees every referral of its county."""
    require_role(principal, *_ACTORS, action="handle referrals")
    stmt = scoped(select(Referral), Referral, principal).where(Referral.id == referral_id)
    row = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if row is None:
        raise ReferralNotFoundError("referral not found", referral_id=str(referral_id))
    case = await session.get(Case, row.case_id, with_for_update=True)
    assert case is not None
    return row, case


async def _police_have(session: AsyncSession, case: Case, row: Referral) -> bool:
    """An earlier referral of the case was filed by the police: the case stays referred."""
    accepted = (ReferralStatus.POLICE_FILED.value, ReferralStatus.HANDED_OVER.value)
    return bool(
        await session.scalar(
            select(
                exists().where(
                    Referral.case_id == case.id,
                    Referral.id != row.id,
                    Referral.status.in_(accepted),
                )
            )
        )
    )


async def _finish(
    session: AsyncSession,
    row: Referral,
    case: Case,
    principal: Principal,
    *,
    step: str,
    when: datetime,
    details: dict[str, Any],
) -> ReferralView:
    record_event(
        session,
        case,
        f"referral.{step}",
        principal.user_id,
        {"status": row.status, **details},
        referral_id=row.id,
        at=when,
    )
    status = ReferralStatus(row.status)
    if status in _CASE_ENTERS:
        enter_referral(session, case, principal.user_id, at=when, referral_id=row.id, step=step)
    elif status in _CASE_RETURNS and not await _police_have(session, case, row):
        leave_referral(session, case, principal.user_id, at=when, referral_id=row.id, step=step)
    await session.flush()
    return _view(row, case.case_no)


# -- flags ---------------------------------------------------------------------------------------
async def flag_for_referral(
    session: AsyncSession,
    principal: Principal,
    *,
    reason: str,
    case_id: uuid.UUID | None = None,
    finding_id: uuid.UUID | None = None,
) -> FlagView:
    """Flag a case or a finding of the county for criminal referral (squad, captains).

    Only what the caller may read: the squad flags cases it sees (a screening suggestion
    makes a case visible, read-only until flagged) and findings that are flagged already or
    the source of such a case; anything else is 404 like an unknown id. Flagging the same
    subject again by the same person returns the existing flag.
    """
    require_role(principal, *_FLAGGERS, action="flag for referral")
    if (case_id is None) == (finding_id is None):
        msg = "flag exactly one of a case or a finding"
        raise InvalidStepError(msg, code=codes.INVALID_FLAG_SUBJECT)
    if not reason.strip():
        raise InvalidStepError("a flag needs a reason", code=codes.REASON_REQUIRED, field="reason")
    if case_id is not None:
        await load_case(session, principal, case_id)  # what the caller cannot read is 404
    else:
        visible = [Finding.id == finding_id, Finding.county_id == principal.county_id]
        if principal.has_role(Role.SECURITY_SQUAD):
            visible.append(squad_sees_finding())
        if not await session.scalar(select(exists().where(*visible))):
            raise CaseNotFoundError(
                "finding not found", code=codes.FINDING_NOT_FOUND, finding_id=str(finding_id)
            )
    existing = await session.scalar(
        select(ReferralFlag).where(
            ReferralFlag.county_id == principal.county_id,
            ReferralFlag.flagged_by == principal.user_id,
            ReferralFlag.case_id == case_id if case_id else ReferralFlag.finding_id == finding_id,
        )
    )
    if existing is not None:
        return FlagView.from_row(existing)
    flag = ReferralFlag(
        county_id=principal.county_id,
        case_id=case_id,
        finding_id=finding_id,
        reason=reason.strip(),
        flagged_by=principal.user_id,
        flagged_at=utcnow(),
    )
    session.add(flag)
    if case_id is not None:
        case = await session.get(Case, case_id)
        assert case is not None
        record_event(session, case, "flagged", principal.user_id, {"reason": flag.reason})
    await session.flush()
    return FlagView.from_row(flag)


async def list_flags(
    session: AsyncSession, principal: Principal, *, findings_only: bool = False
) -> list[FlagView]:
    """Flags of the county, newest first (squad, captains, admins)."""
    require_role(principal, *_ACTORS, action="see referral flags")
    stmt = scoped(select(ReferralFlag), ReferralFlag, principal)
    if findings_only:
        stmt = stmt.where(ReferralFlag.finding_id.is_not(None))
    rows = (await session.scalars(stmt.order_by(ReferralFlag.flagged_at.desc()))).all()
    return [FlagView.from_row(r) for r in rows]


async def _is_flagged(session: AsyncSession, case: Case) -> bool:
    subject = ReferralFlag.case_id == case.id
    if case.source_kind == SourceKind.FINDING.value and case.source_id is not None:
        subject = or_(
            subject,
            and_(
                ReferralFlag.finding_id == case.source_id, ReferralFlag.county_id == case.county_id
            ),
        )
    return bool(await session.scalar(select(exists().where(subject))))


async def _check_team(
    session: AsyncSession, principal: Principal, team_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    team = list(dict.fromkeys(team_ids))
    if len(team) < 2:
        raise TeamTooSmallError(
            "a referral needs a team of at least two officers", team_size=len(team)
        )
    found = set(
        (
            await session.scalars(
                select(User.id).where(
                    User.id.in_(team), User.county_id == principal.county_id, User.active
                )
            )
        ).all()
    )
    unknown = [str(i) for i in team if i not in found]
    if unknown:
        raise UnknownTeamMemberError(
            "team members must be active officers of this county", user_ids=unknown
        )
    return team


# -- the procedure -------------------------------------------------------------------------------
async def create_referral(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    *,
    team_ids: Sequence[uuid.UUID],
    report: str,
    at: datetime | None = None,
) -> ReferralView:
    """The team's written report to the head: starts the referral; decision due in 3 days.

    The case must be flagged, must have no open referral, and the team needs at least two
    distinct active officers of the county.
    """
    require_role(principal, *_FLAGGERS, action="refer cases")
    case = await load_case(session, principal, case_id, for_update=True)
    ensure_unfinished(case)
    team = await _check_team(session, principal, team_ids)
    if not report.strip():
        raise InvalidStepError(
            "the referral needs the team's report", code=codes.REPORT_REQUIRED, field="report"
        )
    if not await _is_flagged(session, case):
        raise CaseNotFlaggedError("flag the case for referral first", case_id=str(case.id))
    open_statuses = [s.value for s in ReferralStatus if s.is_open]
    open_id = await session.scalar(
        select(Referral.id).where(Referral.case_id == case.id, Referral.status.in_(open_statuses))
    )
    if open_id is not None:
        raise ReferralAlreadyOpenError("the case has an open referral", referral_id=str(open_id))
    when = _step_time(at, None)
    row = Referral(
        county_id=case.county_id,
        case_id=case.id,
        status=ReferralStatus.REPORTED.value,
        team_ids=team,
        report=report.strip(),
        reported_by=principal.user_id,
        reported_at=when,
        decision_due_at=when + DECISION_DUE,
        materials=[],
        handover_items=[],
    )
    _set_next(row, ReferralStep.DECISION, row.decision_due_at)
    session.add(row)
    await session.flush()
    return await _finish(
        session,
        row,
        case,
        principal,
        step="reported",
        when=when,
        details={"team_ids": [str(i) for i in team]},
    )


async def record_decision(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    approved: bool,
    note: str = "",
    at: datetime | None = None,
) -> ReferralView:
    """The head's decision (captains, admins). Approval starts the 24-hour transfer timer;
    a refusal ends the referral and needs its reason on record."""
    require_role(principal, *_HEADS, action="decide on referrals")
    row, case = await _load(session, principal, referral_id)
    _expect(row, ReferralStatus.REPORTED, step="decision")
    when = _step_time(at, row.reported_at)
    if not approved and not note.strip():
        raise InvalidStepError(
            "a refusal needs its reason", code=codes.REASON_REQUIRED, field="note"
        )
    row.decision = "approved" if approved else "rejected"
    row.decided_by = principal.user_id
    row.decided_at = when
    row.decision_note = note.strip()
    late = _late(row.decision_due_at, when)
    if approved:
        row.status = ReferralStatus.APPROVED.value
        row.transfer_due_at = when + TRANSFER_DUE
        _set_next(row, ReferralStep.TRANSFER, row.transfer_due_at)
    else:
        row.status = ReferralStatus.REJECTED.value
        row.closed_at = when
        _set_next(row, None, None)
    return await _finish(
        session,
        row,
        case,
        principal,
        step="decision",
        when=when,
        details={"decision": row.decision, **late},
    )


async def record_transfer(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    police_unit: str,
    materials: Sequence[Material],
    at: datetime | None = None,
) -> ReferralView:
    """The transfer to the police with its materials (the referral letter, the investigation
    report and the list of items are required; appraisals and the package when there are)."""
    row, case = await _load(session, principal, referral_id)
    _expect(row, ReferralStatus.APPROVED, step="transfer")
    when = _step_time(at, row.decided_at)
    if not police_unit.strip():
        raise InvalidStepError(
            "name the police unit", code=codes.POLICE_UNIT_REQUIRED, field="police_unit"
        )
    kinds = set()
    for i, material in enumerate(materials):
        try:
            kinds.add(MaterialKind(material.kind))
        except ValueError as exc:
            raise InvalidStepError(
                "unknown material kind", code=codes.INVALID_MATERIAL, field=f"materials[{i}].kind"
            ) from exc
    missing = [k.value for k in _REQUIRED_MATERIALS if k not in kinds]
    if missing:
        raise MissingMaterialsError("the transfer lacks required materials", missing=missing)
    row.status = ReferralStatus.TRANSFERRED.value
    row.transferred_at = when
    row.police_unit = police_unit.strip()[:200]
    row.materials = [m.to_json() for m in materials]
    row.receipt_due_at = when + RECEIPT_DUE
    _set_next(row, ReferralStep.POLICE_RECEIPT, row.receipt_due_at)
    return await _finish(
        session,
        row,
        case,
        principal,
        step="transfer",
        when=when,
        details={"police_unit": row.police_unit, **_late(row.transfer_due_at, when)},
    )


async def record_police_receipt(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    receipt_no: str = "",
    at: datetime | None = None,
) -> ReferralView:
    """The police signed the receipt; their decision is due within 3 days."""
    row, case = await _load(session, principal, referral_id)
    _expect(row, ReferralStatus.TRANSFERRED, step="police_receipt")
    when = _step_time(at, row.transferred_at)
    row.status = ReferralStatus.RECEIVED.value
    row.receipt_at = when
    row.receipt_no = receipt_no.strip()[:60]
    row.police_decision_due_at = when + POLICE_DECISION_DUE
    _set_next(row, ReferralStep.POLICE_DECISION, row.police_decision_due_at)
    return await _finish(
        session,
        row,
        case,
        principal,
        step="police_receipt",
        when=when,
        details={"receipt_no": row.receipt_no, **_late(row.receipt_due_at, when)},
    )


async def record_police_decision(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    filed: bool,
    decision_no: str = "",
    reason: str = "",
    at: datetime | None = None,
) -> ReferralView:
    """The police's decision (or their answer to a reconsideration).

    Filed: the handover of items and materials is due within 3 days. Not filed: the
    brigade may ask for reconsideration within 3 days; after a reconsideration a second
    refusal closes the referral (the procuratorate's supervision is outside this system).
    """
    row, case = await _load(session, principal, referral_id)
    _expect(row, ReferralStatus.RECEIVED, ReferralStatus.RECONSIDERATION, step="police_decision")
    after = (
        row.receipt_at
        if row.status == ReferralStatus.RECEIVED.value
        else (row.reconsideration_requested_at)
    )
    when = _step_time(at, after)
    if not filed and not reason.strip():
        raise InvalidStepError(
            "a refusal to file needs the police's reason",
            code=codes.REASON_REQUIRED,
            field="reason",
        )
    result = "filed" if filed else "not_filed"
    if row.status == ReferralStatus.RECEIVED.value:
        late = _late(row.police_decision_due_at, when)
        row.police_decision = result
        row.police_decided_at = when
        row.police_decision_no = decision_no.strip()[:60]
        row.police_reason = reason.strip()
        stage = "police_decision"
    else:
        late = _late(row.reconsideration_decision_due_at, when)
        row.reconsideration_result = result
        row.reconsideration_decided_at = when
        stage = "reconsideration_decision"
    if filed:
        row.status = ReferralStatus.POLICE_FILED.value
        row.handover_due_at = when + HANDOVER_DUE
        _set_next(row, ReferralStep.HANDOVER, row.handover_due_at)
    elif stage == "police_decision":
        row.status = ReferralStatus.NOT_FILED.value
        row.reconsideration_due_at = when + RECONSIDERATION_WINDOW
        _set_next(row, ReferralStep.RECONSIDERATION_REQUEST, row.reconsideration_due_at)
    else:
        row.status = ReferralStatus.CLOSED_NOT_FILED.value
        row.closed_at = when
        _set_next(row, None, None)
    return await _finish(
        session,
        row,
        case,
        principal,
        step=stage,
        when=when,
        details={"result": result, "decision_no": decision_no.strip()[:60], **late},
    )


async def request_reconsideration(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    reason: str,
    at: datetime | None = None,
) -> ReferralView:
    """Ask the police to reconsider a refusal, within 3 days; their answer is due in 3 days."""
    row, case = await _load(session, principal, referral_id)
    _expect(row, ReferralStatus.NOT_FILED, step="reconsideration_request")
    ensure_unfinished(case)  # the case came back and was finished meanwhile
    when = _step_time(at, row.police_decided_at)
    if row.reconsideration_due_at is not None and when > row.reconsideration_due_at:
        raise ReconsiderationClosedError(
            "reconsideration must be asked within 3 days of the refusal",
            due_at=row.reconsideration_due_at.isoformat(),
        )
    if not reason.strip():
        raise InvalidStepError(
            "say why the refusal should be reconsidered", code=codes.REASON_REQUIRED, field="reason"
        )
    row.status = ReferralStatus.RECONSIDERATION.value
    row.reconsideration_requested_at = when
    row.reconsideration_reason = reason.strip()
    row.reconsideration_decision_due_at = when + POLICE_DECISION_DUE
    _set_next(row, ReferralStep.RECONSIDERATION_DECISION, row.reconsideration_decision_due_at)
    return await _finish(
        session,
        row,
        case,
        principal,
        step="reconsideration_request",
        when=when,
        details=_late(row.reconsideration_due_at, when),
    )


async def record_handover(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    items: Sequence[Material],
    at: datetime | None = None,
) -> ReferralView:
    """Items and materials handed to the police after they filed the case; ends the referral."""
    row, case = await _load(session, principal, referral_id)
    _expect(row, ReferralStatus.POLICE_FILED, step="handover")
    when = _step_time(
        at,
        row.police_decided_at
        if row.reconsideration_decided_at is None
        else row.reconsideration_decided_at,
    )
    if not items:
        raise MissingMaterialsError("list what was handed over", missing=["items"])
    row.status = ReferralStatus.HANDED_OVER.value
    row.handed_over_at = when
    row.handover_items = [m.to_json() for m in items]
    row.closed_at = when
    _set_next(row, None, None)
    return await _finish(
        session,
        row,
        case,
        principal,
        step="handover",
        when=when,
        details={"items": len(items), **_late(row.handover_due_at, when)},
    )


# -- reading -------------------------------------------------------------------------------------
async def get_referral(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    now: datetime | None = None,
) -> ReferralView:
    """One referral of the county (squad, captains, admins, the procuratorate); overdue as of
    ``now`` (the service's clock)."""
    require_role(principal, *_READERS, action="see referrals")
    stmt = (
        scoped(select(Referral, Case.case_no), Referral, principal)
        .join(Case, Case.id == Referral.case_id)
        .where(Referral.id == referral_id)
    )
    found = (await session.execute(stmt)).first()
    if found is None:
        raise ReferralNotFoundError("referral not found", referral_id=str(referral_id))
    return _view(found[0], found[1], now)


async def list_referrals(
    session: AsyncSession,
    principal: Principal,
    *,
    status: Sequence[str] | None = None,
    case_id: uuid.UUID | None = None,
    open_only: bool = False,
    overdue: bool | None = None,
    now: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[ReferralView]:
    """Referrals of the county, newest first, with filters (squad, captains, admins, the
    procuratorate)."""
    require_role(principal, *_READERS, action="see referrals")
    when = now or utcnow()
    stmt = scoped(select(Referral, Case.case_no), Referral, principal).join(
        Case, Case.id == Referral.case_id
    )
    if status:
        stmt = stmt.where(Referral.status.in_([ReferralStatus(s).value for s in status]))
    if case_id is not None:
        stmt = stmt.where(Referral.case_id == case_id)
    if open_only:
        stmt = stmt.where(Referral.status.in_([s.value for s in ReferralStatus if s.is_open]))
    late = and_(
        Referral.next_due_at < when,
        Referral.next_step != ReferralStep.RECONSIDERATION_REQUEST.value,
    )
    if overdue is True:
        stmt = stmt.where(late)
    elif overdue is False:
        stmt = stmt.where(or_(Referral.next_due_at.is_(None), ~late))
    stmt = stmt.order_by(Referral.created_at.desc(), Referral.id.desc())
    stmt = stmt.limit(max(1, min(limit, 500))).offset(max(0, offset))
    return [_view(r, no, when) for r, no in (await session.execute(stmt)).all()]


async def overdue_steps(
    session: AsyncSession, principal: Principal, *, now: datetime | None = None
) -> list[OverdueStep]:
    """Every legal step of the county that is past due and not recorded, most overdue first.

    The optional reconsideration request is not a duty and never appears here.
    """
    require_role(principal, *_READERS, action="see referral timers")
    when = now or utcnow()
    stmt = (
        scoped(select(Referral, Case.case_no), Referral, principal)
        .join(Case, Case.id == Referral.case_id)
        .where(
            Referral.next_due_at < when,
            Referral.next_step != ReferralStep.RECONSIDERATION_REQUEST.value,
        )
        .order_by(Referral.next_due_at)
    )
    out = []
    for row, case_no in (await session.execute(stmt)).all():
        assert row.next_due_at is not None and row.next_step is not None
        out.append(
            OverdueStep(
                referral_id=row.id,
                case_id=row.case_id,
                case_no=case_no,
                status=row.status,
                step=row.next_step,
                due_at=row.next_due_at,
                # whole seconds rounded up, as lateness is: overdue at all is at least 1 s
                overdue_s=step_timing(row.next_step, row.next_due_at, when).late_by_s,
            )
        )
    return out
