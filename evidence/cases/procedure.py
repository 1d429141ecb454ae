"""The administrative penalty procedure of a case, as data: its steps in order, the statutory
deadlines they start, and the coarse status they move.

Main line (every step a row of ``case_steps``, with who, when and its details)::

    (clue) -> filing -> investigation ... -> [legal_review -> collective_discussion]
           -> notice -> statement / hearing_requested -> hearing_notified -> hearing_held
           -> decision -> service -> execution ... / court_enforcement -> closing

Beside it: ``clock_pause`` / ``clock_resume`` (the 90 days stop counting, with a reason
kind), ``suspend`` / ``resume`` (中止), ``terminate`` (终止), ``withdraw`` (撤销立案),
``extension_request`` / ``extension_approval`` (延期). A step the procedure does not allow
now is refused with 409 ``case_step_out_of_order`` naming the expected step
(``expected_steps``: every step allowed now). Legal review and collective discussion come
before the decision of a major case (``cases.major``, set from the penalty:
:mod:`evidence.cases.penalties`); a penalty decision needs the penalty content, the notice,
and the party's statement (or the 5 days to give one gone by) and, when asked for, the
hearing held.

The coarse status follows: filing → ``filed``, the first investigation → ``investigating``,
the decision → ``decided``, the first execution or court enforcement → ``executing``,
closing → ``closed``; suspend, resume, terminate and withdraw make the status's own moves.
A status only moves forward (a captain may have moved it already with ``ChangeCaseStatus``),
and a case that follows its criminal referral (``referred``) takes only the steps that do
not move its status (investigation, pauses, extensions).

Deadlines (the app's clock; China's days; "within N days" of an act ends at the midnight
closing the Nth day after the act's day, and an act at or after it is late):

* **filing**: within ``PATROL_CASE_FILING_WORKING_DAYS`` working days (default 10, the
  county's calendar) of the case's source time — the ``clue`` step's time (the check that
  found it) when recorded, else the patrol finding's time, else when the case was opened;
* **decision**: within 90 days of filing, plus approved extensions; the intervals of a
  pause, of a hearing (request to hearing held) and of a suspension do not count, so the due
  time moves by their length (``daysPaused``; ``daysCounted`` are the days that count);
* **statement** and **hearing request**: the party's 5 days from the notice (a hearing asked
  later is refused: 409 ``hearing_request_late``); the hearing is notified at least 7 days
  before it is held (a closer date: 422 ``hearing_notice_too_short``);
* **service**: within 7 days of the decision (the party absent: 留置 or 公告, noted as the
  method);
* **court enforcement**: after a demolition order, not before the 15 days the party has to
  sue have passed (土地管理法 Art. 83); after other penalties, not before the 6 months of
  litigation (行政诉讼法 Art. 46) — earlier: 409 ``enforcement_too_early``.

Overdue officer duties (filing, decision, service) raise a ``case_step_overdue`` alert for
captains (the periodic task :mod:`evidence.cases.tasks`), resolved when the step is recorded
(``case_step_done``), or when a pause or extension moves the due time past now
(``no_longer_overdue``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.calendar import due_at, load_calendar
from evidence.cases.cases import (
    check_evidence,
    ensure_unfinished,
    ensure_writer,
    load_case,
    move_status,
)
from evidence.cases.errors import CaseStepOrderError, InvalidCaseStepError
from evidence.cases.models import Case, CaseStatus, SourceKind
from evidence.cases.penalties import (
    PenaltyInput,
    PenaltyView,
    penalty_view,
    put_penalty,
)
from evidence.cases.procedure_models import (
    CasePenalty,
    CaseStep,
    DecisionOption,
    MeasureKind,
    PauseReason,
    ServiceMethod,
    Stage,
    StepKind,
)
from evidence.cases.supervision import audit_read
from evidence.custody import CustodyLog
from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import ConflictError
from infra.scope import COUNTY_TZ, MANAGERS, Principal, Role, require_role
from infra.settings import ProcedureSettings
from patrol.alerts import CASE_STEP_OVERDUE, raise_alert, resolve_alerts
from patrol.field_models import Finding, PatrolAlert

__all__ = [
    "DECISION_DAYS",
    "DeadlineView",
    "ProcedureService",
    "ProcedureView",
    "StepInput",
    "StepView",
    "raise_overdue_alerts",
]

DECISION_DAYS = 90  # 行政处罚法 Art. 60
STATEMENT_DAYS = 5  # Art. 62/63: statement and defence; Art. 64: hearing request
HEARING_NOTICE_DAYS = 7  # Art. 64: notified at least 7 days before the hearing
SERVICE_DAYS = 7  # Art. 61: the party absent
DEMOLITION_SUIT_DAYS = 15  # 土地管理法 Art. 83
LITIGATION_MONTHS = 6  # 行政诉讼法 Art. 46
_FUTURE_TOLERANCE = timedelta(minutes=5)
_DAY = timedelta(days=1)

_STAGES: dict[StepKind, Stage] = {
    StepKind.CLUE: Stage.CLUE,
    StepKind.FILING: Stage.FILING,
    StepKind.INVESTIGATION: Stage.INVESTIGATION,
    StepKind.LEGAL_REVIEW: Stage.REVIEW,
    StepKind.COLLECTIVE_DISCUSSION: Stage.REVIEW,
    StepKind.NOTICE: Stage.NOTICE,
    StepKind.STATEMENT: Stage.NOTICE,
    StepKind.HEARING_REQUESTED: Stage.NOTICE,
    StepKind.HEARING_NOTIFIED: Stage.NOTICE,
    StepKind.HEARING_HELD: Stage.NOTICE,
    StepKind.DECISION: Stage.DECISION,
    StepKind.SERVICE: Stage.SERVICE,
    StepKind.EXECUTION: Stage.EXECUTION,
    StepKind.COURT_ENFORCEMENT: Stage.EXECUTION,
    StepKind.CLOSING: Stage.CLOSING,
}
# steps the case's team may record; every other step is a captain's or admin's
_TEAM_STEPS = frozenset(
    {
        StepKind.CLUE,
        StepKind.INVESTIGATION,
        StepKind.STATEMENT,
        StepKind.HEARING_REQUESTED,
        StepKind.HEARING_HELD,
        StepKind.SERVICE,
        StepKind.EXECUTION,
        StepKind.CLOCK_PAUSE,
        StepKind.CLOCK_RESUME,
        StepKind.EXTENSION_REQUEST,
    }
)
# steps whose point is to move the coarse status: not while the case follows its referral
_MOVING = frozenset(
    {
        StepKind.FILING,
        StepKind.DECISION,
        StepKind.EXECUTION,
        StepKind.COURT_ENFORCEMENT,
        StepKind.CLOSING,
        StepKind.SUSPEND,
        StepKind.RESUME,
        StepKind.TERMINATE,
        StepKind.WITHDRAW,
    }
)
_MAIN_LINE = (
    CaseStatus.CLUE,
    CaseStatus.FILED,
    CaseStatus.INVESTIGATING,
    CaseStatus.DECIDED,
    CaseStatus.EXECUTING,
    CaseStatus.CLOSED,
)
_FORWARD: dict[StepKind, CaseStatus] = {
    StepKind.FILING: CaseStatus.FILED,
    StepKind.INVESTIGATION: CaseStatus.INVESTIGATING,
    StepKind.DECISION: CaseStatus.DECIDED,
    StepKind.EXECUTION: CaseStatus.EXECUTING,
    StepKind.COURT_ENFORCEMENT: CaseStatus.EXECUTING,
    StepKind.CLOSING: CaseStatus.CLOSED,
}
# officer duties with a due time: an overdue one raises an alert
_DUTIES = ("filing", "decision", "service")
_WRITERS = (Role.INSPECTOR, Role.CAPTAIN, Role.ADMIN)


# -- inputs and views ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StepInput:
    """One step (``RecordCaseStep``): the kind and the members that kind reads; ``at`` is
    when it happened (now when not given)."""

    kind: str
    at: datetime | None = None
    note: str = ""
    approval_no: str = ""  # filing
    summary: str = ""  # investigation, statement, hearing held, closing
    evidence_ids: Sequence[uuid.UUID] = ()  # investigation
    passed: bool = True  # legal review
    opinion: str = ""  # legal review
    conclusion: str = ""  # collective discussion
    participants: Sequence[str] = ()  # collective discussion
    waived: bool = False  # statement: the party gave up the right
    hearing_on: date | None = None  # hearing notified: the hearing's date
    place: str = ""  # hearing notified
    option: str | None = None  # decision: a DecisionOption value
    decision_no: str = ""  # decision
    transfer_to: str = ""  # decision: transfer
    method: str | None = None  # service: a ServiceMethod value
    party_present: bool = True  # service
    paid_yuan: Decimal | None = None  # execution
    paid_on: date | None = None  # execution
    demolished_m2: float | None = None  # execution
    land_returned: bool = False  # execution
    right_holder_confirmed: bool = False  # execution: written confirmation of receipt
    farmland_restored_m2: float | None = None  # execution
    court: str = ""  # court enforcement
    ruling: str = ""  # court enforcement: the court's ruling (裁定) once known
    reason_kind: str | None = None  # clock pause: a PauseReason value
    reason: str = ""  # pause, suspend, terminate, withdraw, extension request
    days: int | None = None  # extension request / approval
    approved: bool = True  # extension approval


@dataclass(frozen=True, slots=True)
class StepView:
    id: uuid.UUID
    case_id: uuid.UUID
    seq: int
    kind: str
    stage: str
    at: datetime
    recorded_by: uuid.UUID
    recorded_at: datetime
    details: dict[str, Any]
    document_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class DeadlineView:
    """One deadline: ``kind`` is ``duty`` (officers act by ``due_at``), ``party`` (the
    party's window closes at ``due_at``) or ``waiting`` (the step may not come before
    ``due_at``)."""

    step: str
    kind: str
    basis: str
    starts_at: datetime | None
    due_at: datetime | None
    done_at: datetime | None
    late: bool
    overdue: bool
    days_allowed: int | None = None
    days_counted: float | None = None
    days_paused: float | None = None


@dataclass(frozen=True, slots=True)
class ProcedureView:
    case_id: uuid.UUID
    case_no: str
    status: str
    stage: str
    major: bool
    decision_option: str | None
    paused_for: str | None  # the reason kind of the open pause
    deadlines: tuple[DeadlineView, ...]
    next_steps: tuple[str, ...]
    penalty: PenaltyView | None
    steps: int


# -- the case's state, from its steps ------------------------------------------------------------
@dataclass
class _State:
    steps: list[CaseStep] = field(default_factory=list)

    def first(self, kind: StepKind) -> CaseStep | None:
        return next((s for s in self.steps if s.kind == kind.value), None)

    def last(self, kind: StepKind) -> CaseStep | None:
        return next((s for s in reversed(self.steps) if s.kind == kind.value), None)

    def count(self, kind: StepKind) -> int:
        return sum(1 for s in self.steps if s.kind == kind.value)

    @property
    def legal_review(self) -> CaseStep | None:
        return next(
            (
                s
                for s in reversed(self.steps)
                if s.kind == StepKind.LEGAL_REVIEW.value and s.details.get("passed", True)
            ),
            None,
        )

    @property
    def open_pause(self) -> CaseStep | None:
        last = None
        for s in self.steps:
            if s.kind == StepKind.CLOCK_PAUSE.value:
                last = s
            elif s.kind == StepKind.CLOCK_RESUME.value:
                last = None
        return last

    @property
    def pending_extension(self) -> CaseStep | None:
        request = self.last(StepKind.EXTENSION_REQUEST)
        approval = self.last(StepKind.EXTENSION_APPROVAL)
        if request is None or (approval is not None and approval.seq > request.seq):
            return None
        return request

    @property
    def extension_days(self) -> int:
        return sum(
            int(s.details.get("days") or 0)
            for s in self.steps
            if s.kind == StepKind.EXTENSION_APPROVAL.value and s.details.get("approved")
        )

    def intervals(self, end: datetime) -> list[tuple[datetime, datetime]]:
        """The intervals the 90 days do not count, open ones ending at ``end``."""
        out: list[tuple[datetime, datetime]] = []
        starts: dict[str, datetime] = {}
        pairs = {
            StepKind.CLOCK_PAUSE.value: ("pause", True),
            StepKind.CLOCK_RESUME.value: ("pause", False),
            StepKind.HEARING_REQUESTED.value: ("hearing", True),
            StepKind.HEARING_HELD.value: ("hearing", False),
            StepKind.SUSPEND.value: ("suspend", True),
            StepKind.RESUME.value: ("suspend", False),
        }
        for s in self.steps:
            pair = pairs.get(s.kind)
            if pair is None:
                continue
            name, opens = pair
            if opens:
                starts.setdefault(name, s.at)
            elif name in starts:
                out.append((starts.pop(name), s.at))
        out.extend((start, end) for start in starts.values())
        return out


def _paused(state: _State, start: datetime, end: datetime) -> timedelta:
    """The length of the union of the paused intervals within ``[start, end]``."""
    clipped = sorted(
        (max(a, start), min(b, end)) for a, b in state.intervals(end) if min(b, end) > max(a, start)
    )
    total, cursor = timedelta(0), start
    for begin, finish in clipped:
        begin = max(begin, cursor)  # noqa: PLW2901 - what an overlap leaves of the interval
        if finish > begin:
            total += finish - begin
            cursor = finish
    return total


def _end_of_day_after(at: datetime, days: int) -> datetime:
    """China's midnight closing the ``days``-th day after the day (in China) of ``at``."""
    day = at.astimezone(COUNTY_TZ).date() + timedelta(days=days + 1)
    return datetime.combine(day, time(0), COUNTY_TZ).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - some day of every month exists


