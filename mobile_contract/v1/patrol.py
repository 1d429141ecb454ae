"""Field work: contract areas, targets, rules and plans, patrols, tracks, duty checks, review.

Ids of things a phone creates (patrols, sign-ins, findings, track points, duty checks) are the
phone's UUIDv7s, sent in the path or the point, so every create can be replayed safely.
Months are ``YYYY-MM`` in the county's time zone; times carry a UTC offset.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from mobile_contract.v1.cases import Suggestion
from mobile_contract.v1.common import GeoJsonGeometry
from mobile_contract.v1.evidence import LocationCheck
from mobile_contract.v1.geofence import LandClassName

__all__ = [
    "MAX_TRACK_POINTS",
    "Alert",
    "AlertKindName",
    "AlertStateName",
    "AppendResult",
    "Area",
    "AreaCoverage",
    "AreaCreate",
    "AreaUpdate",
    "ConstructionStatusName",
    "Coverage",
    "DayCoverage",
    "DutyCheck",
    "DutyCheckCreate",
    "DutyCheckStatusName",
    "DutyCompliance",
    "Finding",
    "FindingCreate",
    "FindingLandUse",
    "FindingPage",
    "FrequencyRule",
    "FrequencyRuleSet",
    "InspectorCoverage",
    "LiveInspector",
    "LiveStatus",
    "LiveStatusName",
    "ManualReasonName",
    "MemberDuty",
    "Patrol",
    "PatrolEnd",
    "PatrolStart",
    "PatrolStatusName",
    "Plan",
    "PlanTarget",
    "PlanUpdate",
    "RejectedPoint",
    "Requirement",
    "SignIn",
    "SignInCreate",
    "SignInMethodName",
    "SiteDuty",
    "Target",
    "TargetCreate",
    "TargetKindName",
    "TargetVerification",
    "TargetVerificationCreate",
    "TrackBatch",
    "TrackGeoJson",
    "TrackPointIn",
    "VerificationOutcomeName",
    "WeekCoverage",
]

#: Most track points one ``AppendTrackPoints`` call may carry.
MAX_TRACK_POINTS = 10_000

Lon = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0, description="WGS84 longitude")]
Lat = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0, description="WGS84 latitude")]
Accuracy = Annotated[
    float, msgspec.Meta(ge=0.0, le=10_000.0, description="horizontal accuracy in metres")
]
Time = Annotated[datetime, msgspec.Meta(tz=True, description="with a UTC offset")]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z_-]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
#: A note of the field record (patrols, findings, duty checks), as long as sync takes it.
FieldNote = Annotated[str, msgspec.Meta(max_length=4000)]
Grade = Annotated[int, msgspec.Meta(ge=1, le=3, description="1 strictest .. 3")]
Count = Annotated[int, msgspec.Meta(ge=0, le=100)]
MonthDay = Annotated[
    str, msgspec.Meta(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", examples=["04-01"])
]
Month = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])]
Ids = Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)]


class TargetKindName(enum.StrEnum):
    MINE_SITE = "mine_site"
    CHANGE_POLYGON = "change_polygon"
    TIP_OFF = "tip_off"
    CUSTOM = "custom"


class VerificationOutcomeName(enum.StrEnum):
    """What a target's verification in the field found."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    ALREADY_HANDLED = "already_handled"


class SignInMethodName(enum.StrEnum):
    GPS = "gps"
    MANUAL = "manual"


class ManualReasonName(enum.StrEnum):
    NO_GPS_FIX = "no_gps_fix"
    DEVICE_FAULT = "device_fault"
    INDOOR = "indoor"
    SIGNAL_BLOCKED = "signal_blocked"
    OTHER = "other"


class PatrolStatusName(enum.StrEnum):
    """A patrol under way (not ended) or ended, for the ``status`` filter of ``ListPatrols``."""

    ONGOING = "ongoing"
    ENDED = "ended"


class ConstructionStatusName(enum.StrEnum):
    LEVELLED = "levelled"
    PARTLY_BUILT = "partly_built"
    FULLY_BUILT = "fully_built"
    OTHER = "other"


class DutyCheckStatusName(enum.StrEnum):
    STILL_CLOSED = "still_closed"
    SIGNS_OF_REOPENING = "signs_of_reopening"
    ACTIVE_MINING = "active_mining"


class LiveStatusName(enum.StrEnum):
    PATROLLING = "patrolling"
    PATROLLED_TODAY = "patrolled_today"
    NOT_TODAY = "not_today"


