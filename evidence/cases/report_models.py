"""Reports as documents: one row per county, template and period, its files in the object
store.

``reports`` holds what was asked (template, period, who, when), the state of its generation
(``queued`` → ``running`` → ``done`` or ``failed``, with the error), how many times it was
generated, and the files of the last generation (``files``: format → object key, size,
SHA-256 and file name). Asking again for the same template and period regenerates the same
report (a new generation, new object keys).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, CountyOwned, Timestamped, UuidPk, utcnow

__all__ = ["TEMPLATE_PERIODS", "Report", "ReportFormat", "ReportStatus", "ReportTemplate"]


class ReportTemplate(enum.StrEnum):
    MONTHLY = "monthly"  # 执法监察大队月报
    QUARTERLY_TABLES = "quarterly_tables"  # 季度统计报表
    ANNUAL_TABLES = "annual_tables"  # 年度统计报表
    JOINT_MEETING_BULLETIN = "joint_meeting_bulletin"  # 联席会议季度通报


#: the period kind each template is made for
TEMPLATE_PERIODS: dict[str, str] = {
    ReportTemplate.MONTHLY.value: "month",
    ReportTemplate.QUARTERLY_TABLES.value: "quarter",
    ReportTemplate.ANNUAL_TABLES.value: "year",
    ReportTemplate.JOINT_MEETING_BULLETIN.value: "quarter",
}


class ReportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ReportFormat(enum.StrEnum):
    XLSX = "xlsx"
    PDF = "pdf"
    CSV = "csv"


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Report(UuidPk, CountyOwned, Timestamped, Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("county_id", "template", "period_key"),
        CheckConstraint(_in("template", ReportTemplate), name="template"),
        CheckConstraint(_in("status", ReportStatus), name="status"),
    )

    template: Mapped[str] = mapped_column(String(30))
    period_kind: Mapped[str] = mapped_column(String(8))
    period_key: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=ReportStatus.QUEUED.value)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    generated_at: Mapped[datetime | None]
    generation: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # settings of the request the document is made with (the joint meeting's members)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
