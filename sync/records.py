"""What a phone holds, one dataclass per collection (the API maps them to wire Structs).

``version`` changes whenever the record's content may have changed (it is derived from the
rows' ``xmin``); a phone sends it back as ``base_version`` when it edits a record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from evidence.cases.referrals import StepTiming
from patrol.finding_checks import CheckAnswer, LandUse, SuggestionRef

__all__ = [
    "AreaRecord",
    "CaseParty",
    "CaseRecord",
    "FeatureRecord",
    "FindingRecord",
    "JsonRecords",
    "MineSiteRecord",
    "PatrolRecord",
    "PlanRecord",
    "RosterSeat",
    "SatelliteTaskRecord",
    "TargetRecord",
]


@dataclass(frozen=True, slots=True)
class AreaRecord:
    id: uuid.UUID
    version: int
    code: str
    name: str
    grade: int
    geometry: dict[str, Any]
    leader_id: uuid.UUID
    member_ids: list[uuid.UUID]
    township_ids: list[uuid.UUID]
    village_ids: list[uuid.UUID]


@dataclass(frozen=True, slots=True)
class TargetRecord:
    id: uuid.UUID
    version: int
    area_id: uuid.UUID
    kind: str
    name: str
    ref_id: uuid.UUID | None
    lon: float
    lat: float
    visit_radius_m: float
    due_on: date | None = None


@dataclass(frozen=True, slots=True)
class PlanRecord:
    id: uuid.UUID
    version: int
    area_id: uuid.UUID
    month: date
    quota: int
    min_per_week: int
    min_night: int
    min_night_per_week: int
    target_ids: list[uuid.UUID]
    inspector_ids: list[uuid.UUID]
    note: str


@dataclass(frozen=True, slots=True)
class PatrolRecord:
    id: uuid.UUID
    version: int
    area_id: uuid.UUID
    inspector_id: uuid.UUID
    companion_ids: list[uuid.UUID]
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    note: str
    has_violation: bool
    point_count: int
    distance_m: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class FindingRecord:
    id: uuid.UUID
    version: int
    patrol_id: uuid.UUID
    reported_by: uuid.UUID
    found_at: datetime
    project_name: str
    builder: str
    construction_started_on: date | None
    construction_status: str
    occupied_area_m2: float | None
    lon: float
    lat: float
    accuracy_m: float | None
    township_id: uuid.UUID | None
    village_id: uuid.UUID | None
    note: str
    updated_at: datetime
    # what the reference layers say of its place (patrol.finding_checks.FindingPlace)
    outline: dict[str, Any] | None = None
    land_class: str | None = None
    land_class_label: str | None = None
    land_use: tuple[LandUse, ...] = ()
    land_use_basis: str | None = None
    mine_site_ids: tuple[uuid.UUID, ...] = ()
    flags: tuple[str, ...] = ()
    location_check: CheckAnswer | None = None
    suggestions: tuple[SuggestionRef, ...] = ()


@dataclass(frozen=True, slots=True)
class RosterSeat:
    role: str
    name: str
    user_id: uuid.UUID | None
    duty_period: str
    duty_checks: int


@dataclass(frozen=True, slots=True)
class MineSiteRecord:
    id: uuid.UUID
    version: int
    code: str
    name: str
    site_kind: str
    mineral: str
    status: str
    closed_on: date | None
    geometry: dict[str, Any]
    my_roles: list[str]
    roster: list[RosterSeat] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeatureRecord:
    """A reference-layer feature of the caller's areas (current layer version)."""

    id: uuid.UUID
    version: int
    layer: str
    layer_version: int
    properties: dict[str, Any]
    geometry: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JsonRecords:
    """Records PostgreSQL wrote as one JSON array, to be sent on as they are.

    Used for features (many and simple): each element has the fields of
    :class:`FeatureRecord`, named as the API sends them (``layerVersion``), so the JSON
    answer splices ``data`` in untouched and only a MessagePack answer decodes it.
    """

    data: str
    count: int

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True, slots=True)
class CaseParty:
    """Name and kind only: ID numbers, addresses and phone numbers stay on the server."""

    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class CaseRecord:
    id: uuid.UUID
    version: int
    case_no: str
    cause: str
    violation_kind: str
    status: str
    status_changed_at: datetime
    source_kind: str
    source_id: uuid.UUID | None
    act_date: date | None
    lon: float
    lat: float
    surveyed_geometry: dict[str, Any] | None
    area_total_m2: float
    area_cultivated_m2: float
    area_basic_farmland_m2: float
    parties: list[CaseParty]
    opened_by: uuid.UUID
    evidence_ids: list[uuid.UUID]
    flagged: bool
    referral_status: str | None
    updated_at: datetime
    referral_steps: tuple[StepTiming, ...] = ()

    @property
    def referral_late(self) -> bool:
        return any(s.late for s in self.referral_steps)


@dataclass(frozen=True, slots=True)
class SatelliteTaskRecord:
    """A satellite polygon to verify: its batch, monitoring number, state, due day, the
    polygon (WGS84 GeoJSON), the monitored areas by land class and the polygon's area (mu),
    where and by whom it is verified, the current outcome, and the review's note when the
    task was sent back."""

    id: uuid.UUID
    version: int
    batch_id: uuid.UUID
    batch_name: str
    monitoring_no: str
    status: str
    due_on: date
    geometry: dict[str, Any]
    monitored_areas_mu: dict[str, float]
    area_mu: float
    area_id: uuid.UUID | None
    inspector_id: uuid.UUID | None
    target_id: uuid.UUID | None
    outcome: str | None
    review_note: str
