"""Cases, threshold screening, flags, criminal referrals and their evidence packages.

Areas are m² with the same figure in mu beside it (1 mu = 666.67 m²); money is yuan, sent
as a decimal string (``"150000.00"``) so no amount is rounded on the way. Times of referral
steps are aware (with an offset); a step sent without ``at`` happened now.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from mobile_contract.v1.common import GeoJsonGeometry
from mobile_contract.v1.geofence import Lat, Lon

__all__ = [
    "Areas",
    "Case",
    "CaseCreate",
    "CaseEvidenceLink",
    "CaseStatusChange",
    "CaseStatusName",
    "CaseTeam",
    "CaseTeamMember",
    "CaseUpdate",
    "Flag",
    "FlagCreate",
    "LonLat",
    "Material",
    "MaterialKindName",
    "OverdueStep",
    "Party",
    "PartyKindName",
    "PenaltyKindName",
    "PoliceDecision",
    "PoliceReceipt",
    "PriorPenalty",
    "ReconsiderationRequest",
    "Referral",
    "ReferralCreate",
    "ReferralDecision",
    "ReferralHandover",
    "ReferralStatusName",
    "ReferralStepName",
    "ReferralStepTime",
    "ReferralTransfer",
    "Rule",
    "RuleCreate",
    "SourceKindName",
    "Suggestion",
    "TeamRoleName",
    "ViolationKindName",
]

Money = Annotated[Decimal, msgspec.Meta(description="yuan, a decimal string such as 150000.00")]
Reason = Annotated[str, msgspec.Meta(max_length=4000)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Ids = Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)]


class CaseStatusName(enum.StrEnum):
    CLUE = "clue"
    FILED = "filed"
    INVESTIGATING = "investigating"
    DECIDED = "decided"
    EXECUTING = "executing"
    CLOSED = "closed"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    WITHDRAWN = "withdrawn"
    REFERRED = "referred"  # 移送公安: follows the referral; ``referredFrom`` says where it was


class ViolationKindName(enum.StrEnum):
    LAND_OCCUPATION = "land_occupation"
    LAND_TRANSFER = "land_transfer"
    ILLEGAL_MINING = "illegal_mining"
    DESTRUCTIVE_MINING = "destructive_mining"
    ILLEGAL_CONSTRUCTION = "illegal_construction"
    OTHER = "other"


class SourceKindName(enum.StrEnum):
    FINDING = "finding"
    CHANGE_POLYGON = "change_polygon"
    TIP_OFF = "tip_off"
    SATELLITE = "satellite"  # a satellite campaign task judged illegal (the id: the task)
    OTHER = "other"


class PenaltyKindName(enum.StrEnum):
    LAND_OCCUPATION = "land_occupation"
    GRASSLAND = "grassland"
    ILLEGAL_MINING = "illegal_mining"
    OTHER = "other"


class PartyKindName(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class ReferralStatusName(enum.StrEnum):
    REPORTED = "reported"
    REJECTED = "rejected"
    APPROVED = "approved"
    TRANSFERRED = "transferred"
    RECEIVED = "received"
    POLICE_FILED = "police_filed"
    NOT_FILED = "not_filed"
    RECONSIDERATION = "reconsideration"
    CLOSED_NOT_FILED = "closed_not_filed"
    HANDED_OVER = "handed_over"


class ReferralStepName(enum.StrEnum):
    DECISION = "decision"
    TRANSFER = "transfer"
    POLICE_RECEIPT = "police_receipt"
    POLICE_DECISION = "police_decision"
    RECONSIDERATION_REQUEST = "reconsideration_request"
    RECONSIDERATION_DECISION = "reconsideration_decision"
    HANDOVER = "handover"


class MaterialKindName(enum.StrEnum):
    REFERRAL_LETTER = "referral_letter"
    INVESTIGATION_REPORT = "investigation_report"
    ITEMS_LIST = "items_list"
    APPRAISAL_REPORT = "appraisal_report"
    EVIDENCE_PACKAGE = "evidence_package"
    ITEM = "item"
    OTHER = "other"


# -- shared parts -------------------------------------------------------------------------------
class Party(msgspec.Struct, kw_only=True, rename="camel"):
    """A party to the case (当事人): a person or an organisation."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: PartyKindName = PartyKindName.PERSON
    id_no: Annotated[str, msgspec.Meta(max_length=40)] = ""
    address: ShortText = ""
    phone: Annotated[str, msgspec.Meta(max_length=32)] = ""


