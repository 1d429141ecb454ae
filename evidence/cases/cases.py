"""Cases: open, update, change status, link evidence, list; who sees which case.

A finding, a verified change polygon or a tip-off becomes a case. Its areas by land class
come from the overlay of the surveyed polygon with the current parcels layer
(:func:`geofence_land_class_areas` over geofence's overlay; :func:`postgis_land_class_areas`
in PostGIS; swappable through the ``overlay`` option), and every
change of geometry, areas, values or history runs the threshold screening
(:mod:`evidence.cases.screening`), which can only *suggest* a referral.

Visibility (need-to-know, README) is :func:`evidence.cases.access.case_visible`, the
one rule sync pull uses too; always inside the caller's county:

* captains and admins see every case of the county;
* the security squad sees cases that are flagged for referral (directly, or through the
  finding they came from), carry a current screening suggestion, or are referred — a case
  seen only for its suggestion is read-only to the squad until someone flags it;
* inspectors and joint-team members see the cases they opened or whose team they are on.

A case the caller may not see does not exist for them (:class:`CaseNotFoundError`).

Teams (:func:`set_case_team`, captains and admins): a lead officer, members and joint
police/land members, all active users of the county. Inspectors on the team (and the one who
opened the case) may change it; joint members read it and attach evidence to it.

A screening that adds a suggestion raises a ``referral_suggested`` alert in the county's feed
(captains and the squad read it).

Status workflow::

    clue -> filed -> investigating -> decided -> executing -> closed
    suspend: filed..executing -> suspended -> (back to where it was)
    terminate: filed..executing, suspended -> terminated
    withdraw: clue, filed, investigating, suspended -> withdrawn

A case follows its criminal referral (移送公安, :mod:`evidence.cases.referrals`); these moves are
made by the referral's steps, never by :func:`change_status`::

    any unfinished status -- team's report (CreateReferral) ----------> referred
    referred -- head refuses / police refuse to file / refuse again ----> back to where it was
    (back) -- reconsideration asked --------------------------------> referred
    referred -- police file the case, items handed over -------------> stays referred
                (a later referral the head turns down leaves it there)

``referred_from`` keeps the status the case left. While a referral is open (the head, the
police or a reconsideration pending, or the handover after the police filed) the status is
the referral's: captains cannot change it. Once the police have the case and the referral
is closed, captains close the case (结案: transferred to the judiciary), terminate it, or
resume the administrative procedure where it was (a fine never replaces a referral, but the
measures already ordered go on). Every move is a ``status`` entry in the case's history,
with the referral and the step that made it.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVarTuple, cast

import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point
from sqlalchemy import Select, delete, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.access import caller_of
from evidence.cases.access import (
    MASKED_ID_ROLES,
    case_flagged,
    case_referred,
    case_suggested,
    case_visible,
)
from evidence.cases.errors import (
    CaseNotFoundError,
    CaseSourceNotFoundError,
    CaseStatusTransitionError,
    InvalidCaseError,
    UnknownEvidenceError,
    UnknownTeamMemberError,
)
from evidence.cases.models import (
    Case,
    CaseEvent,
    CaseEvidence,
    CaseStatus,
    CaseTeamMember,
    PenaltyKind,
    Referral,
    ReferralFlag,
    ReferralStatus,
    ReferralSuggestion,
    SourceKind,
    TeamRole,
    ViolationKind,
)
from evidence.cases.satellite_models import SatelliteTask
from evidence.cases.screening import alert_suggestions, screen_case
from evidence.cases.tip_off_models import TipOff
from evidence.models import Evidence, Upload
from geofence.enums import LandClass, LayerKind
from geofence.layers import current_versions
from geofence.models import ChangePolygon, Parcel
from geofence.overlay import overlay_area, to_mu
from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import ConflictError
from infra.geometry import check_lon_lat, parse_polygonal, to_ewkt
from infra.scope import COUNTY_TZ, MANAGERS, Principal, Role, require_role, scoped
from patrol.field_models import Finding
from patrol.finding_checks import SuggestionRef
from patrol.models import County, User

__all__ = [
    "DECLARED_AREA_KINDS",
    "AreaOverlay",
    "Areas",
    "CaseChanges",
    "CaseInput",
    "CaseView",
    "FlagView",
    "OverlayResult",
    "Party",
    "PriorPenalty",
    "SuggestionView",
    "TeamMember",
    "case_evidence_ids",
    "change_status",
    "check_evidence",
    "ensure_unfinished",
    "ensure_writer",
    "enter_referral",
    "geofence_land_class_areas",
    "get_case",
    "leave_referral",
    "link_evidence",
    "list_cases",
    "load_case",
    "move_status",
    "open_case",
    "postgis_land_class_areas",
    "record_event",
    "set_case_team",
    "update_case",
]

"""Square metres in one mu (亩)."""

DECLARED_AREA_KINDS = ("forest_public_welfare", "forest_commercial", "grassland")
"""Land the parcels layer does not tell apart; officers enter these areas (m²) by hand."""

_CASE_WRITERS = (Role.INSPECTOR, Role.CAPTAIN, Role.ADMIN)
_MAX_MONEY = Decimal("1e13")
_Ts = TypeVarTuple("_Ts")

_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.CLUE: frozenset({CaseStatus.FILED, CaseStatus.WITHDRAWN}),
    CaseStatus.FILED: frozenset(
        {
            CaseStatus.INVESTIGATING,
            CaseStatus.SUSPENDED,
            CaseStatus.TERMINATED,
            CaseStatus.WITHDRAWN,
        }
    ),
    CaseStatus.INVESTIGATING: frozenset(
        {CaseStatus.DECIDED, CaseStatus.SUSPENDED, CaseStatus.TERMINATED, CaseStatus.WITHDRAWN}
    ),
    CaseStatus.DECIDED: frozenset(
        {CaseStatus.EXECUTING, CaseStatus.SUSPENDED, CaseStatus.TERMINATED}
    ),
    CaseStatus.EXECUTING: frozenset(
        {CaseStatus.CLOSED, CaseStatus.SUSPENDED, CaseStatus.TERMINATED}
    ),
    CaseStatus.SUSPENDED: frozenset({CaseStatus.TERMINATED, CaseStatus.WITHDRAWN}),
    # once the referral is closed with the police holding the case; resuming to the status
    # it was referred from is added by change_status
    CaseStatus.REFERRED: frozenset({CaseStatus.CLOSED, CaseStatus.TERMINATED}),
    CaseStatus.CLOSED: frozenset(),
    CaseStatus.TERMINATED: frozenset(),
    CaseStatus.WITHDRAWN: frozenset(),
}


# -- inputs --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Party:
    """A party to the case (当事人): a person or an organisation."""

    name: str
    kind: str = "person"  # "person" | "organisation"
    id_no: str = ""  # ID card number or unified social credit code
    address: str = ""
    phone: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "kind": self.kind,
            "id_no": self.id_no,
            "address": self.address,
            "phone": self.phone,
        }


@dataclass(frozen=True, slots=True)
class PriorPenalty:
    """An earlier administrative penalty of the same party (counts towards thresholds)."""

    kind: str  # a PenaltyKind value
    decided_on: date
    decision_no: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "decided_on": self.decided_on.isoformat(),
            "decision_no": self.decision_no,
        }


@dataclass(frozen=True, slots=True)
class CaseInput:
    """What :func:`open_case` needs. ``lon``/``lat`` (WGS84) locate the case; the surveyed
    polygon (GeoJSON Polygon/MultiPolygon) may come now or later."""

    cause: str
    violation_kind: str
    lon: float
    lat: float
    source_kind: str = SourceKind.OTHER.value
    source_id: uuid.UUID | None = None
    case_no: str | None = None
    parties: Sequence[Party] = ()
    act_date: date | None = None
    surveyed_geometry: Mapping[str, Any] | None = None
    declared_areas_m2: Mapping[str, float] = field(default_factory=dict)
    ore_value_yuan: Decimal | None = None
    destroyed_value_yuan: Decimal | None = None
    illegal_gain_yuan: Decimal | None = None
    special_area: bool = False
    prior_penalties: Sequence[PriorPenalty] = ()
    evidence_ids: Sequence[uuid.UUID] = ()


@dataclass(frozen=True, slots=True)
class CaseChanges:
    """What :func:`update_case` changes; ``None`` leaves a field as it is."""

    cause: str | None = None
    violation_kind: str | None = None
    parties: Sequence[Party] | None = None
    location: tuple[float, float] | None = None
    act_date: date | None = None
    surveyed_geometry: Mapping[str, Any] | None = None
    declared_areas_m2: Mapping[str, float] | None = None
    ore_value_yuan: Decimal | None = None
    destroyed_value_yuan: Decimal | None = None
    illegal_gain_yuan: Decimal | None = None
    special_area: bool | None = None
    prior_penalties: Sequence[PriorPenalty] | None = None
    add_evidence_ids: Sequence[uuid.UUID] = ()


# -- views ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AreaSource:
    """Where a case's areas come from: the parcels layer version of the overlay and when."""

    layer: str | None = None
    layer_version_id: uuid.UUID | None = None
    layer_version_no: int | None = None
    basis: str | None = None
    computed_at: datetime | None = None

    @classmethod
    def of(cls, source: Mapping[str, Any]) -> AreaSource:
        version_id = source.get("layer_version_id")
        at = source.get("computed_at")
        no = source.get("layer_version_no")
        return cls(
            layer=source.get("layer"),
            layer_version_id=uuid.UUID(str(version_id)) if version_id else None,
            layer_version_no=int(no) if no is not None else None,
            basis=source.get("basis"),
            computed_at=datetime.fromisoformat(at) if isinstance(at, str) else None,
        )


