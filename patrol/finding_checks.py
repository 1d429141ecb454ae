"""A finding is a located fact: what the reference layers say of the place of each finding.

Every new finding — REST ``RecordFinding`` or sync ``recordFinding``, alone or in a batch —
goes through :class:`FindingChecks` inside
:meth:`patrol.sessions.PatrolService.record_findings`, in the transaction that stores it:

1. **Location check.** The check evidence gets (:func:`geofence.check_locations`, one call
   per batch): parcels with their land class, planning zones, closed-mine sites and change
   polygons within the fix's accuracy circle (the exact position when the phone gave no
   accuracy), with the layer versions used. Stored as ``location_check`` (mine-site features
   carry ``mine_site_id``). A position far outside the county gets an empty answer marked
   ``outside_county``; the finding is kept.
2. **Land use.** The occupied area by land class (``areas_by_class``, m²): with a walked
   outline, the overlay of the outline on the parcels (:func:`geofence.overlay_area`);
   without one, the declared occupied area, all of it of the land class of the parcel under
   the position (on a shared edge the strictest class: permanent basic farmland first).
   ``land_class`` is the class under the position; ``areas_source`` names the basis
   (``outline``, ``position`` or ``none``), the parcels layer version and the total.
   With an outline and no declared area, the outline's area is the occupied area.
3. **Closed mines.** A finding inside or near (within its accuracy, or overlapping with its
   outline) a closed-mine site is flagged ``at_mine_site``, raises that site's rebound review
   and marks the site for review (:mod:`patrol.site_review`, the way evidence and duty
   checks do), and is flagged ``mine_site_review``.
4. **Visits.** The position counts as a visit (source ``finding``) of the patrol's targets it
   reaches (:meth:`PatrolService.record_findings`).
5. **Screening.** The :class:`FindingScreener` port screens the land use against the
   province's referral thresholds. The rules live in ``evidence`` (which ``patrol`` may not
   import); the composition root wires them in (``evidence.cases.finding_screening``).
   :class:`NoScreening` screens nothing. The current suggestions are kept on the finding
   (``screening``); an edit of the occupied area screens it again (:meth:`rescreen`).

:func:`finding_place` is the read side: what REST answers and the sync pull carry.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, cast

import shapely
import structlog
from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.check import CheckResult, check_locations
from geofence.enums import LandClass, LayerKind
from geofence.geometry import parse_geojson_polygon
from geofence.overlay import overlay_area, to_mu
from infra.db import utcnow
from infra.scope import Principal
from patrol.field_models import Finding
from patrol.site_review import SITE_REVIEW_FLAG, mark_site_for_review, raise_site_reviews

__all__ = [
    "AT_MINE_SITE",
    "VISIT_SOURCE",
    "CheckAnswer",
    "CheckHit",
    "CheckVersion",
    "FindingChecks",
    "FindingPlace",
    "FindingScreener",
    "LandUse",
    "Located",
    "NoScreening",
    "Place",
    "SuggestionRef",
    "finding_place",
    "parse_outline",
    "place_of",
]

log = structlog.get_logger(__name__)

AT_MINE_SITE = "at_mine_site"
#: ``patrol_target_visits.source`` of a visit made by recording a finding.
VISIT_SOURCE = "finding"

_PARCELS = LayerKind.PARCELS.value
_CLASS_ORDER = {c.value: n for n, c in enumerate(LandClass)}  # strictest first


class FindingScreener(Protocol):
    """Screens findings against the referral thresholds (implemented in ``evidence``)."""

    async def screen_findings(
        self, db: AsyncSession, findings: Sequence[Finding]
    ) -> Mapping[uuid.UUID, list[dict[str, Any]]]:
        """Screen each finding's occupied area by land class (``areas_by_class``,
        ``areas_source["total_m2"]``) against the rules in force in its province; store the
        suggestions, raise the alerts of new ones, and return per finding its current
        suggestions, JSON-able (``id``, ``rule_id``, ``rule_code``, ``crime``, ``level``,
        ``metric``, ``value``, ``threshold``, ``unit``, ``citation``, ``message``,
        ``created_at``). Findings left out of the answer keep their stored screening."""
        ...


class NoScreening:
    """A :class:`FindingScreener` without rules: screens nothing."""

    async def screen_findings(
        self,
        db: AsyncSession,  # noqa: ARG002 - the port's shape
        findings: Sequence[Finding],  # noqa: ARG002
    ) -> Mapping[uuid.UUID, list[dict[str, Any]]]:
        return {}


def parse_outline(obj: Mapping[str, Any] | None) -> MultiPolygon | None:
    """A walked outline (GeoJSON Polygon or MultiPolygon, WGS84) as a valid MultiPolygon;
    malformed or self-intersecting outlines raise ``InvalidGeometryError`` (``outline``)."""
    if obj is None:
        return None
    geom = parse_geojson_polygon(dict(obj), field="outline")
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


@dataclass(frozen=True, slots=True)
class Place:
    """Where a new finding is and what it declares: the input of :meth:`FindingChecks.locate`."""

    lon: float
    lat: float
    accuracy_m: float | None
    occupied_area_m2: float | None
    outline: MultiPolygon | None = None


@dataclass(frozen=True, slots=True)
class Located:
    """What the checks found of one finding, to store on its row."""

    location_check: dict[str, Any]
    land_class: str | None
    areas_by_class: dict[str, float]
    areas_source: dict[str, Any]
    flags: list[str]
    site_ids: tuple[uuid.UUID, ...]
    occupied_area_m2: float | None

    def store(self, row: Finding) -> None:
        row.location_check = self.location_check
        row.land_class = self.land_class
        row.areas_by_class = self.areas_by_class
        row.areas_source = self.areas_source
        row.flags = list(self.flags)
        row.occupied_area_m2 = self.occupied_area_m2


def _class_under(answer: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The land class of the parcel under the position (strictest on a shared edge) and
    that parcel's id."""
    under = [
        f
        for f in answer.get("features") or []
        if f.get("kind") == _PARCELS and float(f.get("distance_m") or 0.0) == 0.0
    ]
    if not under:
        return None, None
    best = min(
        under,
        key=lambda f: _CLASS_ORDER.get(f.get("land_class") or "", len(_CLASS_ORDER)),
    )
    return best.get("land_class") or LandClass.OTHER.value, str(best["feature_id"])


