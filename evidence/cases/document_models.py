"""The case file's documents (案卷文书): the generated PDFs, their numbers and their scans.

* ``case_documents`` — one generated document: its kind, its number (文号), the step it
  belongs to, the stored PDF (object key, SHA-256, size, pages; the object never changes
  after), whether it carries a party's ID number, who generated it and when.
* ``case_document_counters`` — the last number given per county, kind and year: numbers are
  taken with one upsert in the generating transaction, so they have no gaps (a rolled-back
  generation gives its number back) and concurrent generations queue on the row.
* ``case_document_scans`` — a signed and stamped scan of the printed document (PDF, JPEG or
  PNG), stored as its own object, hashed and in the custody chain.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, CountyOwned, UuidPk, utcnow

__all__ = ["CaseDocument", "DocumentCounter", "DocumentKind", "DocumentScan"]


class DocumentKind(enum.StrEnum):
    FILING_APPROVAL = "filing_approval"  # 立案审批表
    INSPECTION_RECORD = "inspection_record"  # 现场勘验（检查）笔录
    INQUIRY_RECORD = "inquiry_record"  # 询问笔录
    STOP_ORDER = "stop_order"  # 责令停止违法行为通知书
    PENALTY_NOTICE = "penalty_notice"  # 行政处罚告知书
    HEARING_NOTICE = "hearing_notice"  # 听证告知书
    DECISION = "decision"  # 行政处罚决定书
    SERVICE_RECEIPT = "service_receipt"  # 送达回证
    CLOSING_APPROVAL = "closing_approval"  # 结案审批表
    REFERRAL_LETTER = "referral_letter"  # 涉嫌犯罪案件移送书


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class CaseDocument(UuidPk, CountyOwned, Base):
    __tablename__ = "case_documents"
    __table_args__ = (
        CheckConstraint(_in("kind", DocumentKind), name="kind"),
        Index("ix_case_documents_case", "case_id", "generated_at"),
        Index("uq_case_documents_doc_no", "county_id", "doc_no", unique=True),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(30))
    doc_no: Mapped[str] = mapped_column(String(80))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case_steps.id", ondelete="RESTRICT")
    )
    referral_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="RESTRICT")
    )
    object_key: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer)
    contains_id_numbers: Mapped[bool] = mapped_column(Boolean, default=False)
    # the facts the document states (numbers, dates, amounts), as generated
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    generated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentCounter(CountyOwned, Base):
    __tablename__ = "case_document_counters"
    __table_args__ = (PrimaryKeyConstraint("county_id", "kind", "year"),)

    kind: Mapped[str] = mapped_column(String(30))
    year: Mapped[int] = mapped_column(Integer)
    last_no: Mapped[int] = mapped_column(Integer)


class DocumentScan(UuidPk, CountyOwned, Base):
    __tablename__ = "case_document_scans"
    __table_args__ = (
        CheckConstraint(
            "media_type IN ('application/pdf', 'image/jpeg', 'image/png')", name="media_type"
        ),
    )

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_documents.id", ondelete="RESTRICT"), index=True
    )
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    object_key: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[str] = mapped_column(String(40))
    file_name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer)
    attached_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    attached_at: Mapped[datetime] = mapped_column(default=utcnow)