@dataclass(frozen=True, slots=True)
class Areas:
    """Areas of the surveyed polygon by land class, in m² (``*_mu`` for display)."""

    total_m2: float
    cultivated_m2: float  # all cultivated land, permanent basic farmland included
    basic_farmland_m2: float  # permanent basic farmland
    by_class: dict[str, float]
    source: dict[str, Any]  # parcels layer version and time of the overlay

    @property
    def overlay_source(self) -> AreaSource:
        return AreaSource.of(self.source)

    @property
    def total_mu(self) -> float:
        return to_mu(self.total_m2, 2)

    @property
    def cultivated_mu(self) -> float:
        return to_mu(self.cultivated_m2, 2)

    @property
    def basic_farmland_mu(self) -> float:
        return to_mu(self.basic_farmland_m2, 2)


#: A referral suggestion: the case (or finding) met a rule. A human decides; nothing is
#: referred. One shape for cases and findings (``patrol.finding_checks.SuggestionRef``).
SuggestionView = SuggestionRef


def suggestion_view(row: ReferralSuggestion) -> SuggestionView:
    return SuggestionView(
        id=row.id,
        rule_id=row.rule_id,
        rule_code=row.rule_code,
        crime=row.crime,
        level=row.level,
        metric=row.metric,
        value=row.value,
        threshold=row.threshold,
        unit=row.unit,
        citation=row.citation,
        message=row.message,
        created_at=row.created_at,
    )


@dataclass(frozen=True, slots=True)
class FlagView:
    id: uuid.UUID
    case_id: uuid.UUID | None
    finding_id: uuid.UUID | None
    reason: str
    flagged_by: uuid.UUID
    flagged_at: datetime

    @classmethod
    def from_row(cls, row: ReferralFlag) -> FlagView:
        return cls(
            id=row.id,
            case_id=row.case_id,
            finding_id=row.finding_id,
            reason=row.reason,
            flagged_by=row.flagged_by,
            flagged_at=row.flagged_at,
        )