def _when(step: CaseStep | None) -> datetime | None:
    return None if step is None else step.at


def _days(delta: timedelta) -> float:
    return round(max(delta, timedelta(0)) / _DAY, 1)


def _deadline(  # noqa: PLR0917 - one deadline's facts read best in a row
    step: str,
    kind: str,
    basis: str,
    starts: datetime | None,
    due: datetime | None,
    done: datetime | None,
    now: datetime,
    *,
    active: bool,
    **days: Any,
) -> DeadlineView:
    late = kind != "waiting" and done is not None and due is not None and done >= due
    overdue = kind == "duty" and active and done is None and due is not None and now >= due
    return DeadlineView(step, kind, basis, starts, due, done, late, overdue, **days)


# -- order ---------------------------------------------------------------------------------------
def _penalty_ready(row: CasePenalty | None) -> bool:
    return row is not None and bool(row.violations) and bool(row.fines or row.measures)


def _before_decision(case: Case, state: _State) -> list[StepKind]:
    if state.first(StepKind.INVESTIGATION) is None:
        return [StepKind.INVESTIGATION]
    out = []
    reviewed = state.legal_review is not None
    discussed = state.first(StepKind.COLLECTIVE_DISCUSSION) is not None
    if not reviewed:
        out.append(StepKind.LEGAL_REVIEW)
    elif not discussed:
        out.append(StepKind.COLLECTIVE_DISCUSSION)
    review_done = not case.major or (reviewed and discussed)
    notice = state.last(StepKind.NOTICE)
    if review_done and notice is None:
        out.append(StepKind.NOTICE)
    if notice is not None:
        if state.first(StepKind.STATEMENT) is None:
            out.append(StepKind.STATEMENT)
        requested = state.first(StepKind.HEARING_REQUESTED)
        notified = state.first(StepKind.HEARING_NOTIFIED)
        if notice.details.get("hearing_rights") and requested is None:
            out.append(StepKind.HEARING_REQUESTED)
        if requested is not None and notified is None:
            out.append(StepKind.HEARING_NOTIFIED)
        if notified is not None and state.first(StepKind.HEARING_HELD) is None:
            out.append(StepKind.HEARING_HELD)
    if review_done:
        out.append(StepKind.DECISION)
    # more investigation may always come; the step expected next is named first
    out.append(StepKind.INVESTIGATION)
    return out


