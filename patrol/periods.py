"""Reporting periods: an ISO week, a month, a quarter, a half-year, a year, or a date range.

One parser for every figure and report (tip-off and petition figures, the statistics, the
reports): ``period`` with a ``date`` inside it, or ``from`` and ``to`` (inclusive China days).
A period knows the one before it and the same period a year earlier, for comparisons::

    p = period_of("quarter", date(2026, 11, 18))   # 2026-10-01 .. 2026-12-31, "2026-Q4"
    p.previous().key, p.last_year().key              # "2026-Q3", "2025-Q4"

Weeks are ISO 8601 weeks (Monday first; a week belongs to the year of its Thursday), so the
same week last year is the week with the same number (week 53 becomes week 52 in a year that
has none). A range's previous period is the range of the same length just before it; a range
last year is the same dates a year earlier (29 February becomes the 28th).

A bad combination raises :class:`ValueError`; each caller turns it into its own error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["PERIOD_KINDS", "Period", "parse_period", "period_of"]

PERIOD_KINDS = ("week", "month", "quarter", "half", "year")
_RANGE = "range"
_HALF_NAMES = ("上半年", "下半年")
_QUARTER_NAMES = ("第一季度", "第二季度", "第三季度", "第四季度")


def _month_end(year: int, month: int) -> date:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _minus_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True, slots=True)
class Period:
    """``start`` to ``end`` (inclusive China days) of a ``kind`` (one of
    :data:`PERIOD_KINDS`, or ``range``)."""

    kind: str
    start: date
    end: date

    @property
    def key(self) -> str:
        """``2026-W47``, ``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026`` or
        ``2026-01-05..2026-02-10``."""
        s = self.start
        if self.kind == "week":
            year, week, _ = s.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{s:%Y-%m}"
        if self.kind == "quarter":
            return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        if self.kind == "half":
            return f"{s.year}-H{1 if s.month < 7 else 2}"
        if self.kind == "year":
            return str(s.year)
        return f"{s.isoformat()}..{self.end.isoformat()}"

    @property
    def label(self) -> str:
        """The period as a Chinese heading: ``2026年第47周``, ``2026年11月``,
        ``2026年第四季度``, ``2026年下半年``, ``2026年``, ``2026年1月5日至2026年2月10日``."""
        s = self.start
        if self.kind == "week":
            year, week, _ = s.isocalendar()
            return f"{year}年第{week}周"
        if self.kind == "month":
            return f"{s.year}年{s.month}月"
        if self.kind == "quarter":
            return f"{s.year}年{_QUARTER_NAMES[(s.month - 1) // 3]}"
        if self.kind == "half":
            return f"{s.year}年{_HALF_NAMES[0 if s.month < 7 else 1]}"
        if self.kind == "year":
            return f"{s.year}年"
        e = self.end
        return f"{s.year}年{s.month}月{s.day}日至{e.year}年{e.month}月{e.day}日"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period just before (a range: the same number of days)."""
        if self.kind == _RANGE:
            return Period(_RANGE, self.start - timedelta(days=self.days), self.start - timedelta(1))
        return period_of(self.kind, self.start - timedelta(days=1))

    def last_year(self) -> Period:
        """The same period a year earlier."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            try:
                monday = date.fromisocalendar(year - 1, week, 1)
            except ValueError:  # week 53 in a year of 52 weeks
                monday = date.fromisocalendar(year - 1, 52, 1)
            return period_of("week", monday)
        if self.kind == _RANGE:
            return Period(_RANGE, _minus_year(self.start), _minus_year(self.end))
        return period_of(self.kind, _minus_year(self.start))

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as aware UTC times ``[start, end)`` from midnight of its first day to
        midnight after its last day, in ``tz``."""
        lo = datetime.combine(self.start, time(0), tz).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(UTC)
        return lo, hi


def period_of(kind: str, day: date) -> Period:
    """The period of ``kind`` containing ``day``."""
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=6))
    if kind == "month":
        return Period(kind, day.replace(day=1), _month_end(day.year, day.month))
    if kind == "quarter":
        first = (day.month - 1) // 3 * 3 + 1
        return Period(kind, date(day.year, first, 1), _month_end(day.year, first + 2))
    if kind == "half":
        first = 1 if day.month < 7 else 7
        return Period(kind, date(day.year, first, 1), _month_end(day.year, first + 5))
    if kind == "year":
        return Period(kind, date(day.year, 1, 1), date(day.year, 12, 31))
    msg = f"period must be one of {', '.join(PERIOD_KINDS)}"
    raise ValueError(msg)


def parse_period(
    period: str | None,
    day: date | None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Period:
    """``period`` with ``day``, or ``date_from`` and ``date_to`` (not after each other);
    anything else raises :class:`ValueError`."""
    if period is not None and day is not None and date_from is None and date_to is None:
        return period_of(period, day)
    if period is None and day is None and date_from is not None and date_to is not None:
        if date_from > date_to:
            msg = "from is after to"
            raise ValueError(msg)
        return Period(_RANGE, date_from, date_to)
    msg = "give period and date, or from and to"
    raise ValueError(msg)
