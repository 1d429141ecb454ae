"""12336 tip-offs (clues), their county flow, the reporter's identity, the desk's figures,
and the county's working-day calendar.

Positions are WGS84 unless ``crs`` says ``gcj02`` (converted on intake; answers are WGS84).
Times are aware (with an offset). A clue's views never carry its reporter: ``anonymous``
says whether there is one, and ``GetTipOffReporter`` (clue desk, captains; every read
logged in the custody chain) reads it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from mobile_contract.v1.cases import ViolationKindName
from mobile_contract.v1.common import GeoJsonGeometry
from mobile_contract.v1.geofence import Lat, Lon

__all__ = [
    "CalendarDay",
    "CalendarDayKindName",
    "CalendarDayPut",
    "ClueTypeName",
    "CrsName",
    "DecisionName",
    "FeedbackChannelName",
    "HandlingName",
    "RefusalReasonName",
    "TipOff",
    "TipOffCaseCreate",
    "TipOffChannelName",
    "TipOffCreate",
    "TipOffDecision",
    "TipOffEvent",
    "TipOffFeedback",
    "TipOffFigures",
    "TipOffHandling",
    "TipOffReporter",
    "TipOffReporterIdentity",
    "TipOffStatusName",
    "TipOffStep",
    "TipOffStepName",
    "TipOffSummary",
    "TipOffVerificationAssign",
    "TownshipCount",
    "VerificationOutcomeName",
]

Text = Annotated[str, msgspec.Meta(max_length=4000)]
Ids = Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)]


class TipOffChannelName(enum.StrEnum):
    PHONE_12336 = "phone_12336"
    LETTER = "letter"
    EMAIL = "email"
    LEADERSHIP = "leadership"  # 领导批办
    LOWER_LEVEL = "lower_level"  # 下级上报
    MEDIA = "media"
    TRANSFER_12345 = "transfer_12345"
    WECHAT = "wechat"
    OTHER = "other"


class ClueTypeName(enum.StrEnum):
    LAND_ILLEGAL_APPROVAL = "land_illegal_approval"
    LAND_ILLEGAL_OCCUPATION = "land_illegal_occupation"
    LAND_ILLEGAL_TRANSFER = "land_illegal_transfer"
    LAND_FARMLAND_DESTRUCTION = "land_farmland_destruction"
    LAND_OTHER = "land_other"
    MINERAL_ILLEGAL_EXPLORATION = "mineral_illegal_exploration"
    MINERAL_ILLEGAL_MINING = "mineral_illegal_mining"
    MINERAL_ILLEGAL_RIGHT_APPROVAL = "mineral_illegal_right_approval"
    MINERAL_ILLEGAL_RIGHT_TRANSFER = "mineral_illegal_right_transfer"
    MINERAL_OTHER = "mineral_other"


class TipOffStatusName(enum.StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    TRANSFERRED = "transferred"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    HANDLED = "handled"
    CLOSED = "closed"


class DecisionName(enum.StrEnum):
    ACCEPT = "accept"
    REFUSE = "refuse"
    TRANSFER = "transfer"


class RefusalReasonName(enum.StrEnum):
    REVIEW_LITIGATION_ARBITRATION = "review_litigation_arbitration"
    OFFICIAL_DISCIPLINE = "official_discipline"
    OWNERSHIP_COMPENSATION = "ownership_compensation"
    STATE_SECRETS = "state_secrets"


class VerificationOutcomeName(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    ALREADY_HANDLED = "already_handled"


class HandlingName(enum.StrEnum):
    STOP_ORDER = "stop_order"
    CASE_OPENED = "case_opened"  # set by OpenCaseFromTipOff
    NO_VIOLATION = "no_violation"


class FeedbackChannelName(enum.StrEnum):
    PHONE = "phone"
    SMS = "sms"
    LETTER = "letter"
    EMAIL = "email"
    WECHAT = "wechat"
    IN_PERSON = "in_person"
    OTHER = "other"


class TipOffStepName(enum.StrEnum):
    DECIDE = "decide"
    VERIFY = "verify"
    HANDLE = "handle"
    FEEDBACK = "feedback"


class CalendarDayKindName(enum.StrEnum):
    HOLIDAY = "holiday"
    WORKDAY = "workday"


class CrsName(enum.StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"


# -- requests ------------------------------------------------------------------------------------
class TipOffReporterIdentity(msgspec.Struct, kw_only=True, rename="camel"):
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    id_no: Annotated[str, msgspec.Meta(max_length=40)] = ""
    address: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class TipOffCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """A clue as the desk registers it; no ``reporter``: anonymous. ``evidenceIds``:
    evidence of the county already uploaded, linked to the clue."""

    channel: TipOffChannelName
    received_at: datetime
    facts: Annotated[str, msgspec.Meta(min_length=1, max_length=8000)]
    clue_type: ClueTypeName
    location_text: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    lon: Lon | None = None
    lat: Lat | None = None
    polygon: GeoJsonGeometry | None = None
    crs: CrsName = CrsName.WGS84
    township_id: uuid.UUID | None = None
    reported_party: Annotated[str, msgspec.Meta(max_length=500)] = ""
    reporter: TipOffReporterIdentity | None = None
    evidence_ids: Ids = []


class TipOffDecision(msgspec.Struct, kw_only=True, rename="camel"):
    """Accept; refuse with an exclusion reason; or transfer to the authority named."""

    decision: DecisionName
    refusal_reason: RefusalReasonName | None = None
    transfer_to: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    note: Text = ""


class TipOffVerificationAssign(msgspec.Struct, kw_only=True, rename="camel"):
    """Without ``areaId`` the active area containing the clue's point is taken;
    ``inspectorId`` sends an inspector directly: the target goes to the active area nearest
    the clue that the inspector leads or belongs to."""

    area_id: uuid.UUID | None = None
    inspector_id: uuid.UUID | None = None


class TipOffHandling(msgspec.Struct, kw_only=True, rename="camel"):
    handling: HandlingName
    note: Text = ""


class TipOffCaseCreate(msgspec.Struct, kw_only=True, rename="camel"):
    violation_kind: ViolationKindName
    cause: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None
    evidence_ids: Ids = []


class TipOffFeedback(msgspec.Struct, kw_only=True, rename="camel"):
    channel: FeedbackChannelName
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    at: datetime | None = None


class CalendarDayPut(msgspec.Struct, kw_only=True, rename="camel"):
    """``holiday`` on a weekday, or ``workday`` (调休) on a weekend day."""

    day: date
    kind: CalendarDayKindName
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


# -- answers -------------------------------------------------------------------------------------
class TipOffStep(msgspec.Struct, kw_only=True, rename="camel"):
    """``late``: done at or after ``dueAt``; ``overdue``: not done and ``dueAt`` has passed."""

    step: TipOffStepName
    due_at: datetime | None = None
    done_at: datetime | None = None
    late: bool
    overdue: bool


class TipOffEvent(msgspec.Struct, kw_only=True, rename="camel"):
    kind: str
    at: datetime
    actor_id: uuid.UUID | None = None
    details: dict[str, Any]


class TipOffSummary(msgspec.Struct, kw_only=True, rename="camel"):
    """A clue in the desk's list."""

    id: uuid.UUID
    receipt_no: str
    channel: TipOffChannelName
    received_at: datetime
    location_text: str
    lon: float | None = None
    lat: float | None = None
    township_id: uuid.UUID | None = None
    reported_party: str
    clue_type: ClueTypeName
    anonymous: bool
    status: TipOffStatusName
    duplicate_of: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    steps: list[TipOffStep]
    overdue: bool


