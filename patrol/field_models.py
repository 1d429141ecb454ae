"""Field work: contract areas, targets, frequency rules, plans, sessions, tracks, duty checks.

Mine sites and their five-to-one rosters belong to ``geofence``; rows here refer to a site by
its id only (``site_id`` / ``ref_id``), with no foreign key, so the two packages migrate apart.

Track points are the one high-volume table: no foreign keys and no secondary index, so a
batch goes in at close to ``COPY`` speed. Its writers check the session first.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    REAL,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from infra.db import Base, CountyOwned, Timestamped, UuidPk

__all__ = [
    "AreaMember",
    "ContractArea",
    "DutyCheck",
    "Finding",
    "FrequencyRule",
    "MonthlyPlan",
    "PatrolAlert",
    "PatrolSession",
    "PatrolTarget",
    "PlanInspector",
    "SignIn",
    "TargetVerification",
    "TargetVisit",
    "TrackPoint",
]

_UUIDS = ARRAY(Uuid(as_uuid=True))
_EMPTY_JSON = text("'{}'::jsonb")


class ContractArea(UuidPk, CountyOwned, Timestamped, Base):
    """A contract area (片区): polygon, line or point; grade 1-3; leader and members."""

    __tablename__ = "patrol_areas"
    __table_args__ = (
        UniqueConstraint("county_id", "code"),
        CheckConstraint("grade BETWEEN 1 AND 3", name="grade"),
    )

    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    grade: Mapped[int] = mapped_column(SmallInteger)
    geom: Mapped[object] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=True), nullable=False
    )
    leader_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    township_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    village_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AreaMember(CountyOwned, Base):
    """A member of an area's team (the leader is on the area row, not here)."""

    __tablename__ = "patrol_area_members"
    __table_args__ = (PrimaryKeyConstraint("area_id", "user_id"),)

    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patrol_areas.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )


class PatrolTarget(UuidPk, CountyOwned, Timestamped, Base):
    """Something a patrol should pass: a closed-mine site, a change polygon, a tip-off, a point.

    A polygon target is stored as a representative point with a radius that covers it.
    ``ref_id`` names the record in its own package (mine site, change polygon, clue);
    ``due_on`` the county-local day by which it should be verified, if any.
    """

    __tablename__ = "patrol_targets"
    __table_args__ = (
        CheckConstraint("visit_radius_m > 0", name="visit_radius_m"),
        Index("ix_patrol_targets_ref_id", "ref_id"),
    )

    area_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patrol_areas.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(200))
    geom: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True), nullable=False
    )
    visit_radius_m: Mapped[float] = mapped_column(Float, default=100.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    due_on: Mapped[date | None] = mapped_column(Date)


class FrequencyRule(UuidPk, CountyOwned, Timestamped, Base):
    """A patrol frequency rule as data.

    Applies to one area (``area_id``), to every area of a grade (``grade``), or to the whole
    county (both empty); the most specific matching rule wins, then the highest ``priority``.
    A season is an inclusive month-day range (``0401``-``1031``; it may wrap over New Year);
    empty means all year.
    """

    __tablename__ = "patrol_frequency_rules"
    __table_args__ = (
        CheckConstraint("(season_start IS NULL) = (season_end IS NULL)", name="season_pair"),
    )

    area_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patrol_areas.id", ondelete="CASCADE"), index=True
    )
    grade: Mapped[int | None] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(100))
    season_start: Mapped[int | None] = mapped_column(SmallInteger)
    season_end: Mapped[int | None] = mapped_column(SmallInteger)
    min_per_month: Mapped[int] = mapped_column(SmallInteger, default=4)
    min_per_week: Mapped[int] = mapped_column(SmallInteger, default=1)
    min_night_per_month: Mapped[int] = mapped_column(SmallInteger, default=0)
    min_night_per_week: Mapped[int] = mapped_column(SmallInteger, default=0)
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)