def _parcels_version(answer: Mapping[str, Any]) -> tuple[str | None, int | None]:
    for v in answer.get("layer_versions") or []:
        if v.get("kind") == _PARCELS:
            return str(v["version_id"]), int(v["version_no"])
    return None, None


def _by_position(
    answer: Mapping[str, Any], occupied: float | None, now: str
) -> tuple[str | None, dict[str, float], dict[str, Any]]:
    land_class, parcel_id = _class_under(answer)
    version_id, version_no = _parcels_version(answer)
    source: dict[str, Any] = {
        "basis": "none" if occupied is None else "position",
        "layer": _PARCELS,
        "layer_version_id": version_id,
        "layer_version_no": version_no,
        "parcel_id": parcel_id,
        "total_m2": occupied,
        "computed_at": now,
    }
    areas = {} if occupied is None or land_class is None else {land_class: round(occupied, 2)}
    return land_class, areas, source


def _site_ids(answer: Mapping[str, Any]) -> list[uuid.UUID]:
    return [
        uuid.UUID(str(f["mine_site_id"]))
        for f in answer.get("features") or []
        if f.get("mine_site_id")
    ]


class FindingChecks:
    """The checks of :mod:`patrol.finding_checks` for one transaction."""

    def __init__(self, db: AsyncSession, screener: FindingScreener | None = None) -> None:
        self.db = db
        self.screener = screener or NoScreening()

    async def locate(self, county_id: uuid.UUID, places: Sequence[Place]) -> list[Located]:
        """Check every place (one batched location check) and work out its land use."""
        if not places:
            return []
        results = await check_locations(
            self.db, county_id, [(p.lon, p.lat, p.accuracy_m or 0.0) for p in places]
        )
        now = utcnow().isoformat()
        out = []
        for place, result in zip(places, results, strict=True):
            out.append(await self._located(county_id, place, result, now))
        return out

    async def _located(
        self, county_id: uuid.UUID, place: Place, result: CheckResult, now: str
    ) -> Located:
        answer = result.to_json()
        answer["checker"] = "geofence"
        sites = _site_ids(answer)
        land_class, areas, source = _by_position(answer, place.occupied_area_m2, now)
        occupied = place.occupied_area_m2
        if place.outline is not None:
            overlay = await overlay_area(self.db, county_id, place.outline, field="outline")
            areas = {c.land_class.value: round(c.area_m2, 2) for c in overlay.land_classes}
            version_id, version_no = next(
                ((str(v.version_id), v.version_no) for v in overlay.layer_versions
                 if v.kind is LayerKind.PARCELS),
                (None, None),
            )  # fmt: skip
            source = {
                "basis": "outline",
                "layer": _PARCELS,
                "layer_version_id": version_id,
                "layer_version_no": version_no,
                "total_m2": round(overlay.area_m2, 2),
                "unmapped_m2": round(overlay.unmapped_m2, 2),
                "computed_at": now,
            }
            sites += [s.site_id for s in overlay.mine_sites]
            if occupied is None:
                occupied = round(overlay.area_m2, 2)
        site_ids = tuple(dict.fromkeys(sites))
        return Located(
            location_check=answer,
            land_class=land_class,
            areas_by_class=areas,
            areas_source=source,
            flags=[AT_MINE_SITE] if site_ids else [],
            site_ids=site_ids,
            occupied_area_m2=occupied,
        )

    async def assess(
        self, principal: Principal, findings: Sequence[tuple[Finding, Located]]
    ) -> None:
        """New findings, built but not yet added to the session (so what is found here is
        written with their first insert): rebound reviews of the closed-mine sites they are
        at, marks on those sites, and the threshold screening."""
        for row, located in findings:
            if not located.site_ids:
                continue
            reviewed = await raise_site_reviews(
                self.db,
                county_id=row.county_id,
                site_ids=located.site_ids,
                source="finding",
                source_id=row.id,
                raised_at=row.found_at,
                session_id=row.session_id,
            )
            for site_id in reviewed:
                await mark_site_for_review(self.db, principal, site_id)
            if reviewed:
                row.flags = sorted({*row.flags, SITE_REVIEW_FLAG})
                log.info(
                    "patrol.finding_at_site",
                    finding_id=str(row.id),
                    sites=len(reviewed),
                    county=str(row.county_id),
                )
        await self._screen([row for row, _ in findings], flush=False)

    async def rescreen(self, row: Finding) -> None:
        """Screen a finding again after its occupied area (or start date) changed; without
        an outline the area is again all of the class under its position."""
        source = dict(row.areas_source or {})
        if source.get("basis") != "outline":
            occupied = row.occupied_area_m2
            source["basis"] = "none" if occupied is None else "position"
            source["total_m2"] = occupied
            source["computed_at"] = utcnow().isoformat()
            row.areas_source = source
            row.areas_by_class = (
                {}
                if occupied is None or row.land_class is None
                else {row.land_class: round(occupied, 2)}
            )
        await self._screen([row], flush=True)

    async def _screen(self, rows: Sequence[Finding], *, flush: bool) -> None:
        if not rows:
            return
        screened = await self.screener.screen_findings(self.db, rows)
        at = utcnow().isoformat()
        for row in rows:
            if row.id in screened:
                row.screening = {"screened_at": at, "suggestions": list(screened[row.id])}
        if flush:
            await self.db.flush()