class PriorPenalty(msgspec.Struct, kw_only=True, rename="camel"):
    """An earlier administrative penalty of the same party (counts towards thresholds)."""

    kind: PenaltyKindName
    decided_on: date
    decision_no: Annotated[str, msgspec.Meta(max_length=60)] = ""


class LonLat(msgspec.Struct, kw_only=True, rename="camel"):
    lon: Lon
    lat: Lat


class Material(msgspec.Struct, kw_only=True, rename="camel"):
    """A document or item given to the police."""

    kind: MaterialKindName
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    reference: ShortText = ""
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1


DeclaredAreas = Annotated[
    dict[str, Annotated[float, msgspec.Meta(ge=0.0, le=1e10)]],
    msgspec.Meta(
        description="m² of land the parcels layer does not tell apart, by kind: "
        "forest_public_welfare, forest_commercial, grassland"
    ),
]


# -- cases --------------------------------------------------------------------------------------
class CaseCreate(msgspec.Struct, kw_only=True, rename="camel"):
    cause: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    violation_kind: ViolationKindName
    lon: Lon
    lat: Lat
    source_kind: SourceKindName = SourceKindName.OTHER
    source_id: uuid.UUID | None = None
    case_no: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | None = None
    parties: Annotated[list[Party], msgspec.Meta(max_length=100)] = []
    act_date: date | None = None
    surveyed_geometry: GeoJsonGeometry | None = None
    declared_areas_m2: DeclaredAreas = {}
    ore_value_yuan: Money | None = None
    destroyed_value_yuan: Money | None = None
    illegal_gain_yuan: Money | None = None
    special_area: bool = False
    prior_penalties: Annotated[list[PriorPenalty], msgspec.Meta(max_length=100)] = []
    evidence_ids: Ids = []


class CaseUpdate(msgspec.Struct, kw_only=True, rename="camel"):
    """Fields left out stay as they are; evidence in ``addEvidenceIds`` is linked."""

    cause: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None
    violation_kind: ViolationKindName | None = None
    parties: Annotated[list[Party], msgspec.Meta(max_length=100)] | None = None
    location: LonLat | None = None
    act_date: date | None = None
    surveyed_geometry: GeoJsonGeometry | None = None
    declared_areas_m2: DeclaredAreas | None = None
    ore_value_yuan: Money | None = None
    destroyed_value_yuan: Money | None = None
    illegal_gain_yuan: Money | None = None
    special_area: bool | None = None
    prior_penalties: Annotated[list[PriorPenalty], msgspec.Meta(max_length=100)] | None = None
    add_evidence_ids: Ids = []


class CaseEvidenceLink(msgspec.Struct, kw_only=True, rename="camel"):
    evidence_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=500)]


class TeamRoleName(enum.StrEnum):
    LEAD = "lead"  # 主办人
    MEMBER = "member"  # 协办人
    JOINT = "joint"  # a police or land officer of a joint team


class CaseTeamMember(msgspec.Struct, kw_only=True, rename="camel"):
    """One person on a case team (``displayName`` is filled in answers, ignored in requests)."""

    user_id: uuid.UUID
    role_in_team: TeamRoleName
    display_name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class CaseTeam(msgspec.Struct, kw_only=True, rename="camel"):
    """The whole team of a case (``SetCaseTeam`` replaces it; an empty list clears it): at
    most one ``lead``; joint-team users join as ``joint``, officers as ``lead``/``member``."""

    members: Annotated[list[CaseTeamMember], msgspec.Meta(max_length=100)]


class CaseStatusChange(msgspec.Struct, kw_only=True, rename="camel"):
    """Suspend, terminate and withdraw need a reason; a suspended case resumes by changing
    to the status it was suspended from."""

    status: CaseStatusName
    reason: Reason = ""