class MonthlyPlan(UuidPk, CountyOwned, Timestamped, Base):
    """An area's plan for one month: quota, weekly minimum, night minimum, targets, people."""

    __tablename__ = "patrol_plans"
    __table_args__ = (UniqueConstraint("area_id", "month"),)

    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patrol_areas.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)
    quota: Mapped[int] = mapped_column(SmallInteger)
    min_per_week: Mapped[int] = mapped_column(SmallInteger)
    min_night: Mapped[int] = mapped_column(SmallInteger, default=0)
    min_night_per_week: Mapped[int] = mapped_column(SmallInteger, default=0)
    target_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class PlanInspector(CountyOwned, Base):
    __tablename__ = "patrol_plan_inspectors"
    __table_args__ = (PrimaryKeyConstraint("plan_id", "user_id"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patrol_plans.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )


class PatrolSession(CountyOwned, Timestamped, Base):
    """A patrol (巡查日志). The id is the phone's UUIDv7; summaries are kept on the row."""

    __tablename__ = "patrol_sessions"
    __table_args__ = (
        Index("ix_patrol_sessions_county_started", "county_id", "started_at"),
        Index("ix_patrol_sessions_open", "county_id", postgresql_where="ended_at IS NULL"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    area_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patrol_areas.id", ondelete="RESTRICT"), index=True
    )
    inspector_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    companion_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patrol_plans.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    has_violation: Mapped[bool] = mapped_column(Boolean, default=False)
    # kept current by track ingest
    point_count: Mapped[int] = mapped_column(Integer, default=0)
    last_point_at: Mapped[datetime | None]
    # computed from the stored track when it ends (and again when late points arrive)
    summary_stale: Mapped[bool] = mapped_column(Boolean, default=False)
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    moving_s: Mapped[float] = mapped_column(Float, default=0.0)
    is_night: Mapped[bool] = mapped_column(Boolean, default=False)
    used_point_count: Mapped[int] = mapped_column(Integer, default=0)
    poor_accuracy_count: Mapped[int] = mapped_column(Integer, default=0)
    speed_flagged_count: Mapped[int] = mapped_column(Integer, default=0)
    first_fix_at: Mapped[datetime | None]
    last_fix_at: Mapped[datetime | None]


class TrackPoint(Base):
    """One GPS fix of a patrol; insert-only, idempotent on the phone's point id."""

    __tablename__ = "patrol_track_points"
    __table_args__ = (PrimaryKeyConstraint("session_id", "id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(Uuid(as_uuid=True))
    id: Mapped[uuid.UUID] = mapped_column(Uuid(as_uuid=True))
    county_id: Mapped[uuid.UUID] = mapped_column(Uuid(as_uuid=True))
    t: Mapped[datetime]
    geom: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    accuracy_m: Mapped[float] = mapped_column(REAL)
    speed_mps: Mapped[float | None] = mapped_column(REAL)
    heading_deg: Mapped[float | None] = mapped_column(REAL)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SignIn(CountyOwned, Base):
    """A sign-in (巡查签到): by GPS, or manual with a reason code and a village.

    A GPS sign-in records, as they were when it was made, the area's targets it reached, the
    nearest active target and its distance, and whether it was far from every target
    (:meth:`patrol.sessions.PatrolService.sign_in_many`).
    """

    __tablename__ = "patrol_sign_ins"
    __table_args__ = (
        CheckConstraint(
            "method = 'gps' OR (reason_code IS NOT NULL AND village_id IS NOT NULL)",
            name="manual_reason",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patrol_sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(10))
    geom: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    reason_code: Mapped[str | None] = mapped_column(String(30))
    village_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("villages.id", ondelete="RESTRICT")
    )
    address: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    reached_target_ids: Mapped[list[uuid.UUID]] = mapped_column(
        _UUIDS, default=list, server_default="{}"
    )
    nearest_target_id: Mapped[uuid.UUID | None]
    nearest_target_m: Mapped[float | None] = mapped_column(Float)
    far_from_targets: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class Finding(CountyOwned, Timestamped, Base):
    """A finding on a patrol: project, builder, start date, construction status, area, place,
    and what the reference layers say of that place (:mod:`patrol.finding_checks`)."""

    __tablename__ = "patrol_findings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patrol_sessions.id", ondelete="CASCADE"), index=True
    )
    reported_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    found_at: Mapped[datetime]
    project_name: Mapped[str] = mapped_column(String(200))
    builder: Mapped[str] = mapped_column(String(200), default="")
    construction_started_on: Mapped[date | None] = mapped_column(Date)
    construction_status: Mapped[str] = mapped_column(String(20))
    occupied_area_m2: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True), nullable=False
    )
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    township_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("townships.id", ondelete="RESTRICT")
    )
    village_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("villages.id", ondelete="RESTRICT")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    # what the location check said when it was recorded (patrol.finding_checks)
    location_check: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=_EMPTY_JSON
    )
    land_class: Mapped[str | None] = mapped_column(String(32))
    areas_by_class: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=_EMPTY_JSON
    )
    areas_source: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=_EMPTY_JSON
    )
    flags: Mapped[list[str]] = mapped_column(
        ARRAY(String(40)), default=list, server_default=text("'{}'")
    )
    outline: Mapped[object | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True
    )
    screening: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=_EMPTY_JSON
    )