def _after_decision(decision: CaseStep, state: _State) -> list[StepKind]:
    if state.first(StepKind.SERVICE) is None:
        return [StepKind.SERVICE]
    out = []
    if decision.details.get("option") == DecisionOption.PENALTY.value:
        out.append(StepKind.EXECUTION)
        if state.first(StepKind.COURT_ENFORCEMENT) is None:
            out.append(StepKind.COURT_ENFORCEMENT)
    out.append(StepKind.CLOSING)
    return out


def _next_steps(case: Case, state: _State) -> list[StepKind]:
    """The steps the procedure allows now."""
    status = CaseStatus(case.status)
    decision = state.first(StepKind.DECISION)
    if status.is_final:
        return []
    if status is CaseStatus.SUSPENDED:
        back = [StepKind.RESUME, StepKind.TERMINATE]
        return back if decision is not None else [*back, StepKind.WITHDRAW]
    out: list[StepKind] = []
    if state.first(StepKind.FILING) is None:
        out.append(StepKind.FILING)
        if state.first(StepKind.CLUE) is None:
            out.append(StepKind.CLUE)
        out.append(StepKind.WITHDRAW)
    elif decision is None:
        out += _before_decision(case, state)
        out.append(StepKind.CLOCK_RESUME if state.open_pause else StepKind.CLOCK_PAUSE)
        out.append(
            StepKind.EXTENSION_APPROVAL if state.pending_extension else StepKind.EXTENSION_REQUEST
        )
        out += [StepKind.SUSPEND, StepKind.TERMINATE, StepKind.WITHDRAW]
    else:
        out += _after_decision(decision, state)
        out += [StepKind.SUSPEND, StepKind.TERMINATE]
    if status is CaseStatus.REFERRED:
        out = [k for k in out if k not in _MOVING]
    return out