@dataclass(frozen=True, slots=True)
class TeamMember:
    """One person on a case team: ``role_in_team`` is a :class:`TeamRole` value."""

    user_id: uuid.UUID
    role_in_team: str
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class CaseView:
    id: uuid.UUID
    county_id: uuid.UUID
    case_no: str
    cause: str
    violation_kind: str
    status: str
    suspended_from: str | None
    status_changed_at: datetime
    parties: tuple[Party, ...]
    source_kind: str
    source_id: uuid.UUID | None
    act_date: date | None
    lon: float
    lat: float
    surveyed_geometry: dict[str, Any] | None  # GeoJSON MultiPolygon
    surveyed_at: datetime | None
    areas: Areas
    declared_areas_m2: dict[str, float]
    ore_value_yuan: Decimal | None
    destroyed_value_yuan: Decimal | None
    illegal_gain_yuan: Decimal | None
    special_area: bool
    prior_penalties: tuple[PriorPenalty, ...]
    evidence_ids: tuple[uuid.UUID, ...]
    suggestions: tuple[SuggestionView, ...]
    flags: tuple[FlagView, ...]
    referral_ids: tuple[uuid.UUID, ...]
    opened_by: uuid.UUID
    screened_at: datetime | None
    created_at: datetime
    updated_at: datetime
    team: tuple[TeamMember, ...] = ()
    referred_from: str | None = None  # while ``referred``: the status it returns to

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


# -- overlay -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OverlayResult:
    total_m2: float
    by_class: dict[str, float]
    layer_version_id: uuid.UUID | None
    layer_version_no: int | None
    basis: str = "parcels"  # where the classes come from (kept in ``areas_source``)


AreaOverlay = Callable[[AsyncSession, uuid.UUID, MultiPolygon], Awaitable[OverlayResult]]
"""``(session, county_id, polygon) -> areas by land class``; the default is below."""


async def postgis_land_class_areas(
    session: AsyncSession, county_id: uuid.UUID, polygon: MultiPolygon
) -> OverlayResult:
    """Overlay ``polygon`` with the county's current parcels layer, in PostGIS.

    Areas are geodesic (``ST_Area`` of ``geography``), in m². Without a parcels layer every
    class is empty and only the total is known.
    """
    geom = func.ST_GeomFromEWKT(to_ewkt(polygon))
    total = await session.scalar(select(func.ST_Area(func.geography(geom))))
    versions = await current_versions(session, county_id)
    current = versions.get(LayerKind.PARCELS)
    if current is None:
        return OverlayResult(float(total or 0.0), {}, None, None)
    piece = func.ST_Area(func.geography(func.ST_Intersection(Parcel.geom, geom)))
    rows = await session.execute(
        select(Parcel.land_class, func.sum(piece))
        .where(
            Parcel.layer_version_id == current[0],
            Parcel.county_id == county_id,
            func.ST_Intersects(Parcel.geom, geom),
        )
        .group_by(Parcel.land_class)
    )
    by_class = {str(cls): round(float(area or 0.0), 2) for cls, area in rows}
    return OverlayResult(float(total or 0.0), by_class, current[0], current[1])


async def geofence_land_class_areas(
    session: AsyncSession, county_id: uuid.UUID, polygon: MultiPolygon
) -> OverlayResult:
    """The overlay of :func:`geofence.overlay.overlay_area` (the county's in-process index of
    its current layers), as areas by land class; the default ``overlay`` of the services.

    A polygon wholly outside the county (and its 10 km margin) is refused there
    (``outside_county``), as is one that is not a valid polygon.
    """
    result = await overlay_area(session, county_id, polygon, field="surveyed_geometry")
    by_class = {c.land_class.value: round(c.area_m2, 2) for c in result.land_classes}
    parcels = next((v for v in result.layer_versions if v.kind is LayerKind.PARCELS), None)
    return OverlayResult(
        result.area_m2,
        by_class,
        None if parcels is None else parcels.version_id,
        None if parcels is None else parcels.version_no,
    )


# -- helpers shared by the sibling services ------------------------------------------------------
def _visible(stmt: Select[*_Ts], principal: Principal) -> Select[*_Ts]:
    return scoped(stmt, Case, principal).where(case_visible(caller_of(principal)))


async def load_case(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, for_update: bool = False
) -> Case:
    """The case if the caller may see it, else :class:`CaseNotFoundError` (also for squads)."""
    stmt = _visible(select(Case), principal).where(Case.id == case_id)
    if for_update:
        stmt = stmt.with_for_update(of=Case)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise CaseNotFoundError("case not found", case_id=str(case_id))
    return row