class AreaSource(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Where a case's areas come from: the parcels layer version of the overlay and when
    (members the overlay did not record are left out)."""

    layer: str | None = None
    layer_version_id: uuid.UUID | None = None
    layer_version_no: int | None = None
    basis: str | None = None
    computed_at: datetime | None = None


_DEPRECATED_SOURCE = (
    "Deprecated: the same facts, typed and in camelCase, are in ``overlaySource``. "
    "This member keeps its snake_case keys until v2."
)
_DEPRECATED_CONDITION = (
    "Deprecated: the same facts, typed and in camelCase, are in ``ruleCondition``. "
    "This member keeps its snake_case keys until v2."
)


class PenaltyCondition(msgspec.Struct, kw_only=True, rename="camel"):
    """At least ``atLeast`` earlier penalties of ``kind`` within ``withinYears`` years."""

    kind: PenaltyKindName
    within_years: Annotated[int, msgspec.Meta(ge=1, le=100)]
    at_least: Annotated[int, msgspec.Meta(ge=1, le=1000)]


class RuleCondition(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """When a referral rule applies beyond its metric and threshold: only in (or outside) a
    special area; only after earlier penalties; for the ``prior_penalties`` metric, which
    penalties count and over how many years."""

    special_area: bool | None = None
    penalties: PenaltyCondition | None = None
    penalty_kind: PenaltyKindName | None = None
    within_years: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None


class Areas(msgspec.Struct, kw_only=True, rename="camel"):
    """Areas of the surveyed polygon by land class, from the overlay with the parcels layer."""

    total_m2: float
    total_mu: float
    cultivated_m2: float
    cultivated_mu: float
    basic_farmland_m2: float
    basic_farmland_mu: float
    by_class: dict[str, float]
    source: Annotated[
        dict[str, Any],
        msgspec.Meta(extra_json_schema={"deprecated": True}, description=_DEPRECATED_SOURCE),
    ]
    overlay_source: AreaSource = msgspec.field(default_factory=AreaSource)


class Suggestion(msgspec.Struct, kw_only=True, rename="camel"):
    """The case met a referral rule: a suggestion for a human, never a referral."""

    id: uuid.UUID
    rule_id: uuid.UUID
    rule_code: str
    crime: str
    level: str
    metric: str
    value: Decimal
    threshold: Decimal
    unit: str
    citation: str
    message: str
    created_at: datetime


class Flag(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    case_id: uuid.UUID | None = None
    finding_id: uuid.UUID | None = None
    reason: str
    flagged_by: uuid.UUID
    flagged_at: datetime


class Case(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    case_no: str
    cause: str
    violation_kind: ViolationKindName
    status: CaseStatusName
    suspended_from: CaseStatusName | None = None
    status_changed_at: datetime
    parties: list[Party]
    source_kind: SourceKindName
    source_id: uuid.UUID | None = None
    act_date: date | None = None
    lon: float
    lat: float
    surveyed_geometry: GeoJsonGeometry | None = None
    surveyed_at: datetime | None = None
    areas: Areas
    declared_areas_m2: dict[str, float]
    ore_value_yuan: Decimal | None = None
    destroyed_value_yuan: Decimal | None = None
    illegal_gain_yuan: Decimal | None = None
    special_area: bool
    prior_penalties: list[PriorPenalty]
    evidence_ids: list[uuid.UUID]
    suggestions: list[Suggestion]
    flagged: bool
    flags: list[Flag]
    referral_ids: list[uuid.UUID]
    opened_by: uuid.UUID
    screened_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    team: list[CaseTeamMember] = msgspec.field(default_factory=list)
    referred_from: CaseStatusName | None = None


# -- referral rules -----------------------------------------------------------------------------
class RuleCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """A provincial threshold (or a new version of one) for the caller's province."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    violation_kind: ViolationKindName
    crime: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    article: Annotated[str, msgspec.Meta(max_length=60)]
    metric: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    threshold: Annotated[Decimal, msgspec.Meta(description="in the rule's unit")]
    unit: Annotated[str, msgspec.Meta(pattern=r"^(mu|yuan|count)$")]
    citation: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    effective_from: date
    effective_to: date | None = None
    level: Annotated[str, msgspec.Meta(pattern=r"^(threshold|especially_serious)$")] = "threshold"
    condition: Annotated[
        dict[str, Any],
        msgspec.Meta(extra_json_schema={"deprecated": True}, description=_DEPRECATED_CONDITION),
    ] = {}
    description: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    rule_condition: Annotated[
        RuleCondition | None,
        msgspec.Meta(description="the condition, typed; when given, ``condition`` is ignored"),
    ] = None


class Rule(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    province_code: str
    code: str
    violation_kind: ViolationKindName
    crime: str
    article: str
    level: str
    metric: str
    threshold: Decimal
    unit: str
    condition: Annotated[
        dict[str, Any],
        msgspec.Meta(extra_json_schema={"deprecated": True}, description=_DEPRECATED_CONDITION),
    ]
    citation: str
    description: str
    effective_from: date
    effective_to: date | None = None
    rule_condition: RuleCondition = msgspec.field(default_factory=RuleCondition)


# -- flags and referrals ------------------------------------------------------------------------
class FlagCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """Flag exactly one of a case or a finding for criminal referral, with a reason."""

    case_id: uuid.UUID | None = None
    finding_id: uuid.UUID | None = None
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class ReferralCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """The team's written report to the head; the team needs at least two officers."""

    team_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=20)]
    report: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
    at: datetime | None = None


