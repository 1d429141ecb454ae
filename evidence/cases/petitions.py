"""Petitions (信访) and their statutory dates (信访工作条例, 2022), step by step.

::

    register_petition   the clue desk registers a letter, visit, call or online petition
                        (registration number XF-<county code>-<yyyy>-<seq>, no gaps)
    decide_petition     accept or not (with the reason), and tell the petitioner:
                        within 15 days of receipt                 -> accepted | not_accepted
    assign_petition     the bureau head's instruction (批示) to a handling office
                        (a brigade room or a township land office)  -> assigned
    extend_petition     once, by at most 30 days, with the reason told to the petitioner
    reply_petition      the written reply: within 60 days of acceptance (+ the extension)
                                                                    -> replied
    request_review      the petitioner asks for review (复查) within 30 days of the reply
                                                                    -> review_requested
    answer_review       the review answer, within 30 days of the request  -> reviewed
    request_review      re-review (复核) within 30 days of the review answer
                                                                    -> re_review_requested
    answer_review       the re-review answer, within 30 days: final   -> re_reviewed

Every period is in calendar days on the county's dates (:data:`infra.scope.COUNTY_TZ`):
the day of the event that starts a period is not counted, and the step is on time on any
instant of its due date (``late``: its county-local date is after the due date; a step not
recorded is ``overdue`` from the day after its due date). A request for review made after
its window is refused (``petition_review_window_closed``); a step given when the petition
does not wait for it is refused with ``petition_step_out_of_order`` (``expected_step``).

The petitioner's identity (name, phone, ID number, address) is protected like a reporter's:
no list or view carries it; the clue desk and captains read it through
:func:`get_petitioner`, and every read is an entry of the custody chain
(``petitioner_viewed``, subject: the petition). Events on a petition never name the
petitioner.

A complaint or accusation (检举控告) about a violation also enters the clue flow: the tip-off
intake registers an opener (:func:`register_petition_clue_opener`), called in the
registering transaction; the clue id it answers is kept as ``clue_id``.

Who: the clue desk, captains and admins register, handle and read petitions; other roles
get ``role_not_allowed``; another county's petition does not exist (404).
"""

from __future__ import annotations

import inspect
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.errors import (
    InvalidPetitionError,
    PetitionAlreadyExtendedError,
    PetitionNotFoundError,
    PetitionReviewsExhaustedError,
    PetitionStepOutOfOrderError,
)
from evidence.cases.petition_models import (
    Petition,
    PetitionCategory,
    PetitionCounter,
    PetitionDelivery,
    PetitionEvent,
    PetitionForm,
    PetitionReview,
    PetitionStatus,
    PetitionStep,
    ReviewLevel,
)
from evidence.custody import CustodyAction, CustodyLog
from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import NotFoundError
from infra.scope import COUNTY_TZ, Principal, Role, require_role, scoped
from patrol.alerts import PETITION_OVERDUE, raise_alert, resolve_alerts
from patrol.field_models import PatrolAlert
from patrol.models import County, Township
from patrol.periods import period_of

__all__ = [
    "DECISION_DAYS",
    "DUTY_STEPS",
    "GROUP_PETITION_MIN_PEOPLE",
    "MAX_EXTENSION_DAYS",
    "PAGE_SIZE",
    "PERIODS",
    "REPLY_DAYS",
    "REVIEW_ANSWER_DAYS",
    "REVIEW_REQUEST_DAYS",
    "ClueOpener",
    "OverduePetitionStep",
    "PetitionEventView",
    "PetitionFigures",
    "PetitionFilters",
    "PetitionInput",
    "PetitionPage",
    "PetitionReviewView",
    "PetitionStepView",
    "PetitionView",
    "Petitioner",
    "PetitionerView",
    "TownshipCount",
    "answer_review",
    "assign_petition",
    "county_day",
    "decide_petition",
    "extend_petition",
    "get_petition",
    "get_petitioner",
    "list_petitions",
    "overdue_petition_steps",
    "petition_figures",
    "raise_overdue_alerts",
    "register_petition",
    "register_petition_clue_opener",
    "reply_petition",
    "request_review",
]

DECISION_DAYS = 15  # decide whether to accept, and tell the petitioner, within 15 days
REPLY_DAYS = 60  # the written reply within 60 days of acceptance
MAX_EXTENSION_DAYS = 30  # extendable once, by at most 30 days, with the reason told
REVIEW_REQUEST_DAYS = 30  # review (and re-review) may be asked within 30 days of the answer
REVIEW_ANSWER_DAYS = 30  # and is answered within 30 days of the request
# A group petition (集体访) is one matter brought by five people or more: the threshold at
# which provincial practice has the bureau head receive the group and report it upward.
GROUP_PETITION_MIN_PEOPLE = 5
PAGE_SIZE = 50
PERIODS = ("week", "month", "quarter", "year")
_FUTURE_SLACK = timedelta(minutes=5)

#: the steps the bureau owes by a date (the two requests are the petitioner's right)
DUTY_STEPS = (
    PetitionStep.DECISION,
    PetitionStep.REPLY,
    PetitionStep.REVIEW_ANSWER,
    PetitionStep.RE_REVIEW_ANSWER,
)
_DUTY_VALUES = tuple(s.value for s in DUTY_STEPS)