def record_event(
    session: AsyncSession,
    case: Case,
    kind: str,
    actor_id: uuid.UUID | None,
    details: Mapping[str, Any] | None = None,
    *,
    referral_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> CaseEvent:
    """Add one entry to the case's history (in the caller's transaction)."""
    event = CaseEvent(
        county_id=case.county_id,
        case_id=case.id,
        referral_id=referral_id,
        kind=kind,
        at=at or utcnow(),
        actor_id=actor_id,
        details=dict(details or {}),
    )
    session.add(event)
    return event


async def case_evidence_ids(session: AsyncSession, case: Case) -> list[uuid.UUID]:
    """Evidence of the case: linked ids in link order, then uploads that name the case."""
    linked = list(
        (
            await session.scalars(
                select(CaseEvidence.evidence_id)
                .where(CaseEvidence.case_id == case.id)
                .order_by(CaseEvidence.position, CaseEvidence.linked_at)
            )
        ).all()
    )
    named = (
        await session.scalars(
            select(Evidence.id)
            .join(Upload, Upload.id == Evidence.id)
            .where(Upload.case_id == case.id, Evidence.county_id == case.county_id)
            .order_by(Evidence.captured_at, Evidence.id)
        )
    ).all()
    seen = set(linked)
    return linked + [i for i in named if i not in seen]


# -- validation ----------------------------------------------------------------------------------
def _bad(detail: str, code: str, **extra: Any) -> InvalidCaseError:
    return InvalidCaseError(detail, code=code, **extra)


def _enum_value(enum_type: Any, value: str, fieldname: str, code: str) -> str:
    try:
        return str(enum_type(value).value)
    except ValueError as exc:
        allowed = ", ".join(v.value for v in enum_type)
        msg = f"{fieldname} must be one of {allowed}"
        raise _bad(msg, code, field=fieldname) from exc


def _text(value: str, fieldname: str, *, limit: int, required: bool = True) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise _bad(f"{fieldname} must not be empty", codes.INVALID_CASE, field=fieldname)
    if len(cleaned) > limit:
        raise _bad(f"{fieldname} is longer than {limit}", codes.INVALID_CASE, field=fieldname)
    return cleaned


def _money(value: Decimal | None, fieldname: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise _bad(f"{fieldname} is not a number", codes.INVALID_AMOUNT, field=fieldname) from exc
    if not amount.is_finite() or amount < 0 or amount >= _MAX_MONEY:
        msg = f"{fieldname} must be a finite amount of yuan, at least 0"
        raise _bad(msg, codes.INVALID_AMOUNT, field=fieldname)
    return amount.quantize(Decimal("0.01"))


def _parties(parties: Sequence[Party]) -> list[dict[str, str]]:
    out = []
    for i, party in enumerate(parties):
        if party.kind not in ("person", "organisation"):
            msg = "party kind must be person or organisation"
            raise _bad(msg, codes.INVALID_PARTY, field=f"parties[{i}].kind")
        if not party.name.strip() or len(party.name) > 200:
            msg = "a party needs a name of at most 200 characters"
            raise _bad(msg, codes.INVALID_PARTY, field=f"parties[{i}].name")
        out.append(party.to_json())
    return out


def _declared(areas: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for kind, value in areas.items():
        if kind not in DECLARED_AREA_KINDS:
            msg = f"declared areas are one of {', '.join(DECLARED_AREA_KINDS)}"
            raise _bad(msg, codes.INVALID_AREA, field=f"declared_areas_m2.{kind}")
        number = float(value)
        if not math.isfinite(number) or number < 0 or number > 1e10:
            msg = "an area must be a finite number of m², at least 0"
            raise _bad(msg, codes.INVALID_AREA, field=f"declared_areas_m2.{kind}")
        out[kind] = round(number, 2)
    return out


def _penalties(penalties: Sequence[PriorPenalty], today: date) -> list[dict[str, str]]:
    out = []
    for i, penalty in enumerate(penalties):
        _enum_value(PenaltyKind, penalty.kind, f"prior_penalties[{i}].kind", "invalid_penalty")
        if penalty.decided_on > today:
            msg = "a prior penalty cannot be decided in the future"
            raise _bad(msg, codes.INVALID_PENALTY, field=f"prior_penalties[{i}].decided_on")
        out.append(penalty.to_json())
    return out


def _point(lon: float, lat: float) -> Any:
    check_lon_lat(lon, lat, field="location")
    return from_shape(Point(lon, lat), srid=4326)


def _today() -> date:
    """Today's date in China (where the dates of acts and penalties are counted)."""
    return datetime.now(UTC).astimezone(COUNTY_TZ).date()


# -- sources and evidence ------------------------------------------------------------------------
async def _check_source(
    session: AsyncSession, principal: Principal, kind: str, source_id: uuid.UUID | None
) -> None:
    if kind in (SourceKind.FINDING.value, SourceKind.CHANGE_POLYGON.value) and source_id is None:
        raise _bad(f"a case from a {kind} needs its id", codes.INVALID_SOURCE, field="source_id")
    model: Any
    if kind == SourceKind.FINDING.value:
        model = Finding
    elif kind == SourceKind.CHANGE_POLYGON.value:
        model = ChangePolygon
    elif kind == SourceKind.TIP_OFF.value and source_id is not None:
        model = TipOff  # the clue (its reporter stays with it: the case names the id only)
    elif kind == SourceKind.SATELLITE.value and source_id is not None:
        model = SatelliteTask  # the satellite campaign's task judged illegal
    else:
        return
    found = await session.scalar(
        select(exists().where(model.id == source_id, model.county_id == principal.county_id))
    )
    if not found:
        raise CaseSourceNotFoundError(f"{kind} not found", source_id=str(source_id))


async def check_evidence(
    session: AsyncSession, principal: Principal, evidence_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """``evidence_ids`` without repeats, each evidence of the caller's county; otherwise
    422 ``unknown_evidence`` naming the others."""
    wanted = list(dict.fromkeys(evidence_ids))
    if not wanted:
        return []
    found = set(
        (
            await session.scalars(
                select(Evidence.id).where(
                    Evidence.id.in_(wanted), Evidence.county_id == principal.county_id
                )
            )
        ).all()
    )
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise UnknownEvidenceError(
            "some evidence ids are not evidence of this county", evidence_ids=missing
        )
    return wanted


async def _link(
    session: AsyncSession, principal: Principal, case: Case, evidence_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    wanted = await check_evidence(session, principal, evidence_ids)
    existing = set(
        (
            await session.scalars(
                select(CaseEvidence.evidence_id).where(CaseEvidence.case_id == case.id)
            )
        ).all()
    )
    position = len(existing)
    added = []
    for evidence_id in wanted:
        if evidence_id in existing:
            continue
        session.add(
            CaseEvidence(
                county_id=case.county_id,
                case_id=case.id,
                evidence_id=evidence_id,
                position=position,
                linked_by=principal.user_id,
            )
        )
        position += 1
        added.append(evidence_id)
    return added


async def _finding_evidence(
    session: AsyncSession, county_id: uuid.UUID, finding_id: uuid.UUID
) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Evidence.id)
        .join(Upload, Upload.id == Evidence.id)
        .where(Upload.finding_id == finding_id, Evidence.county_id == county_id)
        .order_by(Evidence.captured_at, Evidence.id)
    )
    return list(rows.all())


# -- areas and screening -------------------------------------------------------------------------
async def _apply_overlay(
    session: AsyncSession, case: Case, polygon: MultiPolygon | None, overlay: AreaOverlay
) -> None:
    if polygon is None:
        case.area_total_m2 = case.area_cultivated_m2 = case.area_basic_farmland_m2 = 0.0
        case.areas_by_class = {}
        case.areas_source = {}
        return
    result = await overlay(session, case.county_id, polygon)
    pbf = result.by_class.get(LandClass.PERMANENT_BASIC_FARMLAND.value, 0.0)
    cultivated = pbf + result.by_class.get(LandClass.CULTIVATED.value, 0.0)
    case.area_total_m2 = round(result.total_m2, 2)
    case.area_cultivated_m2 = round(cultivated, 2)
    case.area_basic_farmland_m2 = round(pbf, 2)
    case.areas_by_class = dict(result.by_class)
    case.areas_source = {
        "layer": LayerKind.PARCELS.value,
        "layer_version_id": str(result.layer_version_id) if result.layer_version_id else None,
        "layer_version_no": result.layer_version_no,
        "basis": result.basis,
        "computed_at": utcnow().isoformat(),
    }


async def _province(session: AsyncSession, county_id: uuid.UUID) -> str:
    code = await session.scalar(select(County.province_code).where(County.id == county_id))
    return str(code or "")


async def _screen(session: AsyncSession, case: Case, actor_id: uuid.UUID | None) -> None:
    province = await _province(session, case.county_id)
    before = {s.rule_code for s in await _current_suggestions(session, case.id)}
    after = await screen_case(session, case, province_code=province)
    codes = {s.rule_code for s in after}
    if codes != before:
        record_event(
            session,
            case,
            "screened",
            actor_id,
            {"matched": sorted(codes), "dropped": sorted(before - codes)},
        )
    new = [s for s in after if s.rule_code not in before]
    await alert_suggestions(session, new, subject=f"案件{case.case_no}")


async def _current_suggestions(
    session: AsyncSession, case_id: uuid.UUID
) -> list[ReferralSuggestion]:
    rows = await session.scalars(
        select(ReferralSuggestion)
        .where(ReferralSuggestion.case_id == case_id, ReferralSuggestion.superseded_at.is_(None))
        .order_by(ReferralSuggestion.rule_code)
    )
    return list(rows.all())


# -- views ---------------------------------------------------------------------------------------
def _geojson(geom: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(shapely.to_geojson(geom))
    return loaded


def _party_for(principal: Principal, stored: Mapping[str, Any]) -> Party:
    """A party as ``principal`` may read it: joint-team members (police and land officers
    outside the brigade's case file) and the procuratorate get the ID number or credit code
    masked, as the penalty content shows it (:func:`evidence.cases.penalties.mask_id`)."""
    party = Party(**stored)
    if principal.has_role(*MASKED_ID_ROLES) and party.id_no:
        shown = party.id_no[-4:] if len(party.id_no) > 4 else ""
        return replace(party, id_no=shown.rjust(len(party.id_no), "*"))
    return party


async def _view(session: AsyncSession, case: Case, principal: Principal) -> CaseView:
    point = to_shape(cast("Any", case.location))
    surveyed = (
        None if case.surveyed_geom is None else _geojson(to_shape(cast("Any", case.surveyed_geom)))
    )
    subject = ReferralFlag.case_id == case.id
    if case.source_kind == SourceKind.FINDING.value and case.source_id is not None:
        subject = or_(subject, ReferralFlag.finding_id == case.source_id)
    flags = (
        await session.scalars(
            select(ReferralFlag)
            .where(ReferralFlag.county_id == case.county_id, subject)
            .order_by(ReferralFlag.flagged_at)
        )
    ).all()
    referral_ids = (
        await session.scalars(
            select(Referral.id).where(Referral.case_id == case.id).order_by(Referral.created_at)
        )
    ).all()
    team = await session.execute(
        select(CaseTeamMember.user_id, CaseTeamMember.role_in_team, User.display_name)
        .join(User, User.id == CaseTeamMember.user_id)
        .where(CaseTeamMember.case_id == case.id)
        .order_by(CaseTeamMember.role_in_team, CaseTeamMember.user_id)
    )
    return CaseView(
        id=case.id,
        county_id=case.county_id,
        case_no=case.case_no,
        cause=case.cause,
        violation_kind=case.violation_kind,
        status=case.status,
        suspended_from=case.suspended_from,
        status_changed_at=case.status_changed_at,
        parties=tuple(_party_for(principal, p) for p in case.parties or []),
        source_kind=case.source_kind,
        source_id=case.source_id,
        act_date=case.act_date,
        lon=float(point.x),
        lat=float(point.y),
        surveyed_geometry=surveyed,
        surveyed_at=case.surveyed_at,
        areas=Areas(
            total_m2=case.area_total_m2,
            cultivated_m2=case.area_cultivated_m2,
            basic_farmland_m2=case.area_basic_farmland_m2,
            by_class=dict(case.areas_by_class or {}),
            source=dict(case.areas_source or {}),
        ),
        declared_areas_m2={k: float(v) for k, v in (case.declared_areas or {}).items()},
        ore_value_yuan=case.ore_value_yuan,
        destroyed_value_yuan=case.destroyed_value_yuan,
        illegal_gain_yuan=case.illegal_gain_yuan,
        special_area=case.special_area,
        prior_penalties=tuple(
            PriorPenalty(p["kind"], date.fromisoformat(p["decided_on"]), p.get("decision_no", ""))
            for p in case.prior_penalties or []
        ),
        evidence_ids=tuple(await case_evidence_ids(session, case)),
        suggestions=tuple(suggestion_view(s) for s in await _current_suggestions(session, case.id)),
        flags=tuple(FlagView.from_row(f) for f in flags),
        referral_ids=tuple(referral_ids),
        opened_by=case.opened_by,
        screened_at=case.screened_at,
        created_at=case.created_at,
        updated_at=case.updated_at,
        team=tuple(TeamMember(uid, role, name or "") for uid, role, name in team),
        referred_from=case.referred_from,
    )


# -- case numbers --------------------------------------------------------------------------------
async def _next_case_no(session: AsyncSession, county_id: uuid.UUID) -> str:
    year = _today().year
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"cases:{county_id}:{year}"},
    )
    count = await session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.county_id == county_id, Case.case_no.like(f"{year}-%"))
    )
    return f"{year}-{int(count or 0) + 1:04d}"


