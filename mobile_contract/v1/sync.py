"""Offline sync: pull (changes since a cursor) and push (tagged operations with receipts).

Both accept and answer ``application/json`` or ``application/msgpack`` (``Content-Type`` for
the body, ``Accept`` for the answer), optionally gzip-compressed.

Push operations are a tagged union on ``type``. A server reads each operation on its own:
one it does not know (a newer app) or cannot read gets a ``rejected`` receipt and the rest
of the batch still runs.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from mobile_contract.v1.cases import ReferralStepTime, Suggestion
from mobile_contract.v1.common import GeoJsonGeometry
from mobile_contract.v1.evidence import LocationCheck
from mobile_contract.v1.geofence import LandClassName
from mobile_contract.v1.patrol import (
    ConstructionStatusName,
    DutyCheckStatusName,
    FindingLandUse,
    ManualReasonName,
    SignInMethodName,
    VerificationOutcomeName,
)

__all__ = [
    "AreaChanges",
    "AreaRecord",
    "CaseChanges",
    "CaseParty",
    "CaseRecord",
    "Conflict",
    "DutyCheckOp",
    "EndPatrolOp",
    "EvidenceFields",
    "FeatureChanges",
    "FeatureRecord",
    "FindingChanges",
    "FindingFields",
    "FindingRecord",
    "MineSiteChanges",
    "MineSiteRecord",
    "PatrolChanges",
    "PatrolRecord",
    "PlanChanges",
    "PlanRecord",
    "PullChanges",
    "PullRequest",
    "PullResponse",
    "PushOperation",
    "PushRequest",
    "PushResponse",
    "Receipt",
    "ReceiptStatus",
    "RecordFindingOp",
    "RecordSatelliteResultOp",
    "RecordTargetVerificationOp",
    "RejectedItem",
    "RosterSeat",
    "SatelliteTaskChanges",
    "SatelliteTaskRecord",
    "SignInOp",
    "SignInOutcome",
    "StartPatrolOp",
    "TargetChanges",
    "TargetRecord",
    "TrackPoint",
    "TrackPointsOp",
    "UpdateEvidenceOp",
    "UpdateFindingOp",
]


def _one_of(names: type[enum.StrEnum], what: str) -> str:
    values = ", ".join(f"``{m.value}``" for m in names)
    return f"{what}: one of {values} (the values of ``{names.__name__}``)"


# Text on the wire, as phones have sent them (an unknown value gets the server's own
# rejection in its receipt, and a GPS sign-in ignores its reason code); the values accepted
# are those of the REST enums, checked by the server in one place for REST and sync.
ReasonCode = Annotated[
    str,
    msgspec.Meta(max_length=30, description=_one_of(ManualReasonName, "why a sign-in is manual")),
]
ConstructionStatus = Annotated[
    str, msgspec.Meta(description=_one_of(ConstructionStatusName, "construction status"))
]
DutyStatus = Annotated[
    str, msgspec.Meta(max_length=30, description=_one_of(DutyCheckStatusName, "what was seen"))
]
Outcome = Annotated[
    str,
    msgspec.Meta(max_length=30, description=_one_of(VerificationOutcomeName, "what was found")),
]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with an offset")]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Accuracy = Annotated[float, msgspec.Meta(ge=0, le=10_000, description="metres")]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Short = Annotated[str, msgspec.Meta(max_length=200)]
Version = Annotated[int, msgspec.Meta(description="opaque record version; send it back")]

MAX_OPS = 500


# -- pull ---------------------------------------------------------------------------------------
class PullRequest(msgspec.Struct, kw_only=True, rename="camel"):
    cursor: Annotated[str, msgspec.Meta(max_length=200)] | None = msgspec.field(default=None)
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 2000


class AreaRecord(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    version: Version
    code: str
    name: str
    grade: int
    geometry: GeoJsonGeometry
    leader_id: uuid.UUID
    member_ids: list[uuid.UUID]
    township_ids: list[uuid.UUID]
    village_ids: list[uuid.UUID]


class TargetRecord(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    version: Version
    area_id: uuid.UUID
    kind: str
    name: str
    ref_id: uuid.UUID | None = None
    lon: float
    lat: float
    visit_radius_m: float
    due_on: date | None = None


class PlanRecord(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    version: Version
    area_id: uuid.UUID
    month: date
    quota: int
    min_per_week: int
    min_night: int
    min_night_per_week: int
    target_ids: list[uuid.UUID]
    inspector_ids: list[uuid.UUID]
    note: str


class PatrolRecord(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    version: Version
    area_id: uuid.UUID
    inspector_id: uuid.UUID
    companion_ids: list[uuid.UUID]
    started_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None
    note: str
    has_violation: bool
    point_count: int
    distance_m: float
    duration_s: float


class FindingRecord(msgspec.Struct, kw_only=True, rename="camel"):
    """A finding as ``RecordFinding`` and ``ListFindings`` answer it (``Finding``): with its
    location check, land class, occupied area by land class, mine sites, flags and
    screening suggestions."""

    id: uuid.UUID
    version: Version
    patrol_id: uuid.UUID
    reported_by: uuid.UUID
    found_at: datetime
    project_name: str
    builder: str
    construction_started_on: date | None = None
    construction_status: str
    occupied_area_m2: float | None = None
    lon: float
    lat: float
    accuracy_m: float | None = None
    township_id: uuid.UUID | None = None
    village_id: uuid.UUID | None = None
    note: str
    updated_at: datetime
    outline: GeoJsonGeometry | None = None
    land_class: LandClassName | None = None
    land_class_label: str | None = None
    land_use: list[FindingLandUse] = msgspec.field(default_factory=list)
    land_use_basis: str | None = None
    mine_site_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    flags: list[str] = msgspec.field(default_factory=list)
    location_check: LocationCheck | None = None
    suggestions: list[Suggestion] = msgspec.field(default_factory=list)


class RosterSeat(msgspec.Struct, kw_only=True, rename="camel"):
    role: str
    name: str
    user_id: uuid.UUID | None = None
    duty_period: str
    duty_checks: int


class MineSiteRecord(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    version: Version
    code: str
    name: str
    site_kind: str
    mineral: str
    status: str
    closed_on: date | None = None
    geometry: GeoJsonGeometry
    my_roles: list[str]
    roster: list[RosterSeat]


class FeatureRecord(msgspec.Struct, kw_only=True, rename="camel"):
    """A reference feature of the caller's areas in the current version of its layer."""

    id: uuid.UUID
    version: Version
    layer: str
    layer_version: int
    properties: dict[str, Any]
    geometry: GeoJsonGeometry


