"""Case, screening and referral tables, and their closed vocabularies.

* ``cases`` — an enforcement case (立案查处): number, cause, parties, where it is (a located
  point and, once measured, the surveyed polygon), status (``referred`` while it follows a
  referral, with ``referred_from``), areas by land class from the
  overlay, values (ore value, illegal gain) and history (prior administrative penalties).
* ``case_team_members`` — who works a case (lead officer, members, joint police/land
  members), set by captains.
* ``case_evidence`` — the evidence linked to a case. Evidence ids are plain UUIDs checked by
  the service: the evidence tables migrate on their own branch.
* ``case_events`` — what happened to a case and its referrals, in order (audit trail).
* ``referral_rules`` — the per-province threshold table with effective dates (reference
  data; province ``00`` holds the national figures, seeded by migration ``0005_cases``).
* ``referral_suggestions`` — matches of a case (or of a patrol finding) against the rules: a
  suggestion for a human, never a referral by itself.
* ``referral_flags`` — "flag for criminal referral" on a case or a finding, with a reason.
* ``referrals`` — the referral procedure (国务院令第310号) with a due time per step.
* ``case_packages`` — every evidence package exported, with its manifest hash and signature.

Finding ids are plain UUIDs too (``patrol`` migrates on its own branch); the services check
that the finding exists in the caller's county.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from infra.db import Base, CountyOwned, Timestamped, UuidPk, utcnow

__all__ = [
    "NATIONAL",
    "Case",
    "CaseEvent",
    "CaseEvidence",
    "CasePackage",
    "CaseStatus",
    "CaseTeamMember",
    "PenaltyKind",
    "Referral",
    "ReferralFlag",
    "ReferralRule",
    "ReferralStatus",
    "ReferralStep",
    "ReferralSuggestion",
    "SourceKind",
    "TeamRole",
    "ViolationKind",
]

NATIONAL = "00"
"""``province_code`` of the national rules; a province's own row with the same code wins."""


class CaseStatus(enum.StrEnum):
    CLUE = "clue"  # 线索
    FILED = "filed"  # 立案
    INVESTIGATING = "investigating"  # 调查取证
    DECIDED = "decided"  # 作出处罚决定
    EXECUTING = "executing"  # 执行
    CLOSED = "closed"  # 结案
    SUSPENDED = "suspended"  # 中止 (resumes to the status it left)
    TERMINATED = "terminated"  # 终止
    WITHDRAWN = "withdrawn"  # 撤销
    REFERRED = "referred"  # 移送公安: set and left by the referral (resumes where it was)

    @property
    def is_final(self) -> bool:
        return self in (CaseStatus.CLOSED, CaseStatus.TERMINATED, CaseStatus.WITHDRAWN)


class ViolationKind(enum.StrEnum):
    LAND_OCCUPATION = "land_occupation"  # 非法占用农用地 (刑法 342: cultivated, forest, grass)
    LAND_TRANSFER = "land_transfer"  # 非法转让、倒卖土地使用权 (228)
    ILLEGAL_MINING = "illegal_mining"  # 非法采矿 (343 §1), incl. unlicensed river sand
    DESTRUCTIVE_MINING = "destructive_mining"  # 破坏性采矿 (343 §2)
    ILLEGAL_CONSTRUCTION = "illegal_construction"  # 违法建设 (administrative only)
    OTHER = "other"


class SourceKind(enum.StrEnum):
    FINDING = "finding"  # a patrol finding
    CHANGE_POLYGON = "change_polygon"  # a verified satellite change polygon (卫片图斑)
    TIP_OFF = "tip_off"  # a 12336 clue (the reporter stays confidential: id only)
    SATELLITE = "satellite"  # a satellite campaign task judged illegal (转立案; id: the task)
    OTHER = "other"


class TeamRole(enum.StrEnum):
    """What a person is on a case team."""

    LEAD = "lead"  # 主办人: the lead officer (at most one)
    MEMBER = "member"  # 协办人: an officer of the brigade
    JOINT = "joint"  # a police or land officer of a joint team


class PenaltyKind(enum.StrEnum):
    """Kinds of earlier administrative penalties that thresholds look at."""

    LAND_OCCUPATION = "land_occupation"  # 非法占用农用地 (incl. forest land)
    GRASSLAND = "grassland"  # 非法占用草原
    ILLEGAL_MINING = "illegal_mining"
    OTHER = "other"


class ReferralStatus(enum.StrEnum):
    REPORTED = "reported"  # team's report is with the head: decision due in 3 days
    REJECTED = "rejected"  # head did not approve (reason on record); final
    APPROVED = "approved"  # transfer to police due within 24 h
    TRANSFERRED = "transferred"  # police receipt due
    RECEIVED = "received"  # police decision due within 3 days of receipt
    POLICE_FILED = "police_filed"  # handover of items and materials due within 3 days
    NOT_FILED = "not_filed"  # reconsideration may be asked within 3 days
    RECONSIDERATION = "reconsideration"  # police answer due within 3 days
    CLOSED_NOT_FILED = "closed_not_filed"  # final
    HANDED_OVER = "handed_over"  # final

    @property
    def is_open(self) -> bool:
        return self not in (
            ReferralStatus.REJECTED,
            ReferralStatus.CLOSED_NOT_FILED,
            ReferralStatus.HANDED_OVER,
        )


