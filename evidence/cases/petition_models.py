"""Petition tables (信访) and their closed vocabularies.

* ``petitions`` — one petition (信访事项): its registration number, form, category, the
  matter, how many people brought it, the petitioner's identity (read only through
  :func:`evidence.cases.petitions.get_petitioner`, which writes a custody entry), and each
  step of the handling with its statutory date (county-local calendar days).
* ``petition_reviews`` — a request for review (复查) or re-review (复核) and its answer; at
  most one of each level per petition.
* ``petition_events`` — who did what to a petition, and when (never the petitioner's
  identity).
* ``petition_counters`` — the last registration number given per county and year: the next
  one is taken under the row's lock in the registering transaction, so numbers have no gaps.

Clue ids (``clue_id``) and township ids are plain UUIDs checked by the service: the clue
tables migrate on their own.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from evidence.cases.models import _in
from infra.db import Base, CountyOwned, Timestamped, UuidPk, utcnow

__all__ = [
    "Petition",
    "PetitionCategory",
    "PetitionCounter",
    "PetitionDelivery",
    "PetitionEvent",
    "PetitionForm",
    "PetitionReview",
    "PetitionStatus",
    "PetitionStep",
    "ReviewLevel",
]


class PetitionForm(enum.StrEnum):
    LETTER = "letter"  # 来信
    VISIT = "visit"  # 来访
    PHONE = "phone"  # 电话
    ONLINE = "online"  # 网上信访


class PetitionCategory(enum.StrEnum):
    SUGGESTION = "suggestion"  # 建议意见
    COMPLAINT_ACCUSATION = "complaint_accusation"  # 检举控告 (also opens a clue)
    APPEAL_REQUEST = "appeal_request"  # 申诉求决


class PetitionStatus(enum.StrEnum):
    REGISTERED = "registered"  # acceptance decision due within 15 days of receipt
    NOT_ACCEPTED = "not_accepted"  # final (the reason is on record)
    ACCEPTED = "accepted"  # the written reply is due within 60 days (+ one extension)
    ASSIGNED = "assigned"  # the head instructed (批示) a handling office
    REPLIED = "replied"  # the petitioner may ask for review within 30 days
    REVIEW_REQUESTED = "review_requested"  # the review answer is due within 30 days
    REVIEWED = "reviewed"  # the petitioner may ask for re-review within 30 days
    RE_REVIEW_REQUESTED = "re_review_requested"  # the re-review answer is due within 30 days
    RE_REVIEWED = "re_reviewed"  # final


class PetitionStep(enum.StrEnum):
    """The steps with a statutory date; the two requests are the petitioner's, never due."""

    DECISION = "decision"
    REPLY = "reply"
    REVIEW_REQUEST = "review_request"
    REVIEW_ANSWER = "review_answer"
    RE_REVIEW_REQUEST = "re_review_request"
    RE_REVIEW_ANSWER = "re_review_answer"


class ReviewLevel(enum.StrEnum):
    REVIEW = "review"  # 复查
    RE_REVIEW = "re_review"  # 复核


class PetitionDelivery(enum.StrEnum):
    """How a written answer reached the petitioner."""

    IN_PERSON = "in_person"  # 当面送达
    MAIL = "mail"  # 邮寄
    ONLINE = "online"  # 网上信访平台
    PHONE = "phone"  # 电话告知 (with the written answer kept on file)
    OTHER = "other"


class PetitionCounter(CountyOwned, Base):
    """The last registration number of a county's year."""

    __tablename__ = "petition_counters"
    __table_args__ = (PrimaryKeyConstraint("county_id", "year"),)

    year: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)


class Petition(UuidPk, CountyOwned, Timestamped, Base):
    """One petition; dates (``*_on``) are county-local calendar days."""

    __tablename__ = "petitions"
    __table_args__ = (
        UniqueConstraint("county_id", "reg_no"),
        CheckConstraint(_in("form", PetitionForm), name="form"),
        CheckConstraint(_in("category", PetitionCategory), name="category"),
        CheckConstraint(_in("status", PetitionStatus), name="status"),
        CheckConstraint("people_count >= 1", name="people_count"),
        CheckConstraint(
            "extension_days IS NULL OR extension_days BETWEEN 1 AND 30", name="extension_days"
        ),
        Index("ix_petitions_county_received", "county_id", "received_at"),
        Index("ix_petitions_county_next_due", "county_id", "next_due_on"),
    )

    reg_no: Mapped[str] = mapped_column(String(40))
    form: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime]
    received_on: Mapped[date] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    people_count: Mapped[int] = mapped_column(Integer)
    group_petition: Mapped[bool] = mapped_column(Boolean)
    township_id: Mapped[uuid.UUID | None]
    clue_id: Mapped[uuid.UUID | None]
    registered_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # the petitioner: protected like a reporter's identity
    petitioner_name: Mapped[str] = mapped_column(String(100))
    petitioner_phone: Mapped[str] = mapped_column(String(40), default="")
    petitioner_id_no: Mapped[str] = mapped_column(String(40), default="")
    petitioner_address: Mapped[str] = mapped_column(String(300), default="")
    # acceptance decision and notice (15 days of receipt)
    decision_due_on: Mapped[date] = mapped_column(Date)
    accepted: Mapped[bool | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decision_notice: Mapped[str] = mapped_column(String(200), default="")
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    # the head's instruction (批示) to a handling office
    office: Mapped[str] = mapped_column(String(200), default="")
    office_township_id: Mapped[uuid.UUID | None]
    instruction: Mapped[str] = mapped_column(Text, default="")
    assigned_at: Mapped[datetime | None]
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    # the written reply (60 days of acceptance, extendable once by up to 30)
    reply_due_on: Mapped[date | None] = mapped_column(Date)
    extension_days: Mapped[int | None] = mapped_column(Integer)
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    extension_notice: Mapped[str] = mapped_column(String(200), default="")
    extended_at: Mapped[datetime | None]
    extended_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    reply_content: Mapped[str] = mapped_column(Text, default="")
    reply_delivery: Mapped[str | None] = mapped_column(String(10))
    replied_at: Mapped[datetime | None]
    replied_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    # what the petition waits for, and by which date
    next_step: Mapped[str | None] = mapped_column(String(20))
    next_due_on: Mapped[date | None] = mapped_column(Date)


class PetitionReview(UuidPk, CountyOwned, Base):
    """A request for review (复查) or re-review (复核) and its answer."""

    __tablename__ = "petition_reviews"
    __table_args__ = (
        UniqueConstraint("petition_id", "level"),
        CheckConstraint(_in("level", ReviewLevel), name="level"),
    )

    petition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(String(10))
    request_due_on: Mapped[date] = mapped_column(Date)
    requested_at: Mapped[datetime]
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text, default="")
    answer_due_on: Mapped[date] = mapped_column(Date)
    answer: Mapped[str] = mapped_column(Text, default="")
    delivery: Mapped[str | None] = mapped_column(String(10))
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )


class PetitionEvent(UuidPk, CountyOwned, Base):
    """One step of a petition: who, when, what (never the petitioner's identity)."""

    __tablename__ = "petition_events"
    __table_args__ = (Index("ix_petition_events_petition_at", "petition_id", "at"),)

    petition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    # the order events were recorded in (their ``at`` may be given after the fact)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