class CaseParty(msgspec.Struct, kw_only=True, rename="camel"):
    """A party to a case: name and kind (``person`` | ``organisation``) only."""

    name: str
    kind: str


class CaseRecord(msgspec.Struct, kw_only=True, rename="camel"):
    """An enforcement case the caller may see, open or closed in the last 90 days.

    ``flagged``: flagged for criminal referral (the case or its finding);
    ``referralStatus``: the step of its latest referral, if any; ``referralSteps``: that
    referral's recorded steps against their due times (``referralLate``: one was late).
    ``status`` is ``referred`` while the case is with its referral. Areas in m².
    """

    id: uuid.UUID
    version: Version
    case_no: str
    cause: str
    violation_kind: str
    status: str
    status_changed_at: datetime
    source_kind: str
    source_id: uuid.UUID | None = None
    act_date: date | None = None
    lon: float
    lat: float
    surveyed_geometry: GeoJsonGeometry | None = None
    area_total_m2: float
    area_cultivated_m2: float
    area_basic_farmland_m2: float
    parties: list[CaseParty]
    opened_by: uuid.UUID
    evidence_ids: list[uuid.UUID]
    flagged: bool
    referral_status: str | None = None
    updated_at: datetime
    referral_late: bool = False
    referral_steps: list[ReferralStepTime] = msgspec.field(default_factory=list)


class SatelliteTaskRecord(msgspec.Struct, kw_only=True, rename="camel"):
    """A satellite polygon to verify (卫片图斑核查任务): its batch, monitoring number, status,
    due day, the polygon (WGS84), the monitored areas by land class and the polygon's area
    in mu, its contract area, inspector and patrol target, the current result's outcome, and
    the review's note when it was sent back."""

    id: uuid.UUID
    version: Version
    batch_id: uuid.UUID
    batch_name: str
    monitoring_no: str
    status: str
    due_on: date
    geometry: GeoJsonGeometry
    monitored_areas_mu: dict[str, float] = msgspec.field(default_factory=dict)
    area_mu: float
    area_id: uuid.UUID | None = None
    inspector_id: uuid.UUID | None = None
    target_id: uuid.UUID | None = None
    outcome: str | None = None
    review_note: str = ""


class AreaChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[AreaRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class TargetChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[TargetRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class PlanChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[PlanRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class MineSiteChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[MineSiteRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class PatrolChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[PatrolRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class FindingChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[FindingRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class CaseChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[CaseRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class FeatureChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[FeatureRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class SatelliteTaskChanges(msgspec.Struct, kw_only=True, rename="camel"):
    upserts: list[SatelliteTaskRecord] = msgspec.field(default_factory=list)
    deletes: list[uuid.UUID] = msgspec.field(default_factory=list)


class PullChanges(msgspec.Struct, kw_only=True, rename="camel"):
    """Per collection, in the order to apply them; a deletion also means "left your scope".

    A collection added later (``cases``) is filled only by a stream started after the app
    learnt to read it: an app that starts reading one pulls once without a cursor.
    """

    areas: AreaChanges
    targets: TargetChanges
    plans: PlanChanges
    mine_sites: MineSiteChanges
    patrols: PatrolChanges
    findings: FindingChanges
    features: FeatureChanges
    cases: CaseChanges = msgspec.field(default_factory=CaseChanges)
    satellite_tasks: SatelliteTaskChanges = msgspec.field(default_factory=SatelliteTaskChanges)


class PullResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """Apply ``changes`` atomically, store ``cursor``, then pull again while ``hasMore``.

    ``reset``: this is the first page of a new stream; drop every synced record first.
    Sending ``cursor`` acknowledges this page; if the answer is lost, send the previous
    cursor again. A ``409 cursor_stale`` means: pull without a cursor.
    """

    cursor: str
    has_more: bool
    reset: bool
    server_time: datetime
    changes: PullChanges


# -- push ---------------------------------------------------------------------------------------
class StartPatrolOp(
    msgspec.Struct, kw_only=True, rename="camel", tag="startPatrol", tag_field="type"
):
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    area_id: uuid.UUID
    started_at: AwareTime
    companion_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    note: Text = ""


class EndPatrolOp(msgspec.Struct, kw_only=True, rename="camel", tag="endPatrol", tag_field="type"):
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    ended_at: AwareTime
    note: Text | None = None


class TrackPoint(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    t: AwareTime
    lon: float
    lat: float
    accuracy_m: float
    speed_mps: float | None = None
    heading_deg: float | None = None


class TrackPointsOp(
    msgspec.Struct, kw_only=True, rename="camel", tag="trackPoints", tag_field="type"
):
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    points: Annotated[list[TrackPoint], msgspec.Meta(max_length=2000)]


class SignInOp(msgspec.Struct, kw_only=True, rename="camel", tag="signIn", tag_field="type"):
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    sign_in_id: uuid.UUID
    at: AwareTime
    method: SignInMethodName = SignInMethodName.GPS
    lon: Lon | None = None
    lat: Lat | None = None
    accuracy_m: Accuracy | None = None
    reason_code: ReasonCode | None = None
    village_id: uuid.UUID | None = None
    address: Text = ""


class RecordFindingOp(
    msgspec.Struct, kw_only=True, rename="camel", tag="recordFinding", tag_field="type"
):
    op_id: uuid.UUID
    patrol_id: uuid.UUID
    finding_id: uuid.UUID
    found_at: AwareTime
    project_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    construction_status: ConstructionStatus
    lon: Lon
    lat: Lat
    accuracy_m: Accuracy | None = None
    builder: Short = ""
    construction_started_on: date | None = None
    occupied_area_m2: Annotated[float, msgspec.Meta(ge=0)] | None = None
    township_id: uuid.UUID | None = None
    village_id: uuid.UUID | None = None
    note: Text = ""
    outline: GeoJsonGeometry | None = None


class FindingFields(msgspec.Struct, kw_only=True, rename="camel"):
    """Editable finding fields; a missing (null) field is not part of the edit."""

    project_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    builder: Short | None = None
    construction_started_on: date | None = None
    construction_status: ConstructionStatus | None = None
    occupied_area_m2: Annotated[float, msgspec.Meta(ge=0)] | None = None
    note: Text | None = None


class UpdateFindingOp(
    msgspec.Struct, kw_only=True, rename="camel", tag="updateFinding", tag_field="type"
):
    """Edit a finding last seen at ``baseVersion``; ``base`` (the edited fields' values before
    the edit) lets edits of different fields merge instead of conflicting."""

    op_id: uuid.UUID
    finding_id: uuid.UUID
    base_version: int
    changes: FindingFields
    base: FindingFields | None = None


class DutyCheckOp(msgspec.Struct, kw_only=True, rename="camel", tag="dutyCheck", tag_field="type"):
    op_id: uuid.UUID
    check_id: uuid.UUID
    site_id: uuid.UUID
    checked_at: AwareTime
    status: DutyStatus
    member_id: uuid.UUID | None = None
    is_night: bool | None = None
    note: Text = ""
    evidence_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class RecordTargetVerificationOp(
    msgspec.Struct, kw_only=True, rename="camel", tag="recordTargetVerification", tag_field="type"
):
    """A target's verification result (``RecordTargetVerification``); ``outcome`` is
    ``found``, ``not_found`` or ``already_handled``."""

    op_id: uuid.UUID
    target_id: uuid.UUID
    verification_id: uuid.UUID
    outcome: Outcome
    verified_at: AwareTime
    patrol_id: uuid.UUID | None = None
    note: Text = ""
    finding_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    evidence_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class RecordSatelliteResultOp(
    msgspec.Struct, kw_only=True, rename="camel", tag="recordSatelliteResult", tag_field="type"
):
    """A satellite task's field result (``RecordSatelliteResult``; its body's fields and
    rules): ``outcome`` ``legal``, ``not_new`` or ``illegal``; the enumerated fields take the
    values of the REST body's enums, checked by the server (a refusal is in the receipt)."""

    op_id: uuid.UUID
    task_id: uuid.UUID
    result_id: uuid.UUID
    outcome: Annotated[str, msgspec.Meta(max_length=30)]
    verified_at: AwareTime
    patrol_id: uuid.UUID | None = None
    note: Text = ""
    evidence_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    proof_type: Annotated[str, msgspec.Meta(max_length=30)] | None = None
    approval_no: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    approval_body: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    approval_date: date | None = None
    approval_area_mu: Annotated[float, msgspec.Meta(ge=0, lt=1e9)] | None = None
    not_new_kind: Annotated[str, msgspec.Meta(max_length=30)] | None = None
    violator: Short | None = None
    violator_type: Annotated[str, msgspec.Meta(max_length=30)] | None = None
    land_use: Annotated[str, msgspec.Meta(max_length=30)] | None = None
    construction_status: Annotated[str, msgspec.Meta(max_length=30)] | None = None
    outline: GeoJsonGeometry | None = None
    crs: Annotated[str, msgspec.Meta(pattern="^(wgs84|gcj02)$")] = "wgs84"


ViewType = Annotated[
    str,
    msgspec.Meta(pattern="^(far|close|corner|interior)?$", description="empty: clear it"),
]


class EvidenceFields(msgspec.Struct, kw_only=True, rename="camel"):
    """Descriptive evidence fields; a missing (null) field is not part of the edit."""

    caption: Text | None = None
    proves: Text | None = None
    view_type: ViewType | None = None


class UpdateEvidenceOp(
    msgspec.Struct, kw_only=True, rename="camel", tag="updateEvidence", tag_field="type"
):
    """Caption and metadata of an evidence item (the bytes go through the upload flow).

    Send ``baseVersion`` (the ``version`` of the last receipt for this evidence) and
    ``base`` (the values before the edit, e.g. those declared with the upload) so that a
    captain's edit in the meantime comes back as a conflict instead of being overwritten.
    An upload not completed yet may be edited by its uploader.
    """

    op_id: uuid.UUID
    evidence_id: uuid.UUID
    caption: Text | None = None
    proves: Text | None = None
    view_type: ViewType | None = None
    base_version: int | None = None
    base: EvidenceFields | None = None


PushOperation = (
    StartPatrolOp
    | EndPatrolOp
    | TrackPointsOp
    | SignInOp
    | RecordFindingOp
    | UpdateFindingOp
    | DutyCheckOp
    | UpdateEvidenceOp
    | RecordTargetVerificationOp
    | RecordSatelliteResultOp
)


class PushRequest(msgspec.Struct, kw_only=True, rename="camel"):
    ops: Annotated[list[PushOperation], msgspec.Meta(max_length=MAX_OPS)]
    device_time: AwareTime | None = None


class ReceiptStatus(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"


class Conflict(msgspec.Struct, kw_only=True, rename="camel"):
    server_version: int
    fields: list[str]
    server_values: dict[str, Any]


class RejectedItem(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    code: str
    reason: str


class SignInOutcome(msgspec.Struct, kw_only=True, rename="camel"):
    """What a sign-in reached, as ``SignIn`` reports it: the targets reached, the nearest
    target and its distance in metres, and whether it is far from every target."""

    targets_reached: list[uuid.UUID] = msgspec.field(default_factory=list)
    nearest_target_id: uuid.UUID | None = None
    nearest_target_m: float | None = None
    far_from_targets: bool = False


class Receipt(msgspec.Struct, kw_only=True, rename="camel"):
    """One per operation, in batch order (``index``). ``retryable``: send the op again later.
    ``signIn``: for an applied or duplicate ``signIn`` operation, what the sign-in reached."""

    index: int
    op_id: uuid.UUID | None = None
    status: ReceiptStatus
    record_id: uuid.UUID | None = None
    version: int | None = None
    code: str | None = None
    reason: str | None = None
    retryable: bool = False
    conflict: Conflict | None = None
    rejected_items: list[RejectedItem] = msgspec.field(default_factory=list)
    sign_in: SignInOutcome | None = None


class PushResponse(msgspec.Struct, kw_only=True, rename="camel"):
    receipts: list[Receipt]
    server_time: datetime
    clock_skew_s: float | None = None