async def _case_no(session: AsyncSession, county_id: uuid.UUID, wanted: str | None) -> str:
    if wanted is None:
        return await _next_case_no(session, county_id)
    case_no = _text(wanted, "case_no", limit=40)
    taken = await session.scalar(
        select(exists().where(Case.county_id == county_id, Case.case_no == case_no))
    )
    if taken:
        raise ConflictError("this case number is taken", code=codes.CASE_NO_TAKEN, case_no=case_no)
    return case_no


# -- services ------------------------------------------------------------------------------------
async def open_case(
    session: AsyncSession,
    principal: Principal,
    data: CaseInput,
    *,
    overlay: AreaOverlay = geofence_land_class_areas,
    also_allowed: Sequence[Role] = (),
) -> CaseView:
    """Open a case (status ``clue``) from a finding, change polygon, tip-off or on its own.

    The surveyed polygon, if given, is overlaid with the parcels layer for the areas; the
    evidence of a source finding is linked; the case is screened against the referral rules.
    ``also_allowed``: roles that may open this one case besides the case writers (the clue
    desk opens the case of a tip-off it handles, :mod:`evidence.cases.tip_offs`).
    """
    require_role(principal, *_CASE_WRITERS, *also_allowed, action="open cases")
    violation = _enum_value(
        ViolationKind, data.violation_kind, "violation_kind", codes.INVALID_VIOLATION_KIND
    )
    source_kind = _enum_value(SourceKind, data.source_kind, "source_kind", "invalid_source")
    cause = _text(data.cause, "cause", limit=2000)
    location = _point(data.lon, data.lat)
    polygon = (
        None
        if data.surveyed_geometry is None
        else parse_polygonal(dict(data.surveyed_geometry), field="surveyed_geometry")
    )
    today = _today()
    if data.act_date is not None and data.act_date > today:
        raise _bad("act_date is in the future", codes.INVALID_TIME, field="act_date")
    values = {
        "ore_value_yuan": _money(data.ore_value_yuan, "ore_value_yuan"),
        "destroyed_value_yuan": _money(data.destroyed_value_yuan, "destroyed_value_yuan"),
        "illegal_gain_yuan": _money(data.illegal_gain_yuan, "illegal_gain_yuan"),
    }
    parties = _parties(data.parties)
    declared = _declared(data.declared_areas_m2)
    penalties = _penalties(data.prior_penalties, today)
    await _check_source(session, principal, source_kind, data.source_id)
    evidence_ids = list(data.evidence_ids)
    if source_kind == SourceKind.FINDING.value and data.source_id is not None:
        evidence_ids += await _finding_evidence(session, principal.county_id, data.source_id)
    await check_evidence(session, principal, evidence_ids)

    now = utcnow()
    case = Case(
        county_id=principal.county_id,
        case_no=await _case_no(session, principal.county_id, data.case_no),
        cause=cause,
        violation_kind=violation,
        status=CaseStatus.CLUE.value,
        status_changed_at=now,
        parties=parties,
        source_kind=source_kind,
        source_id=data.source_id,
        act_date=data.act_date,
        location=location,
        surveyed_geom=None if polygon is None else from_shape(polygon, srid=4326),
        surveyed_at=None if polygon is None else now,
        surveyed_by=None if polygon is None else principal.user_id,
        declared_areas=declared,
        special_area=data.special_area,
        prior_penalties=penalties,
        opened_by=principal.user_id,
        **values,
    )
    await _apply_overlay(session, case, polygon, overlay)
    session.add(case)
    await session.flush()
    await _link(session, principal, case, evidence_ids)
    record_event(
        session,
        case,
        "opened",
        principal.user_id,
        {"case_no": case.case_no, "source_kind": source_kind},
    )
    await _screen(session, case, principal.user_id)
    await session.flush()
    return await _view(session, case, principal)