_CLERKS = (Role.CLUE_DESK, Role.CAPTAIN, Role.ADMIN)
_IDENTITY_READERS = (Role.CLUE_DESK, Role.CAPTAIN)
_HANDLING = (PetitionStatus.ACCEPTED, PetitionStatus.ASSIGNED)
_REQUEST_STEP = {
    ReviewLevel.REVIEW: PetitionStep.REVIEW_REQUEST,
    ReviewLevel.RE_REVIEW: PetitionStep.RE_REVIEW_REQUEST,
}
_WAITING = {
    ReviewLevel.REVIEW: PetitionStatus.REVIEW_REQUESTED,
    ReviewLevel.RE_REVIEW: PetitionStatus.RE_REVIEW_REQUESTED,
}
_ANSWER_STEP = {
    ReviewLevel.REVIEW: PetitionStep.REVIEW_ANSWER,
    ReviewLevel.RE_REVIEW: PetitionStep.RE_REVIEW_ANSWER,
}


# -- county days ---------------------------------------------------------------------------------
def county_day(at: datetime) -> date:
    """The county-local calendar date of an aware instant."""
    return at.astimezone(COUNTY_TZ).date()


# -- the clue opener -----------------------------------------------------------------------------
ClueOpener = Callable[
    [AsyncSession, Principal, "PetitionView"], "Awaitable[uuid.UUID | None] | uuid.UUID | None"
]
_clue_opener: list[ClueOpener] = []


def register_petition_clue_opener(fn: ClueOpener | None) -> ClueOpener | None:
    """Set the function that opens a clue for a complaint or accusation (``None``: none);
    returns the one it replaces. It is called in the registering transaction with the
    petition's view (no identity in it) and answers the clue id, or ``None``."""
    previous = _clue_opener[0] if _clue_opener else None
    _clue_opener.clear()
    if fn is not None:
        _clue_opener.append(fn)
    return previous


# -- inputs and views ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Petitioner:
    """Who brought the petition (for a group: the representative)."""

    name: str
    phone: str = ""
    id_no: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class PetitionInput:
    form: str
    category: str
    received_at: datetime
    subject: str
    content: str
    petitioner: Petitioner
    people_count: int = 1
    township_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class PetitionFilters:
    status: Sequence[str] | None = None
    form: str | None = None
    category: str | None = None
    township_id: uuid.UUID | None = None
    overdue: bool | None = None
    received_from: date | None = None
    received_to: date | None = None


@dataclass(frozen=True, slots=True)
class PetitionStepView:
    """A step with a statutory date: ``due_on`` (county-local), ``done_at``, ``late`` (done
    after its due date) and ``overdue`` (not done, and its due date has passed)."""

    step: str
    due_on: date
    done_at: datetime | None
    late: bool
    overdue: bool


@dataclass(frozen=True, slots=True)
class PetitionEventView:
    kind: str
    at: datetime
    actor_id: uuid.UUID | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PetitionReviewView:
    level: str
    request_due_on: date
    requested_at: datetime
    requested_by: uuid.UUID
    reason: str
    answer_due_on: date
    answer: str
    delivery: str | None
    answered_at: datetime | None
    answered_by: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class PetitionView:
    """A petition without its petitioner's identity."""

    id: uuid.UUID
    county_id: uuid.UUID
    reg_no: str
    form: str
    category: str
    status: str
    received_at: datetime
    received_on: date
    subject: str
    content: str
    people_count: int
    group_petition: bool
    township_id: uuid.UUID | None
    clue_id: uuid.UUID | None
    registered_by: uuid.UUID
    registered_at: datetime
    decision_due_on: date
    accepted: bool | None
    decision_reason: str
    decision_notice: str
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    office: str
    office_township_id: uuid.UUID | None
    instruction: str
    assigned_at: datetime | None
    assigned_by: uuid.UUID | None
    reply_due_on: date | None
    extension_days: int | None
    extension_reason: str
    extension_notice: str
    extended_at: datetime | None
    extended_by: uuid.UUID | None
    reply_content: str
    reply_delivery: str | None
    replied_at: datetime | None
    replied_by: uuid.UUID | None
    next_step: str | None
    next_due_on: date | None
    overdue: bool
    reviews: tuple[PetitionReviewView, ...] = ()
    steps: tuple[PetitionStepView, ...] = ()
    events: tuple[PetitionEventView, ...] = ()

    @property
    def late(self) -> bool:
        """Some step was done after its due date (``overdue`` is about the next one)."""
        return any(s.late for s in self.steps)


@dataclass(frozen=True, slots=True)
class PetitionerView:
    petition_id: uuid.UUID
    reg_no: str
    name: str
    phone: str
    id_no: str
    address: str


@dataclass(frozen=True, slots=True)
class PetitionPage:
    items: tuple[PetitionView, ...]
    page: int
    page_size: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class TownshipCount:
    township_id: uuid.UUID | None  # None: no township named
    count: int