class TipOff(msgspec.Struct, kw_only=True, rename="camel"):
    """One clue, its steps and history; never its reporter."""

    id: uuid.UUID
    receipt_no: str
    channel: TipOffChannelName
    received_at: datetime
    location_text: str
    crs: CrsName
    lon: float | None = None
    lat: float | None = None
    geometry: GeoJsonGeometry | None = None
    township_id: uuid.UUID | None = None
    reported_party: str
    facts: str
    clue_type: ClueTypeName
    anonymous: bool
    status: TipOffStatusName
    duplicate_of: uuid.UUID | None = None
    registered_by: uuid.UUID
    decision: DecisionName | None = None
    refusal_reason: RefusalReasonName | None = None
    transfer_to: str | None = None
    decision_note: str
    decided_at: datetime | None = None
    area_id: uuid.UUID | None = None
    target_id: uuid.UUID | None = None
    verify_due_on: date
    verification_outcome: VerificationOutcomeName | None = None
    verification_note: str
    verified_at: datetime | None = None
    verified_by: uuid.UUID | None = None
    finding_ids: list[uuid.UUID]
    verification_evidence_ids: list[uuid.UUID]
    handling: HandlingName | None = None
    handling_note: str
    handled_at: datetime | None = None
    case_id: uuid.UUID | None = None
    feedback_channel: FeedbackChannelName | None = None
    feedback_content: str
    fed_back_at: datetime | None = None
    steps: list[TipOffStep]
    overdue: bool
    evidence_ids: list[uuid.UUID]
    events: list[TipOffEvent]
    created_at: datetime
    updated_at: datetime


class TipOffReporter(msgspec.Struct, kw_only=True, rename="camel"):
    """The reporter's identity (empty when ``anonymous``)."""

    tip_off_id: uuid.UUID
    receipt_no: str
    anonymous: bool
    name: str
    phone: str
    id_no: str
    address: str


class TownshipCount(msgspec.Struct, kw_only=True, rename="camel"):
    township_id: uuid.UUID | None = None
    name: str
    count: int


class TipOffFigures(msgspec.Struct, kw_only=True, rename="camel"):
    """Clues received from ``dateFrom`` to ``dateTo`` (China's days); a duplicate counts
    once, with the clue it repeats (``duplicates`` says how many were left out)."""

    date_from: date
    date_to: date
    total: int
    duplicates: int
    by_channel: dict[str, int]
    by_clue_type: dict[str, int]
    by_status: dict[str, int]
    by_township: list[TownshipCount]
    on_time: int
    late: int


class CalendarDay(msgspec.Struct, kw_only=True, rename="camel"):
    day: date
    kind: CalendarDayKindName
    name: str