def _stage(state: _State) -> Stage:
    for s in reversed(state.steps):
        stage = _STAGES.get(StepKind(s.kind))
        if stage is not None:
            return stage
    return Stage.CLUE


# -- validation ----------------------------------------------------------------------------------
def _bad(detail: str, code: str = codes.INVALID_CASE_STEP, **extra: Any) -> InvalidCaseStepError:
    return InvalidCaseStepError(detail, code=code, **extra)


def _text(value: str, name: str, limit: int = 4000, *, required: bool = False) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        code = codes.REASON_REQUIRED if name == "reason" else codes.INVALID_CASE_STEP
        raise _bad(f"{name} must not be empty", code, field=name)
    if len(cleaned) > limit:
        raise _bad(f"{name} is longer than {limit}", field=name)
    return cleaned


def _enum(kind: Any, value: str | None, name: str) -> str:
    try:
        return str(kind(value).value)
    except ValueError as exc:
        allowed = ", ".join(v.value for v in kind)
        raise _bad(f"{name} must be one of {allowed}", field=name) from exc


def _out_of_order(kind: StepKind, allowed: Sequence[StepKind], **extra: Any) -> ConflictError:
    expected = [k.value for k in allowed]
    return CaseStepOrderError(
        f"{kind.value} is not possible now; allowed: {', '.join(expected) or 'nothing'}",
        expected_step=expected[0] if expected else "",
        expected_steps=expected,
        step=kind.value,
        **extra,
    )