@dataclass(frozen=True, slots=True)
class PetitionFigures:
    """Petitions received from ``received_from`` to ``received_to`` (county dates,
    inclusive); ``on_time``/``late``: petitions with every step on time so far, and those
    with a step done late or overdue now."""

    received_from: date
    received_to: date
    total: int
    by_form: dict[str, int]
    by_category: dict[str, int]
    by_status: dict[str, int]
    by_township: tuple[TownshipCount, ...]
    group_petitions: int
    on_time: int
    late: int


@dataclass(frozen=True, slots=True)
class OverduePetitionStep:
    petition_id: uuid.UUID
    county_id: uuid.UUID
    reg_no: str
    step: str
    due_on: date


@dataclass(slots=True)
class _Loaded:
    row: Petition
    reviews: dict[str, PetitionReview] = field(default_factory=dict)


# -- helpers -------------------------------------------------------------------------------------
def _steps(
    row: Petition, reviews: Sequence[PetitionReview], now: datetime
) -> tuple[PetitionStepView, ...]:
    today = county_day(now)

    def step(name: PetitionStep, due: date, done: datetime | None) -> PetitionStepView:
        late = done is not None and county_day(done) > due
        duty = name in DUTY_STEPS
        return PetitionStepView(name.value, due, done, late, duty and done is None and today > due)

    out = [step(PetitionStep.DECISION, row.decision_due_on, row.decided_at)]
    if row.accepted and row.reply_due_on is not None:
        out.append(step(PetitionStep.REPLY, row.reply_due_on, row.replied_at))
    by_level = {r.level: r for r in reviews}
    for level in ReviewLevel:
        review = by_level.get(level.value)
        if review is None:
            continue
        out.append(step(_REQUEST_STEP[level], review.request_due_on, review.requested_at))
        out.append(step(_ANSWER_STEP[level], review.answer_due_on, review.answered_at))
    return tuple(out)


def _is_overdue(row: Petition, now: datetime) -> bool:
    return (
        row.next_step in _DUTY_VALUES
        and row.next_due_on is not None
        and county_day(now) > row.next_due_on
    )


def _review_view(r: PetitionReview) -> PetitionReviewView:
    return PetitionReviewView(
        level=r.level,
        request_due_on=r.request_due_on,
        requested_at=r.requested_at,
        requested_by=r.requested_by,
        reason=r.reason,
        answer_due_on=r.answer_due_on,
        answer=r.answer,
        delivery=r.delivery,
        answered_at=r.answered_at,
        answered_by=r.answered_by,
    )


def _view(
    row: Petition,
    reviews: Sequence[PetitionReview],
    now: datetime,
    events: Sequence[PetitionEvent] = (),
) -> PetitionView:
    ordered = sorted(reviews, key=lambda r: list(ReviewLevel).index(ReviewLevel(r.level)))
    return PetitionView(
        id=row.id,
        county_id=row.county_id,
        reg_no=row.reg_no,
        form=row.form,
        category=row.category,
        status=row.status,
        received_at=row.received_at,
        received_on=row.received_on,
        subject=row.subject,
        content=row.content,
        people_count=row.people_count,
        group_petition=row.group_petition,
        township_id=row.township_id,
        clue_id=row.clue_id,
        registered_by=row.registered_by,
        registered_at=row.created_at,
        decision_due_on=row.decision_due_on,
        accepted=row.accepted,
        decision_reason=row.decision_reason,
        decision_notice=row.decision_notice,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        office=row.office,
        office_township_id=row.office_township_id,
        instruction=row.instruction,
        assigned_at=row.assigned_at,
        assigned_by=row.assigned_by,
        reply_due_on=row.reply_due_on,
        extension_days=row.extension_days,
        extension_reason=row.extension_reason,
        extension_notice=row.extension_notice,
        extended_at=row.extended_at,
        extended_by=row.extended_by,
        reply_content=row.reply_content,
        reply_delivery=row.reply_delivery,
        replied_at=row.replied_at,
        replied_by=row.replied_by,
        next_step=row.next_step,
        next_due_on=row.next_due_on,
        overdue=_is_overdue(row, now),
        reviews=tuple(_review_view(r) for r in ordered),
        steps=_steps(row, ordered, now),
        events=tuple(PetitionEventView(e.kind, e.at, e.actor_id, dict(e.details)) for e in events),
    )


def _text(value: str, fieldname: str, *, code: str = codes.INVALID_PETITION) -> str:
    text = value.strip()
    if not text:
        raise InvalidPetitionError(f"{fieldname} must not be blank", code=code, field=fieldname)
    return text


def _choice(value: str | None, vocabulary: type[Any], fieldname: str) -> str:
    allowed = [v.value for v in vocabulary]
    if value not in allowed:
        msg = f"{fieldname} must be one of {', '.join(allowed)}"
        raise InvalidPetitionError(msg, field=fieldname)
    return str(value)


