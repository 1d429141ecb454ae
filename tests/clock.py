"""The tests' one clock: every time a test writes or compares comes from here.

Two kinds of time appear in the tests:

* **Pinned**: :data:`NOW`, and :data:`TODAY`, :data:`MONTH` and :data:`LAST_MONTH` in China's
  time, for every call that takes the time as an argument (``now=``, ``as_of=``, a month long
  past): what such a test asserts never depends on the day the suite runs.
* **Live**: :func:`now`, :func:`ago`, :func:`today` and :func:`this_month`, for stamps that the
  server compares with its own clock (a push's device time, a patrol started an hour ago, this
  month's plan). They are read afresh at each use, and days and months are China's, as the
  server counts them, so a test and the server agree on the day past midnight in China
  (16:00 UTC) and at the turn of a month.

No test reads ``datetime.now`` or ``date.today`` itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["CHINA", "LAST_MONTH", "MONTH", "NOW", "TODAY", "ago", "now", "this_month", "today"]

CHINA = ZoneInfo("Asia/Shanghai")

#: A Wednesday mid-month, 10:00 in China: after the October 2026 the coverage tests replay.
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
TODAY = NOW.astimezone(CHINA).date()
MONTH = TODAY.replace(day=1)
#: The last month complete at :data:`NOW` (October 2026).
LAST_MONTH = (MONTH - timedelta(days=1)).replace(day=1)


def now() -> datetime:
    """The real time (aware UTC): for stamps the server checks against its own clock."""
    return datetime.now(UTC)


def ago(**kw: float) -> datetime:
    """The real time less ``timedelta(**kw)`` (a negative amount is in the future)."""
    return now() - timedelta(**kw)


def today() -> date:
    """Today in China, as the server counts days."""
    return now().astimezone(CHINA).date()


def this_month() -> date:
    """The first day of this month in China, as the server counts months."""
    return today().replace(day=1)
