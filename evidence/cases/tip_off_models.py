"""Tip-off (12336 clue) tables, the county's working-day calendar, and their vocabularies.

* ``tip_offs`` — one clue: how and when it came, where (text, and a WGS84 point or polygon),
  the reported party and facts, its type, the county flow (decision, verification, handling,
  feedback) with the due time of each step, and ``duplicate_of`` when it repeats an open
  clue nearby about the same party.
* ``tip_off_reporters`` — who reported it (name, phone, ID number, address): confidential,
  read only through ``GetTipOffReporter`` and every read is in the custody chain. An
  anonymous clue has no row.
* ``tip_off_evidence`` — evidence linked to a clue (ids checked by the service, as cases do).
* ``tip_off_events`` — who did what to a clue and when.
* ``tip_off_receipt_counters`` — the last receipt sequence per county and day (one row
  locked per intake: numbers without gaps under concurrency).
* ``work_calendar_days`` — the county's holidays and make-up working days (调休).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from evidence.cases.models import _in
from infra.db import Base, CountyOwned, Timestamped, UuidPk, utcnow

__all__ = [
    "CalendarDayKind",
    "ClueType",
    "Decision",
    "FeedbackChannel",
    "Handling",
    "RefusalReason",
    "TipOff",
    "TipOffChannel",
    "TipOffEvent",
    "TipOffEvidence",
    "TipOffReceiptCounter",
    "TipOffReporter",
    "TipOffStatus",
    "VerificationOutcome",
    "WorkCalendarDay",
]


class TipOffChannel(enum.StrEnum):
    PHONE_12336 = "phone_12336"  # 12336 热线
    LETTER = "letter"  # 来信
    EMAIL = "email"  # 电子邮件
    LEADERSHIP = "leadership"  # 领导批办
    LOWER_LEVEL = "lower_level"  # 下级上报
    MEDIA = "media"  # 媒体
    TRANSFER_12345 = "transfer_12345"  # 12345 转办
    WECHAT = "wechat"  # 微信
    OTHER = "other"


class ClueType(enum.StrEnum):
    # land
    LAND_ILLEGAL_APPROVAL = "land_illegal_approval"  # 违法批地
    LAND_ILLEGAL_OCCUPATION = "land_illegal_occupation"  # 违法占地
    LAND_ILLEGAL_TRANSFER = "land_illegal_transfer"  # 违法转让土地使用权
    LAND_FARMLAND_DESTRUCTION = "land_farmland_destruction"  # 破坏耕地
    LAND_OTHER = "land_other"
    # minerals
    MINERAL_ILLEGAL_EXPLORATION = "mineral_illegal_exploration"  # 违法勘查
    MINERAL_ILLEGAL_MINING = "mineral_illegal_mining"  # 违法开采
    MINERAL_ILLEGAL_RIGHT_APPROVAL = "mineral_illegal_right_approval"  # 违法批准矿业权
    MINERAL_ILLEGAL_RIGHT_TRANSFER = "mineral_illegal_right_transfer"  # 违法转让矿业权
    MINERAL_OTHER = "mineral_other"


class TipOffStatus(enum.StrEnum):
    RECEIVED = "received"  # registered, acknowledged; the decision is due
    ACCEPTED = "accepted"  # 受理: verification on site is due
    REFUSED = "refused"  # 不予受理 (an exclusion reason); feedback is due
    TRANSFERRED = "transferred"  # 转送 another authority (named); feedback is due
    VERIFYING = "verifying"  # a patrol target waits for the field verification
    VERIFIED = "verified"  # the field verification is recorded; handling is due
    HANDLED = "handled"  # stop order, case opened or no violation; feedback is due
    CLOSED = "closed"  # fed back to the reporter

    @property
    def is_open(self) -> bool:
        return self is not TipOffStatus.CLOSED


class Decision(enum.StrEnum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    TRANSFER = "transfer"


class RefusalReason(enum.StrEnum):
    REVIEW_LITIGATION_ARBITRATION = "review_litigation_arbitration"  # 复议、诉讼、仲裁事项
    OFFICIAL_DISCIPLINE = "official_discipline"  # 干部违纪
    OWNERSHIP_COMPENSATION = "ownership_compensation"  # 权属、补偿争议
    STATE_SECRETS = "state_secrets"  # 国家秘密、国家安全


class VerificationOutcome(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    ALREADY_HANDLED = "already_handled"


class Handling(enum.StrEnum):
    STOP_ORDER = "stop_order"  # 责令停止
    CASE_OPENED = "case_opened"  # 立案
    NO_VIOLATION = "no_violation"  # 不存在违法


class FeedbackChannel(enum.StrEnum):
    PHONE = "phone"
    SMS = "sms"
    LETTER = "letter"
    EMAIL = "email"
    WECHAT = "wechat"
    IN_PERSON = "in_person"
    OTHER = "other"


class CalendarDayKind(enum.StrEnum):
    HOLIDAY = "holiday"  # a day off (a weekday holiday)
    WORKDAY = "workday"  # a weekend day that is a make-up working day (调休)


_UUIDS = ARRAY(Uuid(as_uuid=True))


class TipOff(UuidPk, CountyOwned, Timestamped, Base):
    """A 12336 clue and its county flow. Reporter identity: :class:`TipOffReporter`."""

    __tablename__ = "tip_offs"
    __table_args__ = (
        UniqueConstraint("county_id", "receipt_no"),
        CheckConstraint(_in("channel", TipOffChannel), name="channel"),
        CheckConstraint(_in("clue_type", ClueType), name="clue_type"),
        CheckConstraint(_in("status", TipOffStatus), name="status"),
        CheckConstraint(f"decision IS NULL OR {_in('decision', Decision)}", name="decision"),
        CheckConstraint(
            f"refusal_reason IS NULL OR {_in('refusal_reason', RefusalReason)}",
            name="refusal_reason",
        ),
        CheckConstraint(
            f"verification_outcome IS NULL OR {_in('verification_outcome', VerificationOutcome)}",
            name="verification_outcome",
        ),
        CheckConstraint(f"handling IS NULL OR {_in('handling', Handling)}", name="handling"),
        CheckConstraint(
            f"feedback_channel IS NULL OR {_in('feedback_channel', FeedbackChannel)}",
            name="feedback_channel",
        ),
        CheckConstraint("crs IN ('wgs84', 'gcj02')", name="crs"),
        CheckConstraint("duplicate_of IS NULL OR duplicate_of <> id", name="not_own_duplicate"),
        # the desk's list: county, status, channel, township, newest first
        Index(
            "ix_tip_offs_desk",
            "county_id",
            "status",
            "channel",
            "township_id",
            "received_at",
        ),
        Index("ix_tip_offs_county_received", "county_id", "received_at"),
        Index(
            "ix_tip_offs_open_party",
            "county_id",
            "party_key",
            postgresql_where="status <> 'closed'",
        ),
    )

    receipt_no: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime]
    location_text: Mapped[str] = mapped_column(Text, default="")
    crs: Mapped[str] = mapped_column(String(8), default="wgs84")  # as the desk declared it
    location: Mapped[object | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True), nullable=True
    )
    area_geom: Mapped[object | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True
    )
    township_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("townships.id", ondelete="RESTRICT")
    )
    reported_party: Mapped[str] = mapped_column(Text, default="")
    party_key: Mapped[str] = mapped_column(String(200), default="")
    facts: Mapped[str] = mapped_column(Text)
    clue_type: Mapped[str] = mapped_column(String(40))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=TipOffStatus.RECEIVED.value)
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tip_offs.id", ondelete="RESTRICT"), index=True
    )
    registered_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # deadlines (working days from the day received, the province's figures)
    decide_due_at: Mapped[datetime]
    verify_due_at: Mapped[datetime]
    verify_due_on: Mapped[date] = mapped_column(Date)
    feedback_due_at: Mapped[datetime]
    # decision
    decision: Mapped[str | None] = mapped_column(String(10))
    refusal_reason: Mapped[str | None] = mapped_column(String(40))
    transfer_to: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    # field verification (a patrol target)
    area_id: Mapped[uuid.UUID | None]
    target_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    assigned_at: Mapped[datetime | None]
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    verification_outcome: Mapped[str | None] = mapped_column(String(20))
    verification_note: Mapped[str] = mapped_column(Text, default="")
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    verification_session_id: Mapped[uuid.UUID | None]
    finding_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    verification_evidence_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    # handling
    handling: Mapped[str | None] = mapped_column(String(20))
    handling_note: Mapped[str] = mapped_column(Text, default="")
    handled_at: Mapped[datetime | None]
    handled_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    # feedback to the reporter
    feedback_channel: Mapped[str | None] = mapped_column(String(20))
    feedback_content: Mapped[str] = mapped_column(Text, default="")
    fed_back_at: Mapped[datetime | None]
    fed_back_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )


class TipOffReporter(CountyOwned, Base):
    """The reporter's identity: never in a list, a view, a sync payload, an export or a log."""

    __tablename__ = "tip_off_reporters"

    tip_off_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tip_offs.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    id_no: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(Text, default="")