# -- the read side -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LandUse:
    """Part of a finding's occupied area in one land class."""

    land_class: str
    land_class_label: str
    area_m2: float
    area_mu: float


@dataclass(frozen=True, slots=True)
class CheckHit:
    kind: str
    feature_id: uuid.UUID
    layer_version_id: uuid.UUID | None
    relation: str
    distance_m: float
    edge_distance_m: float | None
    land_class: str | None
    mine_site_id: uuid.UUID | None
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckVersion:
    kind: str
    version_id: uuid.UUID
    version_no: int


@dataclass(frozen=True, slots=True)
class CheckAnswer:
    """A stored location check (the same shape for findings and evidence)."""

    lon: float
    lat: float
    accuracy_m: float
    outside_county: bool
    features: tuple[CheckHit, ...]
    layer_versions: tuple[CheckVersion, ...]


@dataclass(frozen=True, slots=True)
class SuggestionRef:
    """A current screening suggestion of a finding (the rule it met, the value, the text)."""

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


@dataclass(frozen=True, slots=True)
class FindingPlace:
    """What the reference layers say of a finding, as answered (REST and sync pull)."""

    outline: dict[str, Any] | None
    land_class: str | None
    land_class_label: str | None
    land_use: tuple[LandUse, ...]
    land_use_basis: str | None
    mine_site_ids: tuple[uuid.UUID, ...]
    flags: tuple[str, ...]
    location_check: CheckAnswer | None
    suggestions: tuple[SuggestionRef, ...]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return None if value in (None, "") else uuid.UUID(str(value))
    except ValueError:
        return None