class TargetVisit(CountyOwned, Base):
    """A target reached by a patrol: first time and closest distance, by track or evidence."""

    __tablename__ = "patrol_target_visits"
    __table_args__ = (PrimaryKeyConstraint("session_id", "target_id", "source"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patrol_sessions.id", ondelete="CASCADE")
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patrol_targets.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(10))
    first_at: Mapped[datetime]
    min_distance_m: Mapped[float] = mapped_column(Float)


class TargetVerification(CountyOwned, Base):
    """The result of verifying a target in the field (:mod:`patrol.verification`).

    The id is the phone's (UUIDv7) and makes the write idempotent. A target has one current
    result (``superseded_at`` empty); a later one supersedes it and the history stays.
    ``findings_named``: the phone named the findings (otherwise they were attached by place).
    """

    __tablename__ = "patrol_target_verifications"
    __table_args__ = (
        CheckConstraint("outcome IN ('found', 'not_found', 'already_handled')", name="outcome"),
        Index("ix_patrol_target_verifications_target", "target_id", "verified_at"),
        Index(
            "uq_patrol_target_verifications_current",
            "target_id",
            unique=True,
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patrol_targets.id", ondelete="CASCADE")
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patrol_sessions.id", ondelete="SET NULL"), index=True
    )
    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    finding_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    findings_named: Mapped[bool] = mapped_column(Boolean, default=True)
    evidence_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    verified_at: Mapped[datetime]
    received_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]
    superseded_by: Mapped[uuid.UUID | None]


class DutyCheck(CountyOwned, Base):
    """A five-to-one roster member's check of a closed site (id minted by the phone)."""

    __tablename__ = "patrol_duty_checks"
    __table_args__ = (
        Index("ix_patrol_duty_checks_site_checked", "site_id", "checked_at"),
        Index("ix_patrol_duty_checks_county_checked", "county_id", "checked_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    site_id: Mapped[uuid.UUID]
    member_id: Mapped[uuid.UUID]
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    checked_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    is_night: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    evidence_ids: Mapped[list[uuid.UUID]] = mapped_column(_UUIDS, default=list)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PatrolAlert(UuidPk, CountyOwned, Base):
    """An entry in the captains' feed. ``dedupe_key`` makes raising an alert idempotent.

    ``acknowledged_*`` is a person having seen it; ``resolved_at`` and ``resolution`` (a
    stable reason code) record that its cause ended, set once by the domain
    (:mod:`patrol.alerts`). ``member_id`` names the roster member of a ``duty_overdue``.
    ``params`` are the facts its message names (``infra.messages``, ``alert.<kind>``), so it
    is shown in the reader's language; ``message`` is its Chinese text (all that rows from
    before ``params`` have).
    """

    __tablename__ = "patrol_alerts"
    __table_args__ = (
        UniqueConstraint("county_id", "dedupe_key"),
        Index("ix_patrol_alerts_county_raised", "county_id", "raised_at"),
    )

    kind: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    site_id: Mapped[uuid.UUID | None]
    session_id: Mapped[uuid.UUID | None]
    duty_check_id: Mapped[uuid.UUID | None]
    raised_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    member_id: Mapped[uuid.UUID | None]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(30))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