def _aware(at: datetime, fieldname: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        msg = f"{fieldname} must carry a time zone offset"
        raise InvalidPetitionError(msg, code=codes.INVALID_TIME, field=fieldname)
    return at.astimezone(UTC)


def _step_time(
    at: datetime | None, after: datetime | None, now: datetime, fieldname: str = "at"
) -> datetime:
    """When a step happened: default now; aware, not in the future, not before ``after``."""
    when = now if at is None else _aware(at, fieldname)
    if when > now + _FUTURE_SLACK:
        raise InvalidPetitionError(
            f"{fieldname} is in the future", code=codes.INVALID_TIME, field=fieldname
        )
    if after is not None and when < after:
        msg = f"{fieldname} is before the previous step ({after.isoformat()})"
        raise InvalidPetitionError(msg, code=codes.INVALID_TIME, field=fieldname)
    return when


def _record(
    session: AsyncSession,
    row: Petition,
    kind: str,
    actor: Principal,
    *,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        PetitionEvent(
            county_id=row.county_id,
            petition_id=row.id,
            kind=kind,
            at=at,
            actor_id=actor.user_id,
            details=details or {},
        )
    )


def _timing(due: date, when: datetime) -> dict[str, Any]:
    return {"due_on": due.isoformat(), "late": county_day(when) > due}


def _set_next(row: Petition, step: PetitionStep | None, due: date | None) -> None:
    row.next_step = None if step is None else step.value
    row.next_due_on = due


def _alert_prefix(petition_id: uuid.UUID, step: str) -> str:
    return f"{PETITION_OVERDUE}:{petition_id}:{step}:"


async def _step_done(
    session: AsyncSession, row: Petition, step: PetitionStep, when: datetime
) -> None:
    """The step's overdue alert (if one was raised) is resolved: the step is done."""
    await resolve_alerts(
        session,
        county_id=row.county_id,
        where=and_(
            PatrolAlert.kind == PETITION_OVERDUE,
            PatrolAlert.dedupe_key.startswith(_alert_prefix(row.id, step.value)),
        ),
        resolution="petition_step_done",
        at=when,
    )


async def _check_township(
    session: AsyncSession, principal: Principal, township_id: uuid.UUID | None
) -> None:
    if township_id is None:
        return
    found = await session.scalar(
        scoped(select(Township.id), Township, principal).where(Township.id == township_id)
    )
    if found is None:
        raise NotFoundError(
            "township not found", code=codes.TOWNSHIP_NOT_FOUND, township_id=str(township_id)
        )


async def _load(
    session: AsyncSession, principal: Principal, petition_id: uuid.UUID, *, lock: bool = True
) -> _Loaded:
    require_role(principal, *_CLERKS, action="handle petitions")
    stmt = scoped(select(Petition), Petition, principal).where(Petition.id == petition_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise PetitionNotFoundError("petition not found", petition_id=str(petition_id))
    reviews = (
        await session.scalars(select(PetitionReview).where(PetitionReview.petition_id == row.id))
    ).all()
    return _Loaded(row, {r.level: r for r in reviews})


def _expect(row: Petition, *allowed: PetitionStatus, step: str) -> None:
    if PetitionStatus(row.status) not in allowed:
        raise PetitionStepOutOfOrderError(
            f"cannot record {step} while the petition is {row.status}",
            status=row.status,
            step=step,
            expected_step=row.next_step or "none",
        )


async def _answer(session: AsyncSession, loaded: _Loaded, now: datetime) -> PetitionView:
    await session.flush()
    return _view(loaded.row, list(loaded.reviews.values()), now)


async def _next_reg_no(session: AsyncSession, county_id: uuid.UUID, year: int) -> str:
    """The next registration number of the county's year. The counter row stays locked
    until the registering transaction ends; a rolled-back registration gives its number
    back, so the register has no gaps."""
    stmt = (
        insert(PetitionCounter)
        .values(county_id=county_id, year=year, last_seq=1)
        .on_conflict_do_update(
            index_elements=["county_id", "year"],
            set_={"last_seq": PetitionCounter.last_seq + 1},
        )
        .returning(PetitionCounter.last_seq)
    )
    seq = (await session.execute(stmt)).scalar_one()
    admin_code = await session.scalar(select(County.admin_code).where(County.id == county_id))
    return f"XF-{admin_code}-{year:04d}-{seq:05d}"


# -- registration --------------------------------------------------------------------------------
async def register_petition(
    session: AsyncSession,
    principal: Principal,
    data: PetitionInput,
    *,
    now: datetime | None = None,
) -> PetitionView:
    """Register a petition (clue desk, captains, admins); the decision is due 15 days after
    the county-local date of receipt."""
    require_role(principal, *_CLERKS, action="register petitions")
    now = now or utcnow()
    form = _choice(data.form, PetitionForm, "form")
    category = _choice(data.category, PetitionCategory, "category")
    received = _step_time(data.received_at, None, now, "received_at")
    subject = _text(data.subject, "subject")
    content = _text(data.content, "content")
    name = _text(data.petitioner.name, "petitioner.name")
    if data.people_count < 1:
        raise InvalidPetitionError("people_count must be at least 1", field="people_count")
    await _check_township(session, principal, data.township_id)
    received_on = county_day(received)
    decision_due = received_on + timedelta(days=DECISION_DAYS)
    row = Petition(
        county_id=principal.county_id,
        reg_no=await _next_reg_no(session, principal.county_id, county_day(now).year),
        form=form,
        category=category,
        status=PetitionStatus.REGISTERED.value,
        received_at=received,
        received_on=received_on,
        subject=subject,
        content=content,
        people_count=data.people_count,
        group_petition=data.people_count >= GROUP_PETITION_MIN_PEOPLE,
        township_id=data.township_id,
        registered_by=principal.user_id,
        petitioner_name=name,
        petitioner_phone=data.petitioner.phone.strip(),
        petitioner_id_no=data.petitioner.id_no.strip(),
        petitioner_address=data.petitioner.address.strip(),
        decision_due_on=decision_due,
        created_at=now,
        updated_at=now,
    )
    _set_next(row, PetitionStep.DECISION, decision_due)
    session.add(row)
    await session.flush()
    _record(
        session,
        row,
        "registered",
        principal,
        at=now,
        details={
            "reg_no": row.reg_no,
            "form": form,
            "category": category,
            "people_count": row.people_count,
            "group_petition": row.group_petition,
            "decision_due_on": decision_due.isoformat(),
        },
    )
    if category == PetitionCategory.COMPLAINT_ACCUSATION and _clue_opener:
        opened = _clue_opener[0](session, principal, _view(row, (), now))
        clue_id = await opened if inspect.isawaitable(opened) else opened
        if clue_id is not None:
            row.clue_id = clue_id
            _record(
                session, row, "clue_opened", principal, at=now, details={"clue_id": str(clue_id)}
            )
    await session.flush()
    return _view(row, (), now)


# -- the steps -----------------------------------------------------------------------------------
async def decide_petition(
    session: AsyncSession,
    principal: Principal,
    petition_id: uuid.UUID,
    *,
    accept: bool,
    reason: str = "",
    notice: str = "",
    at: datetime | None = None,
    now: datetime | None = None,
) -> PetitionView:
    """Accept or not (a refusal needs its reason), and the notice to the petitioner."""
    now = now or utcnow()
    loaded = await _load(session, principal, petition_id)
    row = loaded.row
    _expect(row, PetitionStatus.REGISTERED, step=PetitionStep.DECISION.value)
    when = _step_time(at, row.received_at, now)
    if not accept and not reason.strip():
        raise InvalidPetitionError(
            "a refusal needs its reason", code=codes.REASON_REQUIRED, field="reason"
        )
    row.accepted = accept
    row.decision_reason = reason.strip()
    row.decision_notice = notice.strip()
    row.decided_at = when
    row.decided_by = principal.user_id
    if accept:
        row.status = PetitionStatus.ACCEPTED.value
        row.reply_due_on = county_day(when) + timedelta(days=REPLY_DAYS)
        _set_next(row, PetitionStep.REPLY, row.reply_due_on)
    else:
        row.status = PetitionStatus.NOT_ACCEPTED.value
        _set_next(row, None, None)
    details = {"accepted": accept, **_timing(row.decision_due_on, when)}
    if row.reply_due_on is not None:
        details["reply_due_on"] = row.reply_due_on.isoformat()
    _record(session, row, "decided", principal, at=when, details=details)
    await _step_done(session, row, PetitionStep.DECISION, when)
    return await _answer(session, loaded, now)


async def assign_petition(
    session: AsyncSession,
    principal: Principal,
    petition_id: uuid.UUID,
    *,
    office: str,
    instruction: str,
    township_id: uuid.UUID | None = None,
    at: datetime | None = None,
    now: datetime | None = None,
) -> PetitionView:
    """The bureau head's instruction (批示) to the office that handles the petition (a
    brigade room or a township land office); given again, it reassigns."""
    now = now or utcnow()
    loaded = await _load(session, principal, petition_id)
    row = loaded.row
    _expect(row, *_HANDLING, step="assignment")
    when = _step_time(at, row.decided_at, now)
    office_name = _text(office, "office")
    text = _text(instruction, "instruction")
    await _check_township(session, principal, township_id)
    row.office = office_name
    row.office_township_id = township_id
    row.instruction = text
    row.assigned_at = when
    row.assigned_by = principal.user_id
    row.status = PetitionStatus.ASSIGNED.value
    details = {"office": office_name, "instruction": text}
    if township_id is not None:
        details["township_id"] = str(township_id)
    _record(session, row, "assigned", principal, at=when, details=details)
    return await _answer(session, loaded, now)


async def extend_petition(
    session: AsyncSession,
    principal: Principal,
    petition_id: uuid.UUID,
    *,
    days: int,
    reason: str,
    notice: str = "",
    at: datetime | None = None,
    now: datetime | None = None,
) -> PetitionView:
    """Extend the reply's period once, by 1 to 30 days, with the reason told to the
    petitioner (``notice``: how)."""
    now = now or utcnow()
    loaded = await _load(session, principal, petition_id)
    row = loaded.row
    _expect(row, *_HANDLING, step="extension")
    if row.extension_days is not None:
        raise PetitionAlreadyExtendedError(
            "the handling period was extended already", extended_at=str(row.extended_at)
        )
    when = _step_time(at, row.decided_at, now)
    if days > MAX_EXTENSION_DAYS:
        raise InvalidPetitionError(
            f"an extension may not exceed {MAX_EXTENSION_DAYS} days",
            code=codes.PETITION_EXTENSION_TOO_LONG,
            field="days",
            max_days=MAX_EXTENSION_DAYS,
        )
    if days < 1:
        raise InvalidPetitionError("days must be at least 1", field="days")
    why = _text(reason, "reason", code=codes.REASON_REQUIRED)
    assert row.reply_due_on is not None
    previous_due = row.reply_due_on
    row.extension_days = days
    row.extension_reason = why
    row.extension_notice = notice.strip()
    row.extended_at = when
    row.extended_by = principal.user_id
    row.reply_due_on = previous_due + timedelta(days=days)
    _set_next(row, PetitionStep.REPLY, row.reply_due_on)
    _record(
        session,
        row,
        "extended",
        principal,
        at=when,
        details={
            "days": days,
            "reason": why,
            "previous_due_on": previous_due.isoformat(),
            "reply_due_on": row.reply_due_on.isoformat(),
        },
    )
    return await _answer(session, loaded, now)


async def reply_petition(
    session: AsyncSession,
    principal: Principal,
    petition_id: uuid.UUID,
    *,
    content: str,
    delivery: str,
    at: datetime | None = None,
    now: datetime | None = None,
) -> PetitionView:
    """The written reply and how it reached the petitioner; review may then be asked within
    30 days."""
    now = now or utcnow()
    loaded = await _load(session, principal, petition_id)
    row = loaded.row
    _expect(row, *_HANDLING, step=PetitionStep.REPLY.value)
    when = _step_time(at, row.assigned_at or row.decided_at, now)
    text = _text(content, "content")
    how = _choice(delivery, PetitionDelivery, "delivery")
    assert row.reply_due_on is not None
    row.reply_content = text
    row.reply_delivery = how
    row.replied_at = when
    row.replied_by = principal.user_id
    row.status = PetitionStatus.REPLIED.value
    _set_next(
        row, PetitionStep.REVIEW_REQUEST, county_day(when) + timedelta(days=REVIEW_REQUEST_DAYS)
    )
    details = {"delivery": how, **_timing(row.reply_due_on, when)}
    _record(session, row, "replied", principal, at=when, details=details)
    await _step_done(session, row, PetitionStep.REPLY, when)
    return await _answer(session, loaded, now)


def _review_base(loaded: _Loaded, level: ReviewLevel) -> tuple[PetitionStatus, datetime | None]:
    """The status a request of ``level`` needs, and the answer its window starts from."""
    if level is ReviewLevel.REVIEW:
        return PetitionStatus.REPLIED, loaded.row.replied_at
    review = loaded.reviews.get(ReviewLevel.REVIEW.value)
    return PetitionStatus.REVIEWED, None if review is None else review.answered_at


async def request_review(
    session: AsyncSession,
    principal: Principal,
    petition_id: uuid.UUID,
    *,
    level: str,
    reason: str = "",
    at: datetime | None = None,
    now: datetime | None = None,
) -> PetitionView:
    """The petitioner's request for review (复查, after the reply) or re-review (复核, after
    the review answer), within 30 days of that answer; the answer is due 30 days after."""
    now = now or utcnow()
    lvl = ReviewLevel(_choice(level, ReviewLevel, "level"))
    loaded = await _load(session, principal, petition_id)
    row = loaded.row
    if row.status == PetitionStatus.RE_REVIEWED.value:
        raise PetitionReviewsExhaustedError("the re-review is final", level=lvl.value)
    needed, base = _review_base(loaded, lvl)
    _expect(row, needed, step=_REQUEST_STEP[lvl].value)
    assert base is not None
    when = _step_time(at, base, now)
    window_due = county_day(base) + timedelta(days=REVIEW_REQUEST_DAYS)
    if county_day(when) > window_due:
        raise InvalidPetitionError(
            f"{lvl.value} must be asked within {REVIEW_REQUEST_DAYS} days of the answer",
            code=codes.PETITION_REVIEW_WINDOW_CLOSED,
            window_days=REVIEW_REQUEST_DAYS,
            due_on=window_due.isoformat(),
        )
    answer_due = county_day(when) + timedelta(days=REVIEW_ANSWER_DAYS)
    review = PetitionReview(
        county_id=row.county_id,
        petition_id=row.id,
        level=lvl.value,
        request_due_on=window_due,
        requested_at=when,
        requested_by=principal.user_id,
        reason=reason.strip(),
        answer_due_on=answer_due,
        answer="",
    )
    session.add(review)
    loaded.reviews[lvl.value] = review
    row.status = _WAITING[lvl].value
    _set_next(row, _ANSWER_STEP[lvl], answer_due)
    _record(
        session,
        row,
        f"{lvl.value}_requested",
        principal,
        at=when,
        details={"request_due_on": window_due.isoformat(), "answer_due_on": answer_due.isoformat()},
    )
    return await _answer(session, loaded, now)


async def answer_review(
    session: AsyncSession,
    principal: Principal,
    petition_id: uuid.UUID,
    *,
    level: str,
    answer: str,
    delivery: str = PetitionDelivery.MAIL.value,
    at: datetime | None = None,
    now: datetime | None = None,
) -> PetitionView:
    """The review (or re-review) answer; the re-review's is final."""
    now = now or utcnow()
    lvl = ReviewLevel(_choice(level, ReviewLevel, "level"))
    loaded = await _load(session, principal, petition_id)
    row = loaded.row
    if row.status == PetitionStatus.RE_REVIEWED.value:
        raise PetitionReviewsExhaustedError("the re-review is final", level=lvl.value)
    _expect(row, _WAITING[lvl], step=_ANSWER_STEP[lvl].value)
    review = loaded.reviews[lvl.value]
    when = _step_time(at, review.requested_at, now)
    text = _text(answer, "answer")
    how = _choice(delivery, PetitionDelivery, "delivery")
    review.answer = text
    review.delivery = how
    review.answered_at = when
    review.answered_by = principal.user_id
    if lvl is ReviewLevel.REVIEW:
        row.status = PetitionStatus.REVIEWED.value
        window = county_day(when) + timedelta(days=REVIEW_REQUEST_DAYS)
        _set_next(row, PetitionStep.RE_REVIEW_REQUEST, window)
    else:
        row.status = PetitionStatus.RE_REVIEWED.value
        _set_next(row, None, None)
    _record(
        session,
        row,
        f"{lvl.value}_answered",
        principal,
        at=when,
        details={"delivery": how, **_timing(review.answer_due_on, when)},
    )
    await _step_done(session, row, _ANSWER_STEP[lvl], when)
    return await _answer(session, loaded, now)


# -- reading -------------------------------------------------------------------------------------
async def get_petition(
    session: AsyncSession,
    principal: Principal,
    petition_id: uuid.UUID,
    *,
    now: datetime | None = None,
) -> PetitionView:
    """One petition with its steps, reviews and events in the order they were recorded (each
    with its own time: a step may be recorded after the fact); no identity."""
    require_role(principal, *_CLERKS, action="read petitions")
    loaded = await _load(session, principal, petition_id, lock=False)
    events = (
        await session.scalars(
            select(PetitionEvent)
            .where(PetitionEvent.petition_id == petition_id)
            .order_by(PetitionEvent.seq)  # as recorded (a step may be given after the fact)
        )
    ).all()
    return _view(loaded.row, list(loaded.reviews.values()), now or utcnow(), events)


async def get_petitioner(
    session: AsyncSession,
    principal: Principal,
    petition_id: uuid.UUID,
    custody: CustodyLog,
    *,
    now: datetime | None = None,
) -> PetitionerView:
    """The petitioner's identity (clue desk and captains); the read is a custody entry."""
    require_role(principal, *_IDENTITY_READERS, action="read a petitioner's identity")
    stmt = scoped(select(Petition), Petition, principal).where(Petition.id == petition_id)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise PetitionNotFoundError("petition not found", petition_id=str(petition_id))
    await custody.append(
        session,
        county_id=row.county_id,
        action=CustodyAction.PETITIONER_VIEWED,
        subject_id=row.id,
        actor_id=principal.user_id,
        details={"reg_no": row.reg_no, "role": principal.role.value},
        at=now or utcnow(),
    )
    return PetitionerView(
        petition_id=row.id,
        reg_no=row.reg_no,
        name=row.petitioner_name,
        phone=row.petitioner_phone,
        id_no=row.petitioner_id_no,
        address=row.petitioner_address,
    )


def _overdue_clause(today: date) -> Any:
    return and_(
        Petition.next_step.in_(_DUTY_VALUES),
        Petition.next_due_on.is_not(None),
        Petition.next_due_on < today,
    )


async def list_petitions(
    session: AsyncSession,
    principal: Principal,
    filters: PetitionFilters,
    *,
    page: int = 1,
    now: datetime | None = None,
) -> PetitionPage:
    """A page of 50, newest receipt first (then by id); ``overdue`` keeps petitions whose
    next step is (or is not) past its date."""
    require_role(principal, *_CLERKS, action="read petitions")
    now = now or utcnow()
    if page < 1:
        raise InvalidPetitionError("page must be at least 1", field="page")
    stmt = scoped(select(Petition), Petition, principal)
    if filters.status:
        stmt = stmt.where(Petition.status.in_(list(filters.status)))
    if filters.form is not None:
        stmt = stmt.where(Petition.form == filters.form)
    if filters.category is not None:
        stmt = stmt.where(Petition.category == filters.category)
    if filters.township_id is not None:
        stmt = stmt.where(
            or_(
                Petition.township_id == filters.township_id,
                Petition.office_township_id == filters.township_id,
            )
        )
    if filters.received_from is not None:
        stmt = stmt.where(Petition.received_on >= filters.received_from)
    if filters.received_to is not None:
        stmt = stmt.where(Petition.received_on <= filters.received_to)
    if filters.overdue is not None:
        clause = _overdue_clause(county_day(now))
        stmt = stmt.where(clause if filters.overdue else not_(clause))
    stmt = (
        stmt.order_by(Petition.received_at.desc(), Petition.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = (await session.scalars(stmt)).all()
    shown = rows[:PAGE_SIZE]
    reviews = await _reviews_of(session, [r.id for r in shown])
    items = tuple(_view(r, reviews.get(r.id, []), now) for r in shown)
    return PetitionPage(items, page, PAGE_SIZE, len(rows) > PAGE_SIZE)


async def _reviews_of(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[PetitionReview]]:
    out: dict[uuid.UUID, list[PetitionReview]] = {}
    if not ids:
        return out
    rows = await session.scalars(
        select(PetitionReview).where(PetitionReview.petition_id.in_(list(ids)))
    )
    for r in rows:
        out.setdefault(r.petition_id, []).append(r)
    return out


def _period(period: str, today: date) -> tuple[date, date]:
    if period not in PERIODS:
        msg = f"period must be one of {', '.join(PERIODS)}"
        raise InvalidPetitionError(msg, field="period")
    found = period_of(period, today)
    return found.start, found.end


async def petition_figures(
    session: AsyncSession,
    principal: Principal,
    *,
    period: str | None = None,
    received_from: date | None = None,
    received_to: date | None = None,
    now: datetime | None = None,
) -> PetitionFigures:
    """Counts of the petitions received in a period (this week, month, quarter or year in
    the county; default this month) or from/to (inclusive county dates)."""
    require_role(principal, *_CLERKS, action="read petition figures")
    now = now or utcnow()
    today = county_day(now)
    if received_from is not None or received_to is not None:
        if period is not None:
            msg = "give a period or from/to, not both"
            raise InvalidPetitionError(msg, field="period")
        start = received_from or date(today.year, 1, 1)
        end = received_to or today
    else:
        start, end = _period(period or "month", today)
    if end < start:
        raise InvalidPetitionError("received_to is before received_from", field="received_to")
    stmt = scoped(select(Petition), Petition, principal).where(
        Petition.received_on >= start, Petition.received_on <= end
    )
    rows = (await session.scalars(stmt)).all()
    reviews = await _reviews_of(session, [r.id for r in rows])
    by_township: Counter[uuid.UUID | None] = Counter()
    on_time = late = 0
    for r in rows:
        by_township[r.township_id or r.office_township_id] += 1
        steps = _steps(r, reviews.get(r.id, []), now)
        if any(s.late or s.overdue for s in steps):
            late += 1
        else:
            on_time += 1
    return PetitionFigures(
        received_from=start,
        received_to=end,
        total=len(rows),
        by_form={f.value: sum(r.form == f.value for r in rows) for f in PetitionForm},
        by_category={c.value: sum(r.category == c.value for r in rows) for c in PetitionCategory},
        by_status={s.value: sum(r.status == s.value for r in rows) for s in PetitionStatus},
        by_township=tuple(
            TownshipCount(t, n)
            for t, n in sorted(by_township.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ),
        group_petitions=sum(r.group_petition for r in rows),
        on_time=on_time,
        late=late,
    )


# -- overdue steps and their alerts --------------------------------------------------------------
async def overdue_petition_steps(
    session: AsyncSession, county_id: uuid.UUID, *, now: datetime | None = None
) -> list[OverduePetitionStep]:
    """The county's petitions whose next duty step is past its date, oldest date first."""
    today = county_day(now or utcnow())
    rows = (
        await session.execute(
            select(Petition.id, Petition.reg_no, Petition.next_step, Petition.next_due_on)
            .where(Petition.county_id == county_id, _overdue_clause(today))
            .order_by(Petition.next_due_on, Petition.id)
        )
    ).all()
    return [
        OverduePetitionStep(pid, county_id, reg_no, str(step), due)
        for pid, reg_no, step, due in rows
        if due is not None
    ]


async def raise_overdue_alerts(
    session: AsyncSession, county_id: uuid.UUID, *, now: datetime | None = None
) -> tuple[int, int]:
    """Raise a captain alert for each overdue step of the county (once per step and due
    date), and resolve open ones whose step is no longer overdue (the date moved by an
    extension). Returns (raised, resolved); the caller commits."""
    now = now or utcnow()
    overdue = await overdue_petition_steps(session, county_id, now=now)
    keys = []
    raised = 0
    for s in overdue:
        key = f"{_alert_prefix(s.petition_id, s.step)}{s.due_on.isoformat()}"
        keys.append(key)
        added = await raise_alert(
            session,
            county_id=county_id,
            kind=PETITION_OVERDUE,
            severity="high",
            dedupe_key=key,
            params={"reg_no": s.reg_no, "step": s.step, "due_on": s.due_on.isoformat()},
            raised_at=now,
        )
        raised += int(added)
    stale = and_(PatrolAlert.kind == PETITION_OVERDUE, PatrolAlert.dedupe_key.not_in(keys))
    resolved = await resolve_alerts(
        session, county_id=county_id, where=stale, resolution="no_longer_overdue", at=now
    )
    return raised, resolved