def _label(land_class: str | None) -> str | None:
    if land_class is None:
        return None
    try:
        return LandClass(land_class).label
    except ValueError:
        return land_class


def _answer(j: Mapping[str, Any]) -> CheckAnswer | None:
    if not j:
        return None
    hits = []
    for f in j.get("features") or []:
        feature_id = _uuid(f.get("feature_id"))
        if feature_id is None:
            continue
        edge = f.get("edge_distance_m")
        hits.append(
            CheckHit(
                kind=str(f.get("kind", "")),
                feature_id=feature_id,
                layer_version_id=_uuid(f.get("layer_version_id")),
                relation=str(f.get("relation", "")),
                distance_m=float(f.get("distance_m") or 0.0),
                edge_distance_m=None if edge is None else float(edge),
                land_class=f.get("land_class"),
                mine_site_id=_uuid(f.get("mine_site_id")),
                attributes=dict(f.get("attributes") or {}),
            )
        )
    versions = tuple(
        CheckVersion(str(v["kind"]), uuid.UUID(str(v["version_id"])), int(v["version_no"]))
        for v in j.get("layer_versions") or []
    )
    return CheckAnswer(
        lon=float(j.get("lon", 0.0)),
        lat=float(j.get("lat", 0.0)),
        accuracy_m=float(j.get("accuracy_m", 0.0)),
        outside_county=bool(j.get("outside_county", False)),
        features=tuple(hits),
        layer_versions=versions,
    )


def _suggestion(s: Mapping[str, Any]) -> SuggestionRef:
    return SuggestionRef(
        id=uuid.UUID(str(s["id"])),
        rule_id=uuid.UUID(str(s["rule_id"])),
        rule_code=str(s["rule_code"]),
        crime=str(s["crime"]),
        level=str(s["level"]),
        metric=str(s["metric"]),
        value=Decimal(str(s["value"])),
        threshold=Decimal(str(s["threshold"])),
        unit=str(s["unit"]),
        citation=str(s["citation"]),
        message=str(s["message"]),
        created_at=datetime.fromisoformat(str(s["created_at"])),
    )


def finding_place(
    *,
    location_check: Mapping[str, Any] | None,
    land_class: str | None,
    areas_by_class: Mapping[str, Any] | None,
    areas_source: Mapping[str, Any] | None,
    flags: Sequence[str] | None,
    screening: Mapping[str, Any] | None,
    outline: dict[str, Any] | BaseGeometry | None,
) -> FindingPlace:
    """The answer's view of what is stored on a finding (its columns, or a pulled row's)."""
    check = _answer(location_check or {})
    order = sorted(
        (areas_by_class or {}).items(), key=lambda kv: _CLASS_ORDER.get(kv[0], len(_CLASS_ORDER))
    )
    land_use = tuple(
        LandUse(k, _label(k) or k, round(float(m2), 2), to_mu(float(m2), 4)) for k, m2 in order
    )
    sites = () if check is None else tuple(
        dict.fromkeys(h.mine_site_id for h in check.features if h.mine_site_id is not None)
    )  # fmt: skip
    if isinstance(outline, BaseGeometry):
        outline = cast("dict[str, Any]", json.loads(shapely.to_geojson(outline)))
    return FindingPlace(
        outline=outline,
        land_class=land_class,
        land_class_label=_label(land_class),
        land_use=land_use,
        land_use_basis=(areas_source or {}).get("basis"),
        mine_site_ids=sites,
        flags=tuple(flags or ()),
        location_check=check,
        suggestions=tuple(_suggestion(s) for s in (screening or {}).get("suggestions") or []),
    )


def place_of(row: Finding) -> FindingPlace:
    """:func:`finding_place` of a stored finding."""
    return finding_place(
        location_check=row.location_check,
        land_class=row.land_class,
        areas_by_class=row.areas_by_class,
        areas_source=row.areas_source,
        flags=row.flags,
        screening=row.screening,
        outline=None if row.outline is None else to_shape(cast("Any", row.outline)),
    )