async def get_case(session: AsyncSession, principal: Principal, case_id: uuid.UUID) -> CaseView:
    """One case with its areas, evidence ids, current suggestions, flags and referrals."""
    return await _view(session, await load_case(session, principal, case_id), principal)


async def _ensure_writer(session: AsyncSession, principal: Principal, case: Case) -> None:
    """Captains and admins; inspectors who opened the case or are on its team."""
    require_role(principal, *_CASE_WRITERS, action="change cases")
    if principal.has_role(*MANAGERS) or case.opened_by == principal.user_id:
        return
    on_team = await session.scalar(
        select(
            exists().where(
                CaseTeamMember.case_id == case.id, CaseTeamMember.user_id == principal.user_id
            )
        )
    )
    if not on_team:
        raise CaseNotFoundError("case not found", case_id=str(case.id))


async def update_case(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    changes: CaseChanges,
    *,
    overlay: AreaOverlay = geofence_land_class_areas,
) -> CaseView:
    """Change what is known about a case; geometry, areas, values or history re-screen it.

    A new surveyed polygon is overlaid again. A closed, terminated or withdrawn case is
    read-only (``case_closed``).
    """
    # a role that never changes cases is told so before the case is looked up
    require_role(principal, *_CASE_WRITERS, action="change cases")
    case = await load_case(session, principal, case_id, for_update=True)
    await _ensure_writer(session, principal, case)
    ensure_unfinished(case)
    changed: list[str] = []
    rescreen = False
    if changes.cause is not None:
        case.cause = _text(changes.cause, "cause", limit=2000)
        changed.append("cause")
    if changes.violation_kind is not None:
        case.violation_kind = _enum_value(
            ViolationKind, changes.violation_kind, "violation_kind", codes.INVALID_VIOLATION_KIND
        )
        changed.append("violation_kind")
        rescreen = True
    if changes.parties is not None:
        case.parties = _parties(changes.parties)
        changed.append("parties")
    if changes.location is not None:
        case.location = _point(*changes.location)
        changed.append("location")
    if changes.act_date is not None:
        if changes.act_date > _today():
            raise _bad("act_date is in the future", codes.INVALID_TIME, field="act_date")
        case.act_date = changes.act_date
        changed.append("act_date")
        rescreen = True
    if changes.surveyed_geometry is not None:
        polygon = parse_polygonal(dict(changes.surveyed_geometry), field="surveyed_geometry")
        case.surveyed_geom = from_shape(polygon, srid=4326)
        case.surveyed_at = utcnow()
        case.surveyed_by = principal.user_id
        await _apply_overlay(session, case, polygon, overlay)
        changed.append("surveyed_geometry")
        rescreen = True
    rescreen |= _apply_values(case, changes, changed)
    added = await _link(session, principal, case, changes.add_evidence_ids)
    if added:
        changed.append("evidence")
    if changed:
        record_event(
            session,
            case,
            "updated",
            principal.user_id,
            {"fields": changed, "evidence_added": [str(i) for i in added]},
        )
    if rescreen:
        await _screen(session, case, principal.user_id)
    await session.flush()
    return await _view(session, case, principal)