class ReferralStep(enum.StrEnum):
    """The next thing a referral waits for (``referrals.next_step``)."""

    DECISION = "decision"
    TRANSFER = "transfer"
    POLICE_RECEIPT = "police_receipt"
    POLICE_DECISION = "police_decision"
    RECONSIDERATION_REQUEST = "reconsideration_request"  # optional: not an overdue duty
    RECONSIDERATION_DECISION = "reconsideration_decision"
    HANDOVER = "handover"


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


_UUIDS = ARRAY(Uuid(as_uuid=True))
_MONEY = Numeric(16, 2)


class Case(UuidPk, CountyOwned, Timestamped, Base):
    """An enforcement case. Areas are in m² (shown in mu), money in yuan."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("county_id", "case_no"),
        CheckConstraint(_in("status", CaseStatus), name="status"),
        CheckConstraint(
            "(status = 'referred') = (referred_from IS NOT NULL)", name="referred_from"
        ),
        CheckConstraint(_in("violation_kind", ViolationKind), name="violation_kind"),
        CheckConstraint(_in("source_kind", SourceKind), name="source_kind"),
        CheckConstraint(
            "area_total_m2 >= 0 AND area_cultivated_m2 >= 0 AND area_basic_farmland_m2 >= 0",
            name="areas_non_negative",
        ),
        Index("ix_cases_county_status", "county_id", "status"),
        Index("ix_cases_source_id", "source_id"),
    )

    case_no: Mapped[str] = mapped_column(String(40))
    cause: Mapped[str] = mapped_column(Text)
    violation_kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.CLUE.value)
    suspended_from: Mapped[str | None] = mapped_column(String(16))
    # where a referred case was before its referral (it returns there if the police refuse)
    referred_from: Mapped[str | None] = mapped_column(String(16))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    parties: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    source_kind: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[uuid.UUID | None]
    act_date: Mapped[date | None] = mapped_column(Date)
    location: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True), nullable=False
    )
    # NULL until the site is measured: "not surveyed yet" is a real state of a case.
    surveyed_geom: Mapped[object | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True
    )
    surveyed_at: Mapped[datetime | None]
    surveyed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    area_total_m2: Mapped[float] = mapped_column(Float, default=0.0)
    area_cultivated_m2: Mapped[float] = mapped_column(Float, default=0.0)
    area_basic_farmland_m2: Mapped[float] = mapped_column(Float, default=0.0)
    areas_by_class: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    areas_source: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    declared_areas: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    ore_value_yuan: Mapped[Decimal | None] = mapped_column(_MONEY)
    destroyed_value_yuan: Mapped[Decimal | None] = mapped_column(_MONEY)
    illegal_gain_yuan: Mapped[Decimal | None] = mapped_column(_MONEY)
    special_area: Mapped[bool] = mapped_column(Boolean, default=False)
    prior_penalties: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    opened_by: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    screened_at: Mapped[datetime | None]
    # 重大案件: set from the penalty (a hearing-triggering penalty or fines at the settings'
    # figure); legal review and collective discussion come before its decision
    major: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class CaseEvidence(CountyOwned, Base):
    __tablename__ = "case_evidence"
    __table_args__ = (PrimaryKeyConstraint("case_id", "evidence_id"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    evidence_id: Mapped[uuid.UUID] = mapped_column(index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    linked_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseTeamMember(CountyOwned, Base):
    """One person on a case team (``SetCaseTeam`` replaces the whole team)."""

    __tablename__ = "case_team_members"
    __table_args__ = (
        PrimaryKeyConstraint("case_id", "user_id"),
        CheckConstraint(_in("role_in_team", TeamRole), name="role_in_team"),
        Index(
            "uq_case_team_members_one_lead",
            "case_id",
            unique=True,
            postgresql_where="role_in_team = 'lead'",
        ),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    role_in_team: Mapped[str] = mapped_column(String(10))
    assigned_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseEvent(UuidPk, CountyOwned, Base):
    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_at", "case_id", "at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    referral_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class ReferralRule(UuidPk, Base):
    """One threshold: ``metric >= threshold`` (under ``condition``) suggests ``crime``.

    ``condition`` may hold ``{"special_area": true|false}`` and
    ``{"penalties": {"kind": ..., "within_years": N, "at_least": M}}``; for the metric
    ``prior_penalties`` it holds ``{"penalty_kind": ..., "within_years": N}``.
    """

    __tablename__ = "referral_rules"
    __table_args__ = (
        UniqueConstraint("province_code", "code", "effective_from"),
        CheckConstraint(_in("violation_kind", ViolationKind), name="violation_kind"),
        CheckConstraint("level IN ('threshold', 'especially_serious')", name="level"),
        CheckConstraint(
            "effective_to IS NULL OR effective_to > effective_from", name="effective_range"
        ),
        CheckConstraint("threshold >= 0", name="threshold_non_negative"),
    )

    province_code: Mapped[str] = mapped_column(String(2), index=True)
    code: Mapped[str] = mapped_column(String(60))
    violation_kind: Mapped[str] = mapped_column(String(30))
    crime: Mapped[str] = mapped_column(String(100))
    article: Mapped[str] = mapped_column(String(60))
    level: Mapped[str] = mapped_column(String(20), default="threshold")
    metric: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[Decimal] = mapped_column(_MONEY)
    unit: Mapped[str] = mapped_column(String(8))
    condition: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    citation: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferralSuggestion(UuidPk, CountyOwned, Base):
    """A case or a patrol finding matched a rule. Superseded (not deleted) when a later
    screening no longer agrees."""

    __tablename__ = "referral_suggestions"
    __table_args__ = (
        CheckConstraint("(case_id IS NULL) <> (finding_id IS NULL)", name="one_subject"),
        Index(
            "uq_referral_suggestions_current",
            "case_id",
            "rule_id",
            unique=True,
            postgresql_where="superseded_at IS NULL",
        ),
        Index(
            "uq_referral_suggestions_current_finding",
            "finding_id",
            "rule_id",
            unique=True,
            postgresql_where="superseded_at IS NULL AND finding_id IS NOT NULL",
        ),
    )

    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    finding_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referral_rules.id", ondelete="RESTRICT"))
    rule_code: Mapped[str] = mapped_column(String(60))
    crime: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str] = mapped_column(String(40))
    value: Mapped[Decimal] = mapped_column(_MONEY)
    threshold: Mapped[Decimal] = mapped_column(_MONEY)
    unit: Mapped[str] = mapped_column(String(8))
    citation: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None]


class ReferralFlag(UuidPk, CountyOwned, Base):
    """ "Flag for criminal referral" on exactly one of a case or a finding."""

    __tablename__ = "referral_flags"
    __table_args__ = (
        CheckConstraint("(case_id IS NULL) <> (finding_id IS NULL)", name="one_subject"),
    )

    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    finding_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text)
    flagged_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    flagged_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(UuidPk, CountyOwned, Timestamped, Base):
    """One referral of a case to the police, step by step, each with its legal due time."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(_in("status", ReferralStatus), name="status"),
        CheckConstraint("cardinality(team_ids) >= 2", name="team_size"),
        Index("ix_referrals_county_next_due", "county_id", "next_due_at"),
        Index(
            "uq_referrals_open_case",
            "case_id",
            unique=True,
            postgresql_where="status NOT IN ('rejected', 'closed_not_filed', 'handed_over')",
        ),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    team_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS)
    report: Mapped[str] = mapped_column(Text)
    reported_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reported_at: Mapped[datetime]
    decision_due_at: Mapped[datetime]
    decision: Mapped[str | None] = mapped_column(String(10))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    transfer_due_at: Mapped[datetime | None]
    transferred_at: Mapped[datetime | None]
    police_unit: Mapped[str] = mapped_column(String(200), default="")
    materials: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    receipt_due_at: Mapped[datetime | None]
    receipt_at: Mapped[datetime | None]
    receipt_no: Mapped[str] = mapped_column(String(60), default="")
    police_decision_due_at: Mapped[datetime | None]
    police_decision: Mapped[str | None] = mapped_column(String(10))
    police_decided_at: Mapped[datetime | None]
    police_decision_no: Mapped[str] = mapped_column(String(60), default="")
    police_reason: Mapped[str] = mapped_column(Text, default="")
    reconsideration_due_at: Mapped[datetime | None]
    reconsideration_requested_at: Mapped[datetime | None]
    reconsideration_reason: Mapped[str] = mapped_column(Text, default="")
    reconsideration_decision_due_at: Mapped[datetime | None]
    reconsideration_result: Mapped[str | None] = mapped_column(String(10))
    reconsideration_decided_at: Mapped[datetime | None]
    handover_due_at: Mapped[datetime | None]
    handed_over_at: Mapped[datetime | None]
    handover_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    next_step: Mapped[str | None] = mapped_column(String(30))
    next_due_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class CasePackage(UuidPk, CountyOwned, Base):
    """One exported evidence package: what it held and the custody head it was anchored to."""

    __tablename__ = "case_packages"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    referral_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="RESTRICT")
    )
    exported_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    exported_at: Mapped[datetime]
    file_name: Mapped[str] = mapped_column(String(200))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))  # base64 Ed25519 (hex HMAC before)
    signature_alg: Mapped[str] = mapped_column(String(20), server_default="HMAC-SHA256")
    signing_key_id: Mapped[str | None] = mapped_column(String(16))
    evidence_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    custody_head_seq: Mapped[int] = mapped_column(BigInteger)
    custody_head_hash: Mapped[str] = mapped_column(String(64))
