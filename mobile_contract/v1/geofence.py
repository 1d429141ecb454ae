"""Reference layers: location checks, overlay, layer versions, closed-mine sites and rosters.

Positions are WGS84 longitude/latitude unless a request says ``crs: gcj02`` (Chinese map
SDKs); the server converts. Areas are m² with the same figure in mu (1 mu = 666.67 m²).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from mobile_contract.v1.common import MAX_GEOMETRY_VERTICES, GeoJsonGeometry

__all__ = [
    "AreaFigure",
    "CheckLocationRequest",
    "CheckLocationsRequest",
    "CheckLocationsResult",
    "CheckResult",
    "ClassArea",
    "ClosureMethodName",
    "CoordinateSystem",
    "CurrentUse",
    "DutyPeriodName",
    "FeatureHit",
    "FeatureIssue",
    "Fix",
    "ImportJob",
    "ImportJobError",
    "ImportJobState",
    "ImportSummary",
    "ImportWarning",
    "LandClassName",
    "LayerFeature",
    "LayerKindName",
    "LayerRef",
    "LayerVersion",
    "LayerVersionDetail",
    "MineSite",
    "MineSiteCreate",
    "MineSiteStatusChange",
    "MineStatusName",
    "OverlayChange",
    "OverlayRequest",
    "OverlayResult",
    "OverlaySite",
    "Planning",
    "PointResult",
    "RelationName",
    "RosterMember",
    "RosterMemberSet",
    "RosterReport",
    "RosterRoleName",
    "SiteKindName",
    "SiteState",
    "ZoneArea",
]

MAX_BATCH_POINTS = 10_000
MAX_OVERLAY_VERTICES = MAX_GEOMETRY_VERTICES

Lon = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0, description="longitude, degrees")]
Lat = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0, description="latitude, degrees")]
Accuracy = Annotated[
    float, msgspec.Meta(ge=0.0, le=10_000.0, description="GPS accuracy radius, metres")
]
SiteCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Phone = Annotated[str, msgspec.Meta(max_length=32)]


class CoordinateSystem(enum.StrEnum):
    WGS84 = "wgs84"  # GNSS (also CGCS2000, the same to centimetres)
    GCJ02 = "gcj02"  # Chinese map SDKs (AMap, Tencent)


class LayerKindName(enum.StrEnum):
    PARCELS = "parcels"
    PLANNING_ZONES = "planning_zones"
    MINE_SITES = "mine_sites"
    CHANGE_POLYGONS = "change_polygons"


class LandClassName(enum.StrEnum):
    PERMANENT_BASIC_FARMLAND = "permanent_basic_farmland"
    CULTIVATED = "cultivated"
    OTHER_FARMLAND = "other_farmland"
    CONSTRUCTION_APPROVED = "construction_approved"
    CONSTRUCTION_UNAPPROVED = "construction_unapproved"
    UNUSED = "unused"
    OTHER = "other"


class RelationName(enum.StrEnum):
    INSIDE = "inside"
    BOUNDARY = "boundary"
    NEAR = "near"


class SiteKindName(enum.StrEnum):
    MINE = "mine"
    DREDGING_BOAT = "dredging_boat"


class MineStatusName(enum.StrEnum):
    CLOSED = "closed"
    SIGNS_OF_REOPENING = "signs_of_reopening"
    REOPENED = "reopened"
    REMEDIATED = "remediated"


class ClosureMethodName(enum.StrEnum):
    SEALED = "sealed"
    DEMOLISHED = "demolished"
    EQUIPMENT_REMOVED = "equipment_removed"
    HAULED_ASHORE = "hauled_ashore"
    STRIPPED = "stripped"
    SOLD_AWAY = "sold_away"
    OTHER = "other"


class RosterRoleName(enum.StrEnum):
    TOWNSHIP_LEADER = "township_leader"
    SAFETY_OFFICER = "safety_officer"
    VILLAGE_LIAISON_CADRE = "village_liaison_cadre"
    LAND_RESOURCES_STAFF = "land_resources_staff"
    VILLAGE_CADRE = "village_cadre"


class DutyPeriodName(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


# -- location checks ------------------------------------------------------------------------


class CheckLocationRequest(msgspec.Struct, kw_only=True, rename="camel"):
    lon: Lon
    lat: Lat
    accuracy_m: Accuracy
    crs: CoordinateSystem = CoordinateSystem.WGS84
    kinds: list[LayerKindName] | None = None


# A batch check reads 10,000 fixes and answers as many points with their hits: these three
# are never tracked by the cyclic collector (they hold no reference back to themselves), so
# building and freeing tens of thousands of them sets off no collection.
class Fix(msgspec.Struct, kw_only=True, rename="camel", gc=False):
    lon: Lon
    lat: Lat
    accuracy_m: Accuracy


class CheckLocationsRequest(msgspec.Struct, kw_only=True, rename="camel"):
    points: Annotated[list[Fix], msgspec.Meta(max_length=MAX_BATCH_POINTS)]
    crs: CoordinateSystem = CoordinateSystem.WGS84
    kinds: list[LayerKindName] | None = None


class RosterMember(msgspec.Struct, kw_only=True, rename="camel"):
    role: RosterRoleName
    user_id: uuid.UUID | None = None
    contact_name: str
    contact_phone: str
    duty_period: DutyPeriodName
    duty_checks: int


class SiteState(msgspec.Struct, kw_only=True, rename="camel"):
    status: MineStatusName
    roster: list[RosterMember]
    missing_roles: list[RosterRoleName]
    roster_complete: bool


class FeatureHit(msgspec.Struct, kw_only=True, rename="camel", gc=False):
    kind: LayerKindName
    feature_id: uuid.UUID
    layer_version_id: uuid.UUID
    relation: RelationName
    distance_m: float
    edge_distance_m: float | None = None
    land_class: LandClassName | None = None
    attributes: dict[str, Any]
    site: SiteState | None = None


class LayerRef(msgspec.Struct, kw_only=True, rename="camel"):
    kind: LayerKindName
    version_id: uuid.UUID
    version_no: int


class CheckResult(msgspec.Struct, kw_only=True, rename="camel"):
    """Every feature within the accuracy circle, nearest first, and the versions used."""

    lon: float
    lat: float
    accuracy_m: float
    crs: CoordinateSystem
    input_lon: float
    input_lat: float
    features: list[FeatureHit]
    layer_versions: list[LayerRef]


class PointResult(msgspec.Struct, kw_only=True, rename="camel", gc=False):
    """The answer for ``points[index]``; far outside the county it is empty and flagged."""

    index: int
    lon: float
    lat: float
    outside_county: bool
    features: list[FeatureHit]


class CheckLocationsResult(msgspec.Struct, kw_only=True, rename="camel"):
    results: list[PointResult]
    layer_versions: list[LayerRef]


# -- overlay -------------------------------------------------------------------------------


class OverlayRequest(msgspec.Struct, kw_only=True, rename="camel"):
    """A valid Polygon or MultiPolygon of at most 200,000 vertices (``MAX_OVERLAY_VERTICES``);
    more is refused with 422 ``too_many_vertices``."""

    polygon: GeoJsonGeometry


class AreaFigure(msgspec.Struct, kw_only=True, rename="camel"):
    """An area in m² and mu; both null when it cannot be known (e.g. no planning layer)."""

    m2: float | None = None
    mu: float | None = None


class ClassArea(msgspec.Struct, kw_only=True, rename="camel"):
    land_class: LandClassName
    area_m2: float
    area_mu: float
    parcels: int


class CurrentUse(msgspec.Struct, kw_only=True, rename="camel"):
    farmland: AreaFigure
    cultivated: AreaFigure
    permanent_basic_farmland: AreaFigure
    construction: AreaFigure
    construction_approved: AreaFigure
    unused: AreaFigure


class ZoneArea(msgspec.Struct, kw_only=True, rename="camel"):
    zone_kind: str
    area: AreaFigure


class Planning(msgspec.Struct, kw_only=True, rename="camel"):
    """Conforming: inside zones that permit construction; the rest does not conform."""

    conforming: AreaFigure
    not_conforming: AreaFigure
    not_conforming_basic_farmland: AreaFigure
    not_conforming_ecological: AreaFigure
    zones: list[ZoneArea]


class OverlaySite(msgspec.Struct, kw_only=True, rename="camel"):
    site_id: uuid.UUID
    code: str
    name: str
    site_kind: SiteKindName
    status: MineStatusName
    overlap_m2: float
    overlap_mu: float


class OverlayChange(msgspec.Struct, kw_only=True, rename="camel"):
    feature_id: uuid.UUID
    monitoring_no: str
    batch_year: int
    batch_quarter: int
    overlap_m2: float
    overlap_mu: float


class OverlayResult(msgspec.Struct, kw_only=True, rename="camel"):
    area_m2: float
    area_mu: float
    land_classes: list[ClassArea]
    unmapped: AreaFigure
    current_use: CurrentUse
    planning: Planning
    mine_sites: list[OverlaySite]
    change_polygons: list[OverlayChange]
    layer_versions: list[LayerRef]


# -- layers --------------------------------------------------------------------------------


class FeatureIssue(msgspec.Struct, kw_only=True, rename="camel"):
    """A repaired or rejected feature: its 1-based number in the file, the reason in the
    request's language, and the reason's stable ``code`` (e.g. ``feature_outside_county``,
    ``geometry_rejected``, ``degenerate_polygon``, ``geometry_repaired``; absent on reports
    stored before codes were kept)."""

    feature: int
    reason: str
    code: str | None = None


class ImportWarning(msgspec.Struct, kw_only=True, rename="camel"):
    """Something about the file worth a look that did not stop the import, e.g.
    ``crs_offset_suspected`` (lon/lat data that look like GCJ-02 or BD-09 read as WGS84) with
    the ``suggestedCrs`` to import it with."""

    code: str
    detail: str
    suggested_crs: str | None = None


class ImportSummary(msgspec.Struct, kw_only=True, rename="camel"):
    """The new layer version, or with ``dryRun`` what an import would do: the same counts,
    repairs and rejections, nothing stored (``layerVersionId`` is the nil UUID and
    ``versionNo`` 0). ``encoding`` is the text encoding a Shapefile was read with,
    ``sourceLayer`` the layer read from a GeoPackage or File Geodatabase."""

    layer_version_id: uuid.UUID
    kind: LayerKindName
    version_no: int
    source_format: str
    source_crs: str
    read: int
    stored: int
    repaired: int
    rejected: int
    repairs: list[FeatureIssue]
    rejections: list[FeatureIssue]
    dry_run: bool = False
    encoding: str | None = None
    source_layer: str | None = None
    warnings: list[ImportWarning] = msgspec.field(default_factory=list)


class ImportJobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJobError(msgspec.Struct, kw_only=True, rename="camel"):
    """Why a job failed: the same stable ``code`` and ``detail`` a synchronous import would
    have answered as problem details (``unsupported_file``, ``invalid_field_map``, ...), or
    ``import_abandoned`` / ``import_interrupted`` when the server stopped during the import."""

    code: str
    detail: str


class ImportJob(msgspec.Struct, kw_only=True, rename="camel"):
    """A layer upload imported in the background (``ImportLayer`` answered 202).

    ``read``/``stored``/``repaired``/``rejected`` count features so far; ``total`` is the
    count the file declares when it declares one, known once the worker has opened the file
    (before the first feature is read), and the count read once the job is ``done``: the
    progress of a running job is ``read`` of ``total``. ``rejections`` lists the first 1,000
    rejected features with their reasons. ``result`` is set when the state is ``done``
    (the new layer version), ``error`` when it is ``failed``.
    """

    id: uuid.UUID
    state: ImportJobState
    kind: LayerKindName
    source_name: str
    source_bytes: int
    total: int | None = None
    read: int
    stored: int
    repaired: int
    rejected: int
    rejections: list[FeatureIssue]
    result: ImportSummary | None = None
    error: ImportJobError | None = None
    created_at: datetime
    started_at: datetime | None = None
    heartbeat_at: datetime
    finished_at: datetime | None = None


class LayerVersion(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    kind: LayerKindName
    version_no: int
    source_name: str
    source_format: str
    source_crs: str
    read: int
    stored: int
    repaired: int
    rejected: int
    note: str
    created_by: uuid.UUID | None = None
    created_at: datetime


class LayerVersionDetail(msgspec.Struct, kw_only=True, rename="camel"):
    version: LayerVersion
    repairs: list[FeatureIssue]
    rejections: list[FeatureIssue]
    report_truncated: bool


class LayerFeature(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    feature_no: int
    properties: dict[str, Any]
    geometry: GeoJsonGeometry


# -- mine sites ------------------------------------------------------------------------------


class MineSiteCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """A site to register, or the full new state of one (``UpdateMineSite``)."""

    code: SiteCode
    name: Name
    geometry: GeoJsonGeometry
    site_kind: SiteKindName = SiteKindName.MINE
    mineral: Annotated[str, msgspec.Meta(max_length=50)] = ""
    closed_on: date | None = None
    closure_method: ClosureMethodName = ClosureMethodName.SEALED
    status: MineStatusName = MineStatusName.CLOSED
    signboard: bool = False
    signboard_text: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class MineSiteStatusChange(msgspec.Struct, kw_only=True, rename="camel"):
    """A status set by hand, with why (kept with the status and in the site's history)."""

    status: MineStatusName
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RosterMemberSet(msgspec.Struct, kw_only=True, rename="camel"):
    """A user of the county (``userId``), or an external contact with name and phone."""

    user_id: uuid.UUID | None = None
    contact_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    contact_phone: Phone = ""
    duty_period: DutyPeriodName | None = None
    duty_checks: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None


class MineSite(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    code: str
    site_kind: SiteKindName
    name: str
    mineral: str
    closed_on: date | None = None
    closure_method: ClosureMethodName
    status: MineStatusName
    signboard: bool
    signboard_text: str
    geometry: GeoJsonGeometry
    layer_version_id: uuid.UUID
    roster: list[RosterMember]
    missing_roles: list[RosterRoleName]
    roster_complete: bool
    #: why the status was set by hand ("" when a duty check, an import or an edit set it)
    status_reason: str = ""
    #: when the status last changed (null for sites registered before this was kept)
    status_changed_at: datetime | None = None


class RosterReport(msgspec.Struct, kw_only=True, rename="camel"):
    total_sites: int
    complete: int
    incomplete: list[MineSite]