def _apply_values(case: Case, changes: CaseChanges, changed: list[str]) -> bool:
    """Values, declared areas and history; ``True`` when any of them changed."""
    before = len(changed)
    for name in ("ore_value_yuan", "destroyed_value_yuan", "illegal_gain_yuan"):
        value = getattr(changes, name)
        if value is not None:
            setattr(case, name, _money(value, name))
            changed.append(name)
    if changes.declared_areas_m2 is not None:
        case.declared_areas = _declared(changes.declared_areas_m2)
        changed.append("declared_areas_m2")
    if changes.special_area is not None:
        case.special_area = changes.special_area
        changed.append("special_area")
    if changes.prior_penalties is not None:
        case.prior_penalties = _penalties(changes.prior_penalties, _today())
        changed.append("prior_penalties")
    return len(changed) > before


async def link_evidence(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    evidence_ids: Sequence[uuid.UUID],
) -> CaseView:
    """Link evidence of the county to the case (already linked ids are ignored)."""
    return await update_case(
        session, principal, case_id, CaseChanges(add_evidence_ids=evidence_ids)
    )


async def change_status(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    status: str,
    *,
    reason: str = "",
) -> CaseView:
    """Move the case along its workflow (captains and admins).

    A suspended case resumes by changing to the status it was suspended from. A referred
    case follows its referral: no change while the referral is open; after it, close,
    terminate or resume where the case was. Moves the workflow does not allow raise
    :class:`CaseStatusTransitionError`.
    """
    require_role(principal, *MANAGERS, action="change the status of cases")
    target = CaseStatus(_enum_value(CaseStatus, status, "status", "invalid_status"))
    case = await load_case(session, principal, case_id, for_update=True)
    current = CaseStatus(case.status)
    allowed = set(_TRANSITIONS[current])
    if current is CaseStatus.SUSPENDED and case.suspended_from:
        allowed.add(CaseStatus(case.suspended_from))
    open_referral = None
    if current is CaseStatus.REFERRED:
        open_referral = await _open_referral(session, case.id)
        if open_referral is not None:
            allowed = set()
        elif case.referred_from:
            allowed.add(CaseStatus(case.referred_from))
    if target not in allowed:
        detail = f"a case cannot go from {current.value} to {target.value}"
        if open_referral is not None:
            detail = "the case follows its open referral: record the referral's steps"
        raise CaseStatusTransitionError(
            detail,
            status=current.value,
            requested=target.value,
            allowed=sorted(s.value for s in allowed),
            **({} if open_referral is None else {"referral_id": str(open_referral)}),
        )
    if target in (CaseStatus.SUSPENDED, CaseStatus.TERMINATED, CaseStatus.WITHDRAWN) and not (
        reason.strip()
    ):
        raise _bad(f"{target.value} needs a reason", codes.REASON_REQUIRED, field="reason")
    _move(session, case, target, principal.user_id, at=utcnow(), reason=reason.strip())
    await session.flush()
    return await _view(session, case, principal)


# -- the case follows its referral ---------------------------------------------------------------
def ensure_unfinished(case: Case) -> None:
    """A closed, terminated or withdrawn case is read-only (``case_closed``)."""
    if CaseStatus(case.status).is_final:
        raise ConflictError(
            "the case is finished and read-only", code=codes.CASE_CLOSED, status=case.status
        )


def _move(
    session: AsyncSession,
    case: Case,
    target: CaseStatus,
    actor_id: uuid.UUID | None,
    *,
    at: datetime,
    reason: str = "",
    **details: Any,
) -> None:
    """Set the status and write the move into the case's history (a ``status`` event).

    The move happens at ``at`` (a referral step's own time), but never before the case's
    last status change: a step recorded after the fact does not move the history back.
    ``suspended_from`` is kept while a suspended case is referred (it resumes suspended);
    ``referred_from`` is set exactly while the case is referred.
    """
    at = max(at, case.status_changed_at)
    current = CaseStatus(case.status)
    if target is CaseStatus.SUSPENDED:
        if current is not CaseStatus.REFERRED:
            case.suspended_from = current.value
    elif target is not CaseStatus.REFERRED:
        case.suspended_from = None
    case.referred_from = current.value if target is CaseStatus.REFERRED else None
    case.status = target.value
    case.status_changed_at = at
    record_event(
        session,
        case,
        "status",
        actor_id,
        {"from": current.value, "to": target.value, "reason": reason, **details},
        at=at,
    )