class ReferralDecision(msgspec.Struct, kw_only=True, rename="camel"):
    """The head's decision; a refusal needs its reason in ``note``."""

    approved: bool
    note: Reason = ""
    at: datetime | None = None


class ReferralTransfer(msgspec.Struct, kw_only=True, rename="camel"):
    """Needs the referral letter, the investigation report and the list of items."""

    police_unit: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    materials: Annotated[list[Material], msgspec.Meta(max_length=200)]
    at: datetime | None = None


class PoliceReceipt(msgspec.Struct, kw_only=True, rename="camel"):
    receipt_no: Annotated[str, msgspec.Meta(max_length=60)] = ""
    at: datetime | None = None


class PoliceDecision(msgspec.Struct, kw_only=True, rename="camel"):
    """The police's decision, or their answer to a reconsideration; a refusal needs the
    police's reason."""

    filed: bool
    decision_no: Annotated[str, msgspec.Meta(max_length=60)] = ""
    reason: Reason = ""
    at: datetime | None = None


class ReconsiderationRequest(msgspec.Struct, kw_only=True, rename="camel"):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    at: datetime | None = None


class ReferralHandover(msgspec.Struct, kw_only=True, rename="camel"):
    items: Annotated[list[Material], msgspec.Meta(min_length=1, max_length=1000)]
    at: datetime | None = None


class ReferralStepTime(msgspec.Struct, kw_only=True, rename="camel"):
    """A recorded step against its due time: ``late`` when done after ``dueAt``, by
    ``lateByS`` whole seconds (rounded up); exactly at ``dueAt`` is on time (0)."""

    step: ReferralStepName
    due_at: datetime
    done_at: datetime
    late: bool
    late_by_s: int


class Referral(msgspec.Struct, kw_only=True, rename="camel"):
    """One referral to the police; ``nextStep``/``nextDueAt`` name what it waits for
    (``overdue``: that step is past due now); ``steps`` are the recorded steps with their
    lateness (``late``: one of them was recorded after its due time)."""

    id: uuid.UUID
    case_id: uuid.UUID
    case_no: str
    status: ReferralStatusName
    team_ids: list[uuid.UUID]
    report: str
    reported_by: uuid.UUID
    reported_at: datetime
    decision_due_at: datetime
    decision: str | None = None
    decided_by: uuid.UUID | None = None
    decided_at: datetime | None = None
    decision_note: str
    transfer_due_at: datetime | None = None
    transferred_at: datetime | None = None
    police_unit: str
    materials: list[Material]
    receipt_due_at: datetime | None = None
    receipt_at: datetime | None = None
    receipt_no: str
    police_decision_due_at: datetime | None = None
    police_decision: str | None = None
    police_decided_at: datetime | None = None
    police_decision_no: str
    police_reason: str
    reconsideration_due_at: datetime | None = None
    reconsideration_requested_at: datetime | None = None
    reconsideration_reason: str
    reconsideration_decision_due_at: datetime | None = None
    reconsideration_result: str | None = None
    reconsideration_decided_at: datetime | None = None
    handover_due_at: datetime | None = None
    handed_over_at: datetime | None = None
    handover_items: list[Material]
    next_step: ReferralStepName | None = None
    next_due_at: datetime | None = None
    overdue: bool
    closed_at: datetime | None = None
    late: bool = False
    steps: list[ReferralStepTime] = msgspec.field(default_factory=list)


class OverdueStep(msgspec.Struct, kw_only=True, rename="camel"):
    """A legal step past its due time and not recorded yet."""

    referral_id: uuid.UUID
    case_id: uuid.UUID
    case_no: str
    status: ReferralStatusName
    step: ReferralStepName
    due_at: datetime
    overdue_s: int