class TipOffEvidence(CountyOwned, Base):
    __tablename__ = "tip_off_evidence"
    __table_args__ = (PrimaryKeyConstraint("tip_off_id", "evidence_id"),)

    tip_off_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tip_offs.id", ondelete="CASCADE"))
    evidence_id: Mapped[uuid.UUID] = mapped_column(index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    linked_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipOffEvent(UuidPk, CountyOwned, Base):
    __tablename__ = "tip_off_events"
    __table_args__ = (Index("ix_tip_off_events_tip_off_at", "tip_off_id", "at"),)

    tip_off_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tip_offs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class TipOffReceiptCounter(CountyOwned, Base):
    """The last receipt sequence of a county on a day (China's day of registration)."""

    __tablename__ = "tip_off_receipt_counters"
    __table_args__ = (PrimaryKeyConstraint("county_id", "day"),)

    day: Mapped[date] = mapped_column(Date)
    last_seq: Mapped[int] = mapped_column(Integer)


class WorkCalendarDay(CountyOwned, Base):
    """A holiday on a weekday, or a weekend day worked (调休); other days follow the week."""

    __tablename__ = "work_calendar_days"
    __table_args__ = (
        PrimaryKeyConstraint("county_id", "day"),
        CheckConstraint(_in("kind", CalendarDayKind), name="kind"),
    )

    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100), default="")
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
