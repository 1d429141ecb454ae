"""Working days: the week, the county's holidays and its make-up working days (调休).

A day is a working day when it is a make-up working day, or a Monday to Friday that is not a
holiday. "Within N working days" of a day D counts from the working day after D: the step is
due by the end of the Nth working day after D (China's midnight, :func:`due_at`), and a step
done at or after that instant is late.

The county admin keeps the calendar (``PutHoliday``, ``DeleteHoliday``); deadlines are
computed when a clue is registered, with the calendar of that moment, and stored with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.errors import HolidayNotFoundError, InvalidTipOffError
from evidence.cases.tip_off_models import CalendarDayKind, WorkCalendarDay
from infra import error_codes as codes
from infra.db import utcnow
from infra.scope import COUNTY_TZ, Principal, Role, require_role, scoped

__all__ = [
    "CALENDAR_EDITORS",
    "CALENDAR_READERS",
    "CalendarDayView",
    "WorkCalendar",
    "add_working_days",
    "delete_calendar_day",
    "due_at",
    "list_calendar_days",
    "load_calendar",
    "put_calendar_day",
]

CALENDAR_READERS = (Role.CLUE_DESK, Role.CAPTAIN, Role.ADMIN)
CALENDAR_EDITORS = (Role.ADMIN,)


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Holidays (weekdays off) and make-up working days (weekend days worked)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


@dataclass(frozen=True, slots=True)
class CalendarDayView:
    day: date
    kind: str  # a CalendarDayKind value
    name: str


def add_working_days(start: date, days: int, calendar: WorkCalendar) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself is not counted)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    day, left = start, days
    while left:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            left -= 1
    return day


def due_at(received_at: datetime, days: int, calendar: WorkCalendar) -> datetime:
    """The end of the ``days``-th working day after the day (in China) of ``received_at``:
    China's midnight that closes it, in UTC. Done at or after it is late."""
    start = received_at.astimezone(COUNTY_TZ).date()
    last = add_working_days(start, days, calendar)
    return datetime.combine(last + timedelta(days=1), time(0), COUNTY_TZ).astimezone(UTC)


async def load_calendar(session: AsyncSession, county_id: uuid.UUID, since: date) -> WorkCalendar:
    """The county's calendar from ``since`` on."""
    rows = (
        await session.execute(
            select(WorkCalendarDay.day, WorkCalendarDay.kind).where(
                WorkCalendarDay.county_id == county_id, WorkCalendarDay.day >= since
            )
        )
    ).all()
    return WorkCalendar(
        holidays=frozenset(d for d, k in rows if k == CalendarDayKind.HOLIDAY.value),
        workdays=frozenset(d for d, k in rows if k == CalendarDayKind.WORKDAY.value),
    )


async def list_calendar_days(
    session: AsyncSession,
    principal: Principal,
    *,
    since: date | None = None,
    until: date | None = None,
) -> list[CalendarDayView]:
    """The county's holidays and make-up working days, by date."""
    require_role(principal, *CALENDAR_READERS, action="read the working-day calendar")
    stmt = scoped(select(WorkCalendarDay), WorkCalendarDay, principal)
    if since is not None:
        stmt = stmt.where(WorkCalendarDay.day >= since)
    if until is not None:
        stmt = stmt.where(WorkCalendarDay.day <= until)
    rows = (await session.scalars(stmt.order_by(WorkCalendarDay.day))).all()
    return [CalendarDayView(r.day, r.kind, r.name) for r in rows]


async def put_calendar_day(
    session: AsyncSession, principal: Principal, day: date, kind: str, name: str = ""
) -> CalendarDayView:
    """Mark ``day`` a holiday (a weekday) or a make-up working day (a weekend day)."""
    require_role(principal, *CALENDAR_EDITORS, action="change the working-day calendar")
    try:
        kind = CalendarDayKind(kind).value
    except ValueError as exc:
        raise InvalidTipOffError(
            "kind must be holiday or workday", code=codes.INVALID_CALENDAR_DAY, field="kind"
        ) from exc
    weekend = day.weekday() >= 5
    if (kind == CalendarDayKind.HOLIDAY.value) == weekend:
        raise InvalidTipOffError(
            "a holiday falls on a weekday, a make-up working day on a weekend",
            code=codes.INVALID_CALENDAR_DAY,
            day=day.isoformat(),
            kind=kind,
        )
    name = name.strip()[:100]
    stmt = (
        insert(WorkCalendarDay)
        .values(
            county_id=principal.county_id,
            day=day,
            kind=kind,
            name=name,
            updated_by=principal.user_id,
            updated_at=utcnow(),
        )
        .on_conflict_do_update(
            index_elements=["county_id", "day"],
            set_={"kind": kind, "name": name, "updated_by": principal.user_id},
        )
    )
    await session.execute(stmt)
    return CalendarDayView(day, kind, name)


async def delete_calendar_day(session: AsyncSession, principal: Principal, day: date) -> None:
    """The day follows the week again (404 ``holiday_not_found`` if it had no entry)."""
    require_role(principal, *CALENDAR_EDITORS, action="change the working-day calendar")
    result = await session.execute(
        delete(WorkCalendarDay)
        .where(WorkCalendarDay.county_id == principal.county_id, WorkCalendarDay.day == day)
        .returning(WorkCalendarDay.day)
    )
    if result.first() is None:
        raise HolidayNotFoundError("no calendar entry for this day", day=day.isoformat())
