"""The case file's documents (案卷文书): generate, list, read, download, attach a scan.

``GenerateCaseDocument`` takes the kind, optionally the step the document belongs to and,
for an inquiry record (询问笔录), its questions and answers. A document's PDF never changes
after it is generated; ``sha256`` is its hash (also in the custody chain).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

__all__ = [
    "CaseDocument",
    "CaseDocumentCreate",
    "DocumentKindName",
    "DocumentScan",
    "QuestionAnswer",
]


class DocumentKindName(enum.StrEnum):
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


class QuestionAnswer(msgspec.Struct, kw_only=True, rename="camel"):
    """One question of an inquiry and the answer written down."""

    question: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    answer: Annotated[str, msgspec.Meta(max_length=4000)] = ""


class CaseDocumentCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """The kind, the step it belongs to (its ``documentId`` becomes this document), and an
    inquiry record's questions and answers (``qa``, only for ``inquiry_record``)."""

    kind: DocumentKindName
    step_id: uuid.UUID | None = None
    qa: Annotated[list[QuestionAnswer], msgspec.Meta(max_length=200)] = []


class DocumentScan(msgspec.Struct, kw_only=True, rename="camel"):
    """A signed and stamped scan of the printed document."""

    id: uuid.UUID
    document_id: uuid.UUID
    media_type: str
    file_name: str
    sha256: str
    size_bytes: int
    pages: int
    attached_by: uuid.UUID
    attached_at: datetime


class CaseDocument(msgspec.Struct, kw_only=True, rename="camel"):
    """A generated document: ``docNo`` is its number (文号), ``facts`` what it states
    (parties, articles, the fine in figures and capitals, deadlines), ``containsIdNumbers``
    whether it prints a party's ID number (joint-team members may not download those)."""

    id: uuid.UUID
    case_id: uuid.UUID
    kind: DocumentKindName
    title: str
    doc_no: str
    step_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None
    sha256: str
    size_bytes: int
    pages: int
    contains_id_numbers: bool
    generated_by: uuid.UUID
    generated_at: datetime
    facts: dict[str, Any] = {}
    scans: list[DocumentScan] = []