def _area(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if not 0 <= value <= 1e10:
        raise _bad(f"{name} must be a number of m², at least 0", field=name)
    return round(float(value), 2)


# -- the service ---------------------------------------------------------------------------------
class ProcedureService:
    """One request's access to the procedure of cases (one session, committed by the
    caller); ``clock`` is what "now" is (the app's clock in tests and drills)."""

    def __init__(
        self,
        session: AsyncSession,
        settings: ProcedureSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
        custody: CustodyLog | None = None,
    ) -> None:
        self.session = session
        self._settings = settings
        self._clock = clock
        self._custody = custody  # audits the procuratorate's reads (evidence.cases.supervision)

    async def _state(self, case: Case) -> _State:
        rows = await self.session.scalars(
            select(CaseStep).where(CaseStep.case_id == case.id).order_by(CaseStep.seq)
        )
        return _State(list(rows.all()))

    # -- reading ---------------------------------------------------------------------------------
    async def list_steps(self, principal: Principal, case_id: uuid.UUID) -> list[StepView]:
        """The case's steps in order (whoever may read the case)."""
        case = await load_case(self.session, principal, case_id)
        steps = [_step_view(s) for s in (await self._state(case)).steps]
        await audit_read(
            self.session, self._custody, principal,
            operation="list_case_steps", ids=[case.id], subject_id=case.id, at=self._clock(),
        )  # fmt: skip
        return steps

    async def get_procedure(
        self, principal: Principal, case_id: uuid.UUID, *, audit: bool = True
    ) -> ProcedureView:
        """The stage, every deadline, the steps allowed next and the penalty content.
        ``audit=False``: read on the way to something that is itself on record (a document
        generated into a package export), not a read of its own."""
        case = await load_case(self.session, principal, case_id)
        view = await self._view(principal, case, await self._state(case))
        if not audit:
            return view
        await audit_read(
            self.session, self._custody, principal,
            operation="read_procedure", ids=[case.id], subject_id=case.id, at=self._clock(),
        )  # fmt: skip
        return view

    async def _view(self, principal: Principal, case: Case, state: _State) -> ProcedureView:
        now = self._clock()
        penalty = await self.session.get(CasePenalty, case.id)
        decision = state.first(StepKind.DECISION)
        pause = state.open_pause
        return ProcedureView(
            case_id=case.id,
            case_no=case.case_no,
            status=case.status,
            stage=_stage(state).value,
            major=case.major,
            decision_option=None if decision is None else decision.details.get("option"),
            paused_for=None if pause is None else pause.details.get("reason_kind"),
            deadlines=tuple(await self._deadlines(case, state, penalty, now)),
            next_steps=tuple(k.value for k in _next_steps(case, state)),
            penalty=None if penalty is None else penalty_view(penalty, principal),
            steps=len(state.steps),
        )

    async def _source_time(self, case: Case, state: _State) -> datetime:
        clue = state.first(StepKind.CLUE)
        if clue is not None:
            return clue.at
        if case.source_kind == SourceKind.FINDING.value and case.source_id is not None:
            found = await self.session.scalar(
                select(Finding.found_at).where(Finding.id == case.source_id)
            )
            if found is not None:
                return found
        return case.created_at

    async def _deadlines(
        self, case: Case, state: _State, penalty: CasePenalty | None, now: datetime
    ) -> list[DeadlineView]:
        status = CaseStatus(case.status)
        active = not status.is_final and status not in (CaseStatus.SUSPENDED, CaseStatus.REFERRED)
        out = []
        source = await self._source_time(case, state)
        calendar = await load_calendar(
            self.session, case.county_id, source.astimezone(COUNTY_TZ).date()
        )
        days = self._settings.filing_working_days
        filing = state.first(StepKind.FILING)
        out.append(
            _deadline(
                "filing", "duty", f"立案：发现之日起{days}个工作日内", source,
                due_at(source, days, calendar), _when(filing), now, active=active,
            )
        )  # fmt: skip
        if filing is None:
            return out
        decision = state.first(StepKind.DECISION)
        end = decision.at if decision is not None else max(now, filing.at)
        paused = _paused(state, filing.at, end)
        allowed = DECISION_DAYS + state.extension_days
        out.append(
            _deadline(
                "decision", "duty", "行政处罚法第六十条：立案之日起九十日内作出决定",
                filing.at, _end_of_day_after(filing.at, allowed) + paused,
                _when(decision), now, active=active and state.open_pause is None,
                days_allowed=allowed, days_counted=_days(end - filing.at - paused),
                days_paused=_days(paused),
            )
        )  # fmt: skip
        out += self._party_windows(state, now)
        if decision is not None:
            out += self._after_decision(decision, state, penalty, now, active=active)
        return out

    @staticmethod
    def _party_windows(state: _State, now: datetime) -> list[DeadlineView]:
        notice = state.first(StepKind.NOTICE)
        if notice is None:
            return []
        due = _end_of_day_after(notice.at, STATEMENT_DAYS)
        statement = state.first(StepKind.STATEMENT)
        out = [
            _deadline(
                "statement", "party", "行政处罚法第六十二条：告知后五日内陈述申辩", notice.at,
                due, _when(statement), now, active=True,
            )
        ]  # fmt: skip
        if notice.details.get("hearing_rights"):
            requested = state.first(StepKind.HEARING_REQUESTED)
            out.append(
                _deadline(
                    "hearing_requested", "party", "行政处罚法第六十四条：告知后五日内申请听证",
                    notice.at, due, _when(requested), now, active=True,
                )
            )  # fmt: skip
        return out

    @staticmethod
    def _after_decision(
        decision: CaseStep,
        state: _State,
        penalty: CasePenalty | None,
        now: datetime,
        *,
        active: bool,
    ) -> list[DeadlineView]:
        service = state.first(StepKind.SERVICE)
        out = [
            _deadline(
                "service", "duty", "行政处罚法第六十一条：当事人不在场的，七日内送达",
                decision.at, _end_of_day_after(decision.at, SERVICE_DAYS),
                _when(service), now, active=active,
            )
        ]  # fmt: skip
        if service is not None and decision.details.get("option") == DecisionOption.PENALTY.value:
            enforcement = state.first(StepKind.COURT_ENFORCEMENT)
            earliest, basis = _enforcement_window(service, penalty)
            out.append(
                _deadline(
                    "court_enforcement", "waiting", basis, service.at, earliest,
                    _when(enforcement), now, active=active,
                )
            )  # fmt: skip
        return out

    # -- penalty ---------------------------------------------------------------------------------
    async def put_penalty(
        self, principal: Principal, case_id: uuid.UUID, data: PenaltyInput
    ) -> PenaltyView:
        return await put_penalty(
            self.session, principal, case_id, data, settings=self._settings, now=self._clock()
        )

    # -- recording -------------------------------------------------------------------------------
    async def record_step(
        self, principal: Principal, case_id: uuid.UUID, data: StepInput
    ) -> StepView:
        """Record one step: its order checked, its rules applied, the coarse status moved
        where the step implies it, and its overdue alert (if any) resolved."""
        require_role(principal, *_WRITERS, action="record case steps")
        kind = StepKind(_enum(StepKind, data.kind, "kind"))
        case = await load_case(self.session, principal, case_id, for_update=True)
        if kind in _TEAM_STEPS:
            await ensure_writer(self.session, principal, case)
        else:
            require_role(principal, *MANAGERS, action=f"record the {kind.value} step")
        ensure_unfinished(case)
        state = await self._state(case)
        allowed = _next_steps(case, state)
        if kind not in allowed:
            raise _out_of_order(kind, allowed)
        now = self._clock()
        at = self._at(data.at, state, now)
        penalty = await self.session.get(CasePenalty, case.id)
        details = await self._details(principal, case, state, penalty, kind, data, at)
        step = CaseStep(
            county_id=case.county_id,
            case_id=case.id,
            seq=len(state.steps) + 1,
            kind=kind.value,
            stage=_STAGES.get(kind, Stage.SIDE).value,
            at=at,
            recorded_by=principal.user_id,
            recorded_at=now,
            details=details,
        )
        self.session.add(step)
        self._move(case, kind, principal, at, details)
        await self._resolve(case, kind, at)
        await self.session.flush()
        return _step_view(step)

    @staticmethod
    def _at(value: datetime | None, state: _State, now: datetime) -> datetime:
        at = now if value is None else value
        if at.tzinfo is None:
            raise _bad("at must carry a UTC offset", codes.INVALID_TIME, field="at")
        if at > now + _FUTURE_TOLERANCE:
            raise _bad("at is in the future", codes.INVALID_TIME, field="at")
        if state.steps and at < state.steps[-1].at:
            raise _bad(
                "a step cannot come before the case's previous step",
                codes.INVALID_TIME,
                field="at",
                previous=state.steps[-1].at.isoformat(),
            )
        return at

    def _move(
        self,
        case: Case,
        kind: StepKind,
        principal: Principal,
        at: datetime,
        details: dict[str, Any],
    ) -> None:
        current = CaseStatus(case.status)
        target: CaseStatus | None = None
        if kind in _FORWARD and current in _MAIN_LINE:
            wanted = _FORWARD[kind]
            if _MAIN_LINE.index(wanted) > _MAIN_LINE.index(current):
                target = wanted
        elif kind is StepKind.SUSPEND:
            target = CaseStatus.SUSPENDED
        elif kind is StepKind.RESUME and case.suspended_from:
            target = CaseStatus(case.suspended_from)
        elif kind is StepKind.TERMINATE:
            target = CaseStatus.TERMINATED
        elif kind is StepKind.WITHDRAW:
            target = CaseStatus.WITHDRAWN
        if target is not None and target is not current:
            move_status(
                self.session, case, target, principal.user_id, at=at,
                reason=str(details.get("reason", "")), step=kind.value,
            )  # fmt: skip

    async def _resolve(self, case: Case, kind: StepKind, at: datetime) -> None:
        if kind.value in _DUTIES:
            keys = [_alert_key(case.id, kind.value)]
        elif kind in (StepKind.CLOSING, StepKind.TERMINATE, StepKind.WITHDRAW):
            keys = [_alert_key(case.id, d) for d in _DUTIES]
        else:
            return
        await resolve_alerts(
            self.session,
            county_id=case.county_id,
            where=PatrolAlert.dedupe_key.in_(keys),
            resolution="case_step_done",
            at=at,
        )

    async def _details(  # noqa: C901, PLR0912, PLR0917 - one branch per step kind
        self,
        principal: Principal,
        case: Case,
        state: _State,
        penalty: CasePenalty | None,
        kind: StepKind,
        d: StepInput,
        at: datetime,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"note": _text(d.note, "note")} if d.note.strip() else {}
        if kind is StepKind.FILING:
            out["approval_no"] = _text(d.approval_no, "approval_no", 60)
        elif kind in (StepKind.INVESTIGATION, StepKind.HEARING_HELD, StepKind.CLOSING):
            out["summary"] = _text(d.summary, "summary", required=kind is StepKind.INVESTIGATION)
            if kind is StepKind.INVESTIGATION and d.evidence_ids:
                ids = await check_evidence(self.session, principal, d.evidence_ids)
                out["evidence_ids"] = [str(i) for i in ids]
            if kind is StepKind.HEARING_HELD:
                self._check_held(state, at)
            if kind is StepKind.CLOSING:
                self._check_closing(state, penalty)
        elif kind is StepKind.LEGAL_REVIEW:
            out["passed"] = d.passed
            out["opinion"] = _text(d.opinion, "opinion", required=True)
        elif kind is StepKind.COLLECTIVE_DISCUSSION:
            out["conclusion"] = _text(d.conclusion, "conclusion", required=True)
            out["participants"] = [_text(p, "participants", 50) for p in d.participants]
        elif kind is StepKind.NOTICE:
            if not _penalty_ready(penalty):
                raise ConflictError(
                    "a notice states the intended penalty: enter it first",
                    code=codes.PENALTY_REQUIRED,
                )
            assert penalty is not None
            out["hearing_rights"] = penalty.hearing_triggered
        elif kind is StepKind.STATEMENT:
            out["waived"] = d.waived
            out["summary"] = _text(d.summary, "summary")
        elif kind is StepKind.HEARING_REQUESTED:
            self._check_request(state, at)
        elif kind is StepKind.HEARING_NOTIFIED:
            out.update(self._hearing_notice(d, at))
        else:
            out.update(await self._later_details(case, state, penalty, kind, d, at))
        return out

    async def _later_details(  # noqa: PLR0917 - the rest of _details
        self,
        case: Case,
        state: _State,
        penalty: CasePenalty | None,
        kind: StepKind,
        d: StepInput,
        at: datetime,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if kind is StepKind.DECISION:
            out.update(self._decision(case, state, penalty, d, at))
        elif kind is StepKind.SERVICE:
            out["method"] = _enum(ServiceMethod, d.method, "method")
            out["party_present"] = d.party_present
        elif kind is StepKind.EXECUTION:
            out.update(self._execution(d, at))
        elif kind is StepKind.COURT_ENFORCEMENT:
            service = state.first(StepKind.SERVICE)
            assert service is not None
            earliest, _ = _enforcement_window(service, penalty)
            if at < earliest:
                raise ConflictError(
                    "court enforcement comes after the party's time to sue",
                    code=codes.ENFORCEMENT_TOO_EARLY,
                    earliest=earliest.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M"),
                )
            out["court"] = _text(d.court, "court", 200, required=True)
            out["ruling"] = _text(d.ruling, "ruling")
        elif kind is StepKind.CLOCK_PAUSE:
            out["reason_kind"] = _enum(PauseReason, d.reason_kind, "reason_kind")
            out["reason"] = _text(d.reason, "reason")
        elif kind in (StepKind.SUSPEND, StepKind.TERMINATE, StepKind.WITHDRAW):
            out["reason"] = _text(d.reason, "reason", required=True)
        elif kind is StepKind.EXTENSION_REQUEST:
            out["days"] = self._extension_days(d.days)
            out["reason"] = _text(d.reason, "reason", required=True)
        elif kind is StepKind.EXTENSION_APPROVAL:
            requested = state.pending_extension
            assert requested is not None
            wanted = int(requested.details["days"])
            days = wanted if d.days is None else self._extension_days(d.days)
            if days > wanted:
                raise _bad("an approval grants at most the days asked for", field="days")
            out["approved"] = d.approved
            out["days"] = days if d.approved else 0
        return out

    @staticmethod
    def _extension_days(days: int | None) -> int:
        if days is None or not 1 <= days <= DECISION_DAYS:
            raise _bad(f"days must be 1 to {DECISION_DAYS}", field="days")
        return days

    @staticmethod
    def _check_request(state: _State, at: datetime) -> None:
        notice = state.last(StepKind.NOTICE)
        assert notice is not None
        due = _end_of_day_after(notice.at, STATEMENT_DAYS)
        if at >= due:
            raise ConflictError(
                "a hearing is requested within 5 days of the notice",
                code=codes.HEARING_REQUEST_LATE,
                due=due.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M"),
            )

    @staticmethod
    def _hearing_notice(d: StepInput, at: datetime) -> dict[str, Any]:
        if d.hearing_on is None:
            raise _bad("hearing_on (the hearing's date) is required", field="hearing_on")
        earliest = at.astimezone(COUNTY_TZ).date() + timedelta(days=HEARING_NOTICE_DAYS)
        if d.hearing_on < earliest:
            raise _bad(
                "the hearing is notified at least 7 days before it is held",
                codes.HEARING_NOTICE_TOO_SHORT,
                field="hearing_on",
                earliest=earliest.isoformat(),
            )
        return {"hearing_on": d.hearing_on.isoformat(), "place": _text(d.place, "place", 200)}

    @staticmethod
    def _check_held(state: _State, at: datetime) -> None:
        notified = state.first(StepKind.HEARING_NOTIFIED)
        assert notified is not None
        if at.astimezone(COUNTY_TZ).date() < date.fromisoformat(notified.details["hearing_on"]):
            raise _bad(
                "the hearing is held on the notified date or later",
                codes.INVALID_TIME,
                field="at",
                hearing_on=notified.details["hearing_on"],
            )

    @staticmethod
    def _decision(
        case: Case, state: _State, penalty: CasePenalty | None, d: StepInput, at: datetime
    ) -> dict[str, Any]:
        option = DecisionOption(_enum(DecisionOption, d.option, "option"))
        if case.major and (
            state.legal_review is None or state.first(StepKind.COLLECTIVE_DISCUSSION) is None
        ):
            missing = StepKind.LEGAL_REVIEW if state.legal_review is None else (
                StepKind.COLLECTIVE_DISCUSSION
            )  # fmt: skip
            raise _out_of_order(StepKind.DECISION, [missing], major=True)
        out: dict[str, Any] = {
            "option": option.value,
            "decision_no": _text(d.decision_no, "decision_no", 60),
        }
        if option is DecisionOption.TRANSFER:
            out["transfer_to"] = _text(d.transfer_to, "transfer_to", 200, required=True)
        if option is not DecisionOption.PENALTY:
            return out
        if not _penalty_ready(penalty):
            raise ConflictError(
                "a penalty decision needs the penalty content", code=codes.PENALTY_REQUIRED
            )
        notice = state.last(StepKind.NOTICE)
        if notice is None:
            raise _out_of_order(StepKind.DECISION, [StepKind.NOTICE])
        window_over = at >= _end_of_day_after(notice.at, STATEMENT_DAYS)
        if state.first(StepKind.STATEMENT) is None and not window_over:
            raise _out_of_order(StepKind.DECISION, [StepKind.STATEMENT])
        requested = state.first(StepKind.HEARING_REQUESTED)
        if requested is not None and state.first(StepKind.HEARING_HELD) is None:
            wanted = StepKind.HEARING_NOTIFIED
            if state.first(StepKind.HEARING_NOTIFIED) is not None:
                wanted = StepKind.HEARING_HELD
            raise _out_of_order(StepKind.DECISION, [wanted])
        if notice.details.get("hearing_rights") and requested is None and not window_over:
            raise _out_of_order(StepKind.DECISION, [StepKind.HEARING_REQUESTED])
        assert penalty is not None
        out["fine_total_yuan"] = str(penalty.fine_total_yuan)
        out["measures"] = [m["kind"] for m in penalty.measures]
        return out

    @staticmethod
    def _execution(d: StepInput, at: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if d.paid_yuan is not None:
            if not d.paid_yuan.is_finite() or d.paid_yuan <= 0:
                raise _bad(
                    "paid_yuan must be an amount of yuan", codes.INVALID_AMOUNT, field="paid_yuan"
                )
            out["paid_yuan"] = str(d.paid_yuan.quantize(Decimal("0.01")))
            out["paid_on"] = (d.paid_on or at.astimezone(COUNTY_TZ).date()).isoformat()
        if (v := _area(d.demolished_m2, "demolished_m2")) is not None:
            out["demolished_m2"] = v
        if (v := _area(d.farmland_restored_m2, "farmland_restored_m2")) is not None:
            out["farmland_restored_m2"] = v
        if d.land_returned:
            out["land_returned"] = True
            out["right_holder_confirmed"] = d.right_holder_confirmed
        if not out:
            raise _bad("an execution record states what was done (paid, demolished, ...)")
        return out

    @staticmethod
    def _check_closing(state: _State, penalty: CasePenalty | None) -> None:
        decision = state.first(StepKind.DECISION)
        assert decision is not None
        if decision.details.get("option") != DecisionOption.PENALTY.value or penalty is None:
            return
        runs = [s.details for s in state.steps if s.kind == StepKind.EXECUTION.value]
        court = state.first(StepKind.COURT_ENFORCEMENT) is not None
        kinds = {MeasureKind(m["kind"]) for m in penalty.measures}
        missing = []
        paid = sum((Decimal(r.get("paid_yuan") or 0) for r in runs), Decimal(0))
        if paid < penalty.fine_total_yuan and not court:
            missing.append("fine_paid")
        demolished = any(r.get("demolished_m2") for r in runs)
        if MeasureKind.DEMOLISH in kinds and not court and not demolished:
            missing.append("demolition")
        if (
            MeasureKind.RESTORE_FARMLAND in kinds
            and not court
            and not any(r.get("farmland_restored_m2") for r in runs)
        ):
            missing.append("farmland_restored")
        if MeasureKind.RETURN_LAND in kinds and not any(
            r.get("land_returned") and r.get("right_holder_confirmed") for r in runs
        ):
            # 结案: the occupation removed and the right-holder's written confirmation
            missing.append("right_holder_confirmation")
        if missing:
            raise ConflictError(
                "the decision is not carried out yet",
                code=codes.CLOSING_REQUIREMENTS_UNMET,
                missing=", ".join(missing),
                items=missing,
            )


def _enforcement_window(service: CaseStep, penalty: CasePenalty | None) -> tuple[datetime, str]:
    demolition = penalty is not None and any(
        m["kind"] == MeasureKind.DEMOLISH.value for m in penalty.measures
    )
    if demolition:
        basis = "土地管理法第八十三条：送达后十五日内不起诉又不自行拆除的，申请法院强制执行"
        return _end_of_day_after(service.at, DEMOLITION_SUIT_DAYS), basis
    day = _add_months(service.at.astimezone(COUNTY_TZ).date(), LITIGATION_MONTHS)
    earliest = datetime.combine(day + _DAY, time(0), COUNTY_TZ).astimezone(UTC)
    return earliest, "行政诉讼法第四十六条：起诉期限六个月届满后申请法院强制执行"


def _step_view(s: CaseStep) -> StepView:
    return StepView(
        id=s.id,
        case_id=s.case_id,
        seq=s.seq,
        kind=s.kind,
        stage=s.stage,
        at=s.at,
        recorded_by=s.recorded_by,
        recorded_at=s.recorded_at,
        details=dict(s.details or {}),
        document_id=s.document_id,
    )


def _alert_key(case_id: uuid.UUID, step: str) -> str:
    return f"{CASE_STEP_OVERDUE}:{case_id}:{step}"


# -- the periodic check --------------------------------------------------------------------------
async def raise_overdue_alerts(
    session: AsyncSession, now: datetime, settings: ProcedureSettings
) -> tuple[int, int]:
    """Raise a ``case_step_overdue`` alert for each overdue duty (filing, decision, service)
    of every county's open cases (one per case and step), and resolve those whose due time
    moved past now. Returns (raised, resolved)."""
    open_statuses = [
        s.value
        for s in (CaseStatus.CLUE, CaseStatus.FILED, CaseStatus.INVESTIGATING, CaseStatus.DECIDED)
    ]
    cases = (
        await session.scalars(
            select(Case).where(Case.status.in_(open_statuses)).order_by(Case.county_id, Case.id)
        )
    ).all()
    service = ProcedureService(session, settings, clock=lambda: now)
    raised = resolved = 0
    for case in cases:
        deadlines = await service._deadlines(
            case,
            await service._state(case),
            None,
            now,
        )
        for d in deadlines:
            if d.step not in _DUTIES:
                continue
            key = _alert_key(case.id, d.step)
            if d.overdue and d.due_at is not None:
                due = d.due_at.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")
                raised += await raise_alert(
                    session,
                    county_id=case.county_id,
                    kind=CASE_STEP_OVERDUE,
                    severity="medium",
                    dedupe_key=key,
                    params={"case_no": case.case_no, "step": d.step, "due": due},
                    raised_at=now,
                )
            elif d.done_at is None:
                resolved += await resolve_alerts(
                    session,
                    county_id=case.county_id,
                    where=PatrolAlert.dedupe_key == key,
                    resolution="no_longer_overdue",
                    at=now,
                )
    return raised, resolved


async def count_steps(session: AsyncSession, case_id: uuid.UUID) -> int:
    """How many steps the case has (the demo's idempotence check)."""
    return int(
        await session.scalar(
            select(func.count()).select_from(CaseStep).where(CaseStep.case_id == case_id)
        )
        or 0
    )