class AlertKindName(enum.StrEnum):
    SITE_REOPENING = "site_reopening"
    SITE_ACTIVE_MINING = "site_active_mining"
    DUTY_OVERDUE = "duty_overdue"
    SITE_REBOUND_REVIEW = "site_rebound_review"
    REFERRAL_SUGGESTED = "referral_suggested"
    PETITION_OVERDUE = "petition_overdue"  # a petition step past its statutory date
    TIP_OFF_OVERDUE = "tip_off_overdue"  # a 12336 clue's step is past its deadline
    REPORT_OVERDUE = "report_overdue"  # a periodic report not produced by its due date
    CASE_STEP_OVERDUE = "case_step_overdue"  # a case's statutory step is past its due time


class AlertStateName(enum.StrEnum):
    """Which alerts ``ListAlerts`` returns: open ones (the default), resolved ones, or all."""

    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


# -- areas and targets ---------------------------------------------------------------------------


class AreaCreate(msgspec.Struct, kw_only=True, rename="camel"):
    code: Code
    name: Name
    grade: Grade
    geometry: GeoJsonGeometry
    leader_id: uuid.UUID
    member_ids: Ids = msgspec.field(default_factory=list)
    township_ids: Ids = msgspec.field(default_factory=list)
    village_ids: Ids = msgspec.field(default_factory=list)


class AreaUpdate(msgspec.Struct, kw_only=True, rename="camel"):
    """Fields left out stay as they are; ``memberIds`` replaces the whole team."""

    name: Name | None = None
    grade: Grade | None = None
    geometry: GeoJsonGeometry | None = None
    leader_id: uuid.UUID | None = None
    member_ids: Ids | None = None
    township_ids: Ids | None = None
    village_ids: Ids | None = None
    active: bool | None = None