def move_status(
    session: AsyncSession,
    case: Case,
    target: CaseStatus,
    actor_id: uuid.UUID | None,
    *,
    at: datetime,
    reason: str = "",
    **details: Any,
) -> None:
    """A step of the administrative procedure (:mod:`evidence.cases.procedure`) moves the
    case: the same ``status`` entry in its history as :func:`change_status` writes, with
    the step that made it in ``details``."""
    _move(session, case, target, actor_id, at=at, reason=reason, **details)


async def ensure_writer(session: AsyncSession, principal: Principal, case: Case) -> None:
    """Captains and admins; inspectors who opened the case or are on its team (others: the
    case does not exist for them, ``case_not_found``)."""
    await _ensure_writer(session, principal, case)


async def _open_referral(session: AsyncSession, case_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(
        select(Referral.id).where(
            Referral.case_id == case_id,
            Referral.status.in_([s.value for s in ReferralStatus if s.is_open]),
        )
    )


def enter_referral(
    session: AsyncSession,
    case: Case,
    actor_id: uuid.UUID,
    *,
    at: datetime,
    referral_id: uuid.UUID,
    step: str,
) -> None:
    """The team's report or a reconsideration request: the case goes ``referred``,
    remembering where it was (a case already referred stays as it is)."""
    ensure_unfinished(case)
    if case.status != CaseStatus.REFERRED.value:
        _move(
            session,
            case,
            CaseStatus.REFERRED,
            actor_id,
            at=at,
            referral_id=str(referral_id),
            step=step,
        )


def leave_referral(
    session: AsyncSession,
    case: Case,
    actor_id: uuid.UUID,
    *,
    at: datetime,
    referral_id: uuid.UUID,
    step: str,
) -> None:
    """The head refused the referral or the police refused to file it: the case returns to
    the status it was referred from."""
    if case.status == CaseStatus.REFERRED.value and case.referred_from:
        _move(
            session,
            case,
            CaseStatus(case.referred_from),
            actor_id,
            at=at,
            referral_id=str(referral_id),
            step=step,
        )


async def set_case_team(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    members: Sequence[TeamMember],
) -> CaseView:
    """Replace the case's team (captains and admins): at most one ``lead``, ``member``s, and
    ``joint`` police/land members. Every member is an active user of the county; joint-team
    users join as ``joint``, other roles as ``lead`` or ``member``. An empty list clears the
    team. A finished case is read-only (``case_closed``)."""
    require_role(principal, *MANAGERS, action="assign case teams")
    case = await load_case(session, principal, case_id, for_update=True)
    ensure_unfinished(case)
    wanted: dict[uuid.UUID, str] = {}
    for i, member in enumerate(members):
        role = _enum_value(TeamRole, member.role_in_team, f"team[{i}].role", "invalid_team")
        if member.user_id in wanted:
            raise _bad("a person is on the team once", codes.INVALID_TEAM, field=f"team[{i}]")
        wanted[member.user_id] = role
    if list(wanted.values()).count(TeamRole.LEAD.value) > 1:
        raise _bad("a case has one lead officer", codes.INVALID_TEAM, field="team")
    users = dict(
        (
            await session.execute(
                select(User.id, User.role).where(
                    User.id.in_(list(wanted)),
                    User.county_id == principal.county_id,
                    User.active,
                )
            )
        ).all()
    )
    unknown = [str(u) for u in wanted if u not in users]
    if unknown:
        raise UnknownTeamMemberError(
            "team members must be active users of this county", user_ids=unknown
        )
    for user_id, role in wanted.items():
        joint_user = users[user_id] == Role.JOINT_TEAM.value
        if joint_user != (role == TeamRole.JOINT.value):
            msg = "joint-team users join as joint members, officers as lead or member"
            raise _bad(msg, codes.INVALID_TEAM, field="team", user_id=str(user_id))
    await session.execute(delete(CaseTeamMember).where(CaseTeamMember.case_id == case.id))
    now = utcnow()
    for user_id, role in wanted.items():
        session.add(
            CaseTeamMember(
                county_id=case.county_id,
                case_id=case.id,
                user_id=user_id,
                role_in_team=role,
                assigned_by=principal.user_id,
                assigned_at=now,
            )
        )
    case.updated_at = now
    record_event(
        session,
        case,
        "team",
        principal.user_id,
        {"team": [{"user_id": str(u), "role": r} for u, r in wanted.items()]},
    )
    await session.flush()
    return await _view(session, case, principal)


async def list_cases(
    session: AsyncSession,
    principal: Principal,
    *,
    status: Sequence[str] | None = None,
    violation_kind: str | None = None,
    flagged: bool | None = None,
    referred: bool | None = None,
    suggested: bool | None = None,
    opened_since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CaseView]:
    """Cases the caller may see, newest first, with optional filters.

    ``suggested`` keeps cases with (or without) a current referral suggestion.
    """
    stmt = _visible(select(Case), principal)
    if status:
        values = [_enum_value(CaseStatus, s, "status", "invalid_status") for s in status]
        stmt = stmt.where(Case.status.in_(values))
    if violation_kind is not None:
        stmt = stmt.where(
            Case.violation_kind
            == _enum_value(
                ViolationKind, violation_kind, "violation_kind", codes.INVALID_VIOLATION_KIND
            )
        )
    if flagged is not None:
        cond = case_flagged()
        stmt = stmt.where(cond if flagged else ~cond)
    if referred is not None:
        cond = case_referred()
        stmt = stmt.where(cond if referred else ~cond)
    if suggested is not None:
        cond = case_suggested()
        stmt = stmt.where(cond if suggested else ~cond)
    if opened_since is not None:
        stmt = stmt.where(Case.created_at >= opened_since)
    stmt = stmt.order_by(Case.created_at.desc(), Case.id.desc())
    stmt = stmt.limit(max(1, min(limit, 500))).offset(max(0, offset))
    rows = (await session.scalars(stmt)).all()
    return [await _view(session, row, principal) for row in rows]
