"""Periodic statistics and reports (captains and admins).

``GetStatistics``: every figure of a period (an ISO week, month, quarter, half-year, year,
or ``from``–``to``), beside the previous period and the same period last year, in total and
per township, contract area or person (``groupBy``). Each figure names the list behind it
(``link``: API path and query). ``value`` is null for a figure whose records do not exist
yet (listed in ``missing``).

Reports: one per template and period, generated in the background as XLSX, PDF and CSV
(UTF-8 with a byte-order mark), listed with their period and status, and generated anew on
demand.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import msgspec

__all__ = [
    "Report",
    "ReportCreate",
    "ReportFile",
    "ReportFormatName",
    "ReportStatusName",
    "ReportTemplateName",
    "Statistics",
    "StatisticsFigure",
    "StatisticsGroup",
    "StatisticsGroupName",
    "StatisticsPeriod",
    "StatisticsPeriodName",
    "StatisticsSectionName",
]


class StatisticsPeriodName(enum.StrEnum):
    WEEK = "week"  # ISO week, Monday first
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"  # 上半年 / 下半年
    YEAR = "year"


class StatisticsGroupName(enum.StrEnum):
    COUNTY = "county"  # the totals only
    TOWNSHIP = "township"
    AREA = "area"  # contract area (片区)
    PERSON = "person"


class StatisticsSectionName(enum.StrEnum):
    PATROLS = "patrols"
    FINDINGS = "findings"
    STOPS = "stops"
    DUTY = "duty"  # five-to-one (五包一)
    TIP_OFFS = "tip_offs"
    PETITIONS = "petitions"
    SATELLITE = "satellite"
    CASES = "cases"
    REFERRALS = "referrals"


class ReportTemplateName(enum.StrEnum):
    MONTHLY = "monthly"  # the brigade's monthly report (a month)
    QUARTERLY_TABLES = "quarterly_tables"  # the quarterly statistics tables (a quarter)
    ANNUAL_TABLES = "annual_tables"  # the annual statistics tables (a year)
    JOINT_MEETING_BULLETIN = "joint_meeting_bulletin"  # 联席会议通报 (a quarter)


class ReportStatusName(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ReportFormatName(enum.StrEnum):
    XLSX = "xlsx"
    PDF = "pdf"
    CSV = "csv"


class StatisticsPeriod(msgspec.Struct, kw_only=True, rename="camel"):
    kind: str  # a StatisticsPeriodName, or "range"
    key: str  # 2026-W47, 2026-11, 2026-Q4, 2026-H2, 2026, or 2026-01-05..2026-02-10
    label: str  # 2026年第四季度
    date_from: date
    date_to: date


class StatisticsFigure(msgspec.Struct, kw_only=True, rename="camel"):
    key: str  # section.name or section.breakdown.code (findings.construction.fully_built)
    section: StatisticsSectionName
    label: str
    unit: str
    value: float | None = None
    previous: float | None = None
    last_year: float | None = None
    link: str  # /api/v1/... the list behind the figure


class StatisticsGroup(msgspec.Struct, kw_only=True, rename="camel"):
    """One township, area or person (``key`` empty: records linked to none)."""

    key: str
    name: str
    figures: list[StatisticsFigure]


class Statistics(msgspec.Struct, kw_only=True, rename="camel"):
    period: StatisticsPeriod
    previous: StatisticsPeriod
    last_year: StatisticsPeriod
    group_by: StatisticsGroupName
    figures: list[StatisticsFigure]
    groups: list[StatisticsGroup] = msgspec.field(default_factory=list)
    missing: list[str] = msgspec.field(default_factory=list)


class ReportCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """The report of ``template`` for the period containing ``date`` (``period``, when given,
    must be the template's: monthly a month, the tables and the bulletin a quarter or a
    year)."""

    template: ReportTemplateName
    date: date
    period: StatisticsPeriodName | None = None


class ReportFile(msgspec.Struct, kw_only=True, rename="camel"):
    format: ReportFormatName
    file_name: str
    size: int
    sha256: str


class Report(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    template: ReportTemplateName
    template_label: str
    period_kind: str
    period_key: str
    period_label: str
    date_from: date
    date_to: date
    status: ReportStatusName
    requested_at: datetime
    requested_by: uuid.UUID | None = None
    started_at: datetime | None = None
    generated_at: datetime | None = None
    generation: int  # how many times generated (the files are the last generation's)
    error: str = ""
    due_on: date
    overdue: bool  # not generated and past its due date
    files: list[ReportFile] = msgspec.field(default_factory=list)