class Area(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    code: str
    name: str
    grade: int
    geometry: GeoJsonGeometry
    leader_id: uuid.UUID
    member_ids: list[uuid.UUID]
    township_ids: list[uuid.UUID]
    village_ids: list[uuid.UUID]
    active: bool
    created_at: datetime
    updated_at: datetime


class TargetCreate(msgspec.Struct, kw_only=True, rename="camel"):
    kind: TargetKindName
    name: Label
    lon: Lon
    lat: Lat
    visit_radius_m: Annotated[float, msgspec.Meta(gt=0.0, le=10_000.0)] | None = None
    ref_id: uuid.UUID | None = None
    #: the county-local day by which it should be verified (plans mark it overdue after)
    due_on: date | None = None


class Target(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    area_id: uuid.UUID
    kind: TargetKindName
    name: str
    lon: float
    lat: float
    visit_radius_m: float
    ref_id: uuid.UUID | None = None
    active: bool
    due_on: date | None = None


class TargetVerificationCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """A target's verification result. ``patrolId``: the patrol it was verified on (its crew
    records it; without one, the leader or a member of the target's area). No
    ``findingIds``: the patrol's findings within the target's visit radius are attached."""

    outcome: VerificationOutcomeName
    verified_at: Time
    patrol_id: uuid.UUID | None = None
    note: FieldNote = ""
    finding_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    evidence_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class TargetVerification(msgspec.Struct, kw_only=True, rename="camel"):
    """A stored verification result; ``current``: the target's result now (a later
    verification supersedes it, ``supersededBy``)."""

    id: uuid.UUID
    target_id: uuid.UUID
    target_kind: TargetKindName
    ref_id: uuid.UUID | None = None
    patrol_id: uuid.UUID | None = None
    inspector_id: uuid.UUID
    outcome: VerificationOutcomeName
    note: str
    finding_ids: list[uuid.UUID]
    evidence_ids: list[uuid.UUID]
    verified_at: datetime
    received_at: datetime
    current: bool
    superseded_by: uuid.UUID | None = None


# -- frequency rules and plans -------------------------------------------------------------------


class FrequencyRuleSet(msgspec.Struct, kw_only=True, rename="camel"):
    """A rule for one area, for every area of a grade, or (neither) for the whole county.

    A season is an inclusive ``MM-DD`` range that may wrap over New Year; none means all year.
    """

    name: Name
    area_id: uuid.UUID | None = None
    grade: Grade | None = None
    season_start: MonthDay | None = None
    season_end: MonthDay | None = None
    min_per_month: Count = 4
    min_per_week: Count = 1
    min_night_per_month: Count = 0
    min_night_per_week: Count = 0
    priority: Annotated[int, msgspec.Meta(ge=-100, le=100)] = 0


class FrequencyRule(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    name: str
    area_id: uuid.UUID | None = None
    grade: int | None = None
    season_start: str | None = None
    season_end: str | None = None
    min_per_month: int
    min_per_week: int
    min_night_per_month: int
    min_night_per_week: int
    priority: int


class Requirement(msgspec.Struct, kw_only=True, rename="camel"):
    """Minimum patrols; ``source`` is ``plan``, ``rule`` or ``default``."""

    min_per_month: int
    min_per_week: int
    min_night_per_month: int
    min_night_per_week: int
    source: str
    rule_id: uuid.UUID | None = None


class PlanTarget(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    kind: TargetKindName
    name: str
    lon: float
    lat: float
    visit_radius_m: float
    ref_id: uuid.UUID | None = None
    due_on: date | None = None
    overdue: bool = False


class PlanUpdate(msgspec.Struct, kw_only=True, rename="camel"):
    """Numbers left out come from the rule in force (new plan) or stay (existing plan)."""

    quota: Count | None = None
    min_per_week: Count | None = None
    min_night: Count | None = None
    min_night_per_week: Count | None = None
    target_ids: Ids | None = None
    inspector_ids: Ids | None = None
    note: Note | None = None


class Plan(msgspec.Struct, kw_only=True, rename="camel"):
    """An area's plan for a month; ``planId`` is null when it follows the rules only."""

    plan_id: uuid.UUID | None = None
    area_id: uuid.UUID
    area_code: str
    area_name: str
    grade: int
    month: str
    requirement: Requirement
    targets: list[PlanTarget]
    inspector_ids: list[uuid.UUID]
    note: str


# -- patrols -------------------------------------------------------------------------------------


class PatrolStart(msgspec.Struct, kw_only=True, rename="camel"):
    area_id: uuid.UUID
    started_at: Time
    companion_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    note: FieldNote = ""


class PatrolEnd(msgspec.Struct, kw_only=True, rename="camel"):
    ended_at: Time
    note: FieldNote | None = None


class Patrol(msgspec.Struct, kw_only=True, rename="camel"):
    """A patrol log (巡查日志); distance and times are computed when it ends."""

    id: uuid.UUID
    area_id: uuid.UUID
    inspector_id: uuid.UUID
    companion_ids: list[uuid.UUID]
    plan_id: uuid.UUID | None = None
    started_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None
    note: str
    has_violation: bool
    point_count: int
    last_point_at: datetime | None = None
    distance_m: float
    duration_s: float
    moving_s: float
    is_night: bool
    used_point_count: int
    poor_accuracy_count: int
    speed_flagged_count: int
    first_fix_at: datetime | None = None
    last_fix_at: datetime | None = None


class SignInCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """By GPS (``lon``, ``lat``, ``accuracyM``), or manual with a reason code and a village."""

    at: Time
    method: SignInMethodName = SignInMethodName.GPS
    lon: Lon | None = None
    lat: Lat | None = None
    accuracy_m: Accuracy | None = None
    reason_code: ManualReasonName | None = None
    village_id: uuid.UUID | None = None
    address: FieldNote = ""


class SignIn(msgspec.Struct, kw_only=True, rename="camel"):
    """A stored sign-in. A GPS one names the area's targets it reached (within their visit
    radius, nearest first), the nearest active target and its distance in metres, and
    ``farFromTargets`` when that distance is over the server's threshold (1 km by default);
    a manual one reaches nothing and is never flagged. Kept as they were at sign-in."""

    id: uuid.UUID
    patrol_id: uuid.UUID
    user_id: uuid.UUID
    at: datetime
    method: SignInMethodName
    lon: float
    lat: float
    accuracy_m: float | None = None
    reason_code: ManualReasonName | None = None
    village_id: uuid.UUID | None = None
    address: str
    targets_reached: list[uuid.UUID] = msgspec.field(default_factory=list)
    nearest_target_id: uuid.UUID | None = None
    nearest_target_m: float | None = None
    far_from_targets: bool = False


class FindingCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """Township and village are taken from the position when left out. ``outline`` is the
    walked boundary of the occupied land (Polygon or MultiPolygon, WGS84), if walked: its
    overlay with the parcels gives the occupied area by land class (and the occupied area
    itself when ``occupiedAreaM2`` is left out)."""

    found_at: Time
    project_name: Label
    construction_status: ConstructionStatusName
    lon: Lon
    lat: Lat
    accuracy_m: Accuracy | None = None
    builder: ShortText = ""
    construction_started_on: date | None = None
    occupied_area_m2: Annotated[float, msgspec.Meta(ge=0.0, le=1e9)] | None = None
    township_id: uuid.UUID | None = None
    village_id: uuid.UUID | None = None
    note: FieldNote = ""
    outline: GeoJsonGeometry | None = None


class FindingLandUse(msgspec.Struct, kw_only=True, rename="camel"):
    """Part of a finding's occupied area in one land class."""

    land_class: LandClassName
    land_class_label: str
    area_m2: float
    area_mu: float


class Finding(msgspec.Struct, kw_only=True, rename="camel"):
    """A finding with what the reference layers say of its place, checked when it was
    recorded: ``locationCheck`` (the check evidence gets, with the layer versions used),
    ``landClass`` of the parcel under the position (``landClassLabel`` its Chinese name),
    ``landUse`` the occupied area by land class (``landUseBasis``: ``outline`` from the
    walked boundary, ``position`` the declared area in the class under the position,
    ``none``), ``mineSiteIds`` the closed-mine sites it is at or near, ``flags``
    (``at_mine_site``, ``mine_site_review``) and ``suggestions`` the current referral
    screening suggestions (as for cases: a suggestion for a human, never a referral).
    """

    id: uuid.UUID
    patrol_id: uuid.UUID
    reported_by: uuid.UUID
    found_at: datetime
    project_name: str
    builder: str
    construction_started_on: date | None = None
    construction_status: ConstructionStatusName
    occupied_area_m2: float | None = None
    occupied_area_mu: float | None = None
    lon: float
    lat: float
    accuracy_m: float | None = None
    township_id: uuid.UUID | None = None
    village_id: uuid.UUID | None = None
    note: str
    outline: GeoJsonGeometry | None = None
    land_class: LandClassName | None = None
    land_class_label: str | None = None
    land_use: list[FindingLandUse] = msgspec.field(default_factory=list)
    land_use_basis: str | None = None
    mine_site_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    flags: list[str] = msgspec.field(default_factory=list)
    location_check: LocationCheck | None = None
    suggestions: list[Suggestion] = msgspec.field(default_factory=list)


class FindingPage(msgspec.Struct, kw_only=True, rename="camel"):
    """Newest first; pass ``nextCursor`` back as ``cursor`` for the next page."""

    items: list[Finding]
    next_cursor: str | None = None


# -- tracks --------------------------------------------------------------------------------------


class TrackPointIn(msgspec.Struct, kw_only=True, rename="camel"):
    """One GPS fix; ``id`` is the phone's point id (replays are recognised by it)."""

    id: uuid.UUID
    t: Time
    lon: Lon
    lat: Lat
    accuracy_m: Accuracy
    speed_mps: Annotated[float, msgspec.Meta(ge=0.0, le=1000.0)] | None = None
    heading_deg: Annotated[float, msgspec.Meta(ge=0.0, le=360.0)] | None = None


class TrackBatch(msgspec.Struct, kw_only=True, rename="camel"):
    points: Annotated[list[TrackPointIn], msgspec.Meta(max_length=MAX_TRACK_POINTS)]


class RejectedPoint(msgspec.Struct, kw_only=True, rename="camel"):
    """A point not stored: ``reason`` is ``future_time``, ``before_start``, ``after_end``,
    ``patrol_ended``, ``outside_county``, ``invalid_coordinates``, ``invalid_accuracy`` or
    ``invalid_time``. Once its crew ended the patrol its track is closed: a new point timed
    after the end is ``after_end``, one timed within the patrol is ``patrol_ended``."""

    id: uuid.UUID
    reason: str
    detail: str


class AppendResult(msgspec.Struct, kw_only=True, rename="camel"):
    """``stored`` new points; ``duplicates`` were stored before (or repeated in the batch)."""

    patrol_id: uuid.UUID
    received: int
    stored: int
    duplicates: int
    rejected: list[RejectedPoint]
    point_count: int


class TrackGeoJson(msgspec.Struct, kw_only=True):
    """A GeoJSON FeatureCollection: the filtered route up to the patrol's end first
    (``properties.times`` per vertex), then, when asked for, every stored point with its
    filter ``status`` (``after_end``: timed after the end, counted nowhere)."""

    type: str = "FeatureCollection"
    features: list[dict[str, Any]]


# -- five-to-one duty ----------------------------------------------------------------------------


class DutyCheckCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """A roster member's check; captains and admins may record for a ``memberId``."""

    site_id: uuid.UUID
    checked_at: Time
    status: DutyCheckStatusName
    member_id: uuid.UUID | None = None
    is_night: bool | None = None
    note: FieldNote = ""
    evidence_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class DutyCheck(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    site_id: uuid.UUID
    member_id: uuid.UUID
    recorded_by: uuid.UUID
    checked_at: datetime
    status: DutyCheckStatusName
    is_night: bool
    note: str
    evidence_ids: list[uuid.UUID]


class MemberDuty(msgspec.Struct, kw_only=True, rename="camel"):
    member_id: uuid.UUID
    role: str
    name: str
    user_id: uuid.UUID | None = None
    cycle_days: float
    last_check_at: datetime | None = None
    due_at: datetime | None = None
    overdue: bool
    checks_in_period: int
    required_in_period: int


class SiteDuty(msgspec.Struct, kw_only=True, rename="camel"):
    site_id: uuid.UUID
    site_name: str
    last_status: str | None = None
    last_status_at: datetime | None = None
    overdue_count: int
    members: list[MemberDuty]


class DutyCompliance(msgspec.Struct, kw_only=True, rename="camel"):
    """Members whose checks met their cycle in the period, of all members."""

    sites: int
    members: int
    members_compliant: int
    members_overdue: int
    sites_flagged: int
    ratio: float


# -- review --------------------------------------------------------------------------------------


class WeekCoverage(msgspec.Struct, kw_only=True, rename="camel"):
    """``met`` is null for a running week that has not met its minimum yet."""

    week_start: date
    patrols: int
    night_patrols: int
    required: int
    required_night: int
    met: bool | None = None


class DayCoverage(msgspec.Struct, kw_only=True, rename="camel"):
    """A day of the month (county time) with the patrols that count towards the quota."""

    day: date
    patrols: int
    night_patrols: int


class AreaCoverage(msgspec.Struct, kw_only=True, rename="camel"):
    area_id: uuid.UUID
    code: str
    name: str
    grade: int
    requirement: Requirement
    patrols: int
    night_patrols: int
    quota_met: bool
    night_met: bool
    weeks_met: int
    weeks_total: int
    weeks: list[WeekCoverage]
    distance_km: float
    hours: float
    patrols_with_findings: int
    targets_visited: list[uuid.UUID]
    targets_not_visited: list[uuid.UUID]
    inspector_ids: list[uuid.UUID]
    duty: DutyCompliance | None = None
    #: the days of the month with counted patrols, in order (days without are left out)
    days: list[DayCoverage] = msgspec.field(default_factory=list)


class InspectorCoverage(msgspec.Struct, kw_only=True, rename="camel"):
    user_id: uuid.UUID
    name: str
    patrols: int
    night_patrols: int
    distance_km: float
    hours: float
    area_ids: list[uuid.UUID]


class Coverage(msgspec.Struct, kw_only=True, rename="camel"):
    """One county and month: per area, per inspector, and five-to-one compliance."""

    month: str
    patrols: int
    distance_km: float
    hours: float
    areas: list[AreaCoverage]
    inspectors: list[InspectorCoverage]
    duty: DutyCompliance | None = None


class LiveInspector(msgspec.Struct, kw_only=True, rename="camel"):
    user_id: uuid.UUID
    name: str
    status: LiveStatusName
    patrol_id: uuid.UUID | None = None
    area_id: uuid.UUID | None = None
    last_seen_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None
    patrols_today: int
    distance_today_m: float


class LiveStatus(msgspec.Struct, kw_only=True, rename="camel"):
    """Patrolling now (red), patrolled today (blue), not patrolled today (black)."""

    as_of: datetime
    patrolling: int
    patrolled_today: int
    not_today: int
    inspectors: list[LiveInspector]


class Alert(msgspec.Struct, kw_only=True, rename="camel"):
    """An entry in the captains' feed. ``acknowledgedAt``/``By``: a person saw it.
    ``resolvedAt`` and ``resolution``: its cause ended (``member_checked_in``,
    ``no_longer_overdue``, ``member_off_roster``, ``site_cleared``, ``site_retired``,
    ``site_checked``, ...); the alert stays readable with ``state=resolved``."""

    id: uuid.UUID
    kind: str
    severity: str
    message: str
    site_id: uuid.UUID | None = None
    patrol_id: uuid.UUID | None = None
    duty_check_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    raised_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
