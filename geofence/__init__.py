"""Reference layers and accuracy-aware location checks (see DESIGN.md section 6).

Public surface: layer import and versions (:mod:`geofence.importer`, :mod:`geofence.layers`),
location checks (:mod:`geofence.check`), overlay (:mod:`geofence.overlay`), closed-mine sites
and rosters (:mod:`geofence.mines`), GCJ-02 conversion (:mod:`geofence.gcj02`), demo data
(:mod:`geofence.demo`). Errors are in :mod:`geofence.errors`.
"""

from __future__ import annotations

from geofence.enums import (
    ClosureMethod,
    DutyPeriod,
    LandClass,
    LayerKind,
    MineStatus,
    Relation,
    RosterRole,
    SiteKind,
    ZoneKind,
)
from geofence.errors import (
    CountyNotFoundError,
    DuplicateSiteCodeError,
    InvalidCoordinatesError,
    InvalidFieldMapError,
    InvalidGeometryError,
    InvalidRosterError,
    LayerVersionNotFoundError,
    MineSiteNotFoundError,
    OutsideCountyError,
    TooManyPointsError,
    UnknownCrsError,
    UnknownLayerKindError,
    UnsupportedFileError,
)
from geofence.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from geofence.importer import FeatureIssue, ImportProgress, ImportSummary, import_layer
from geofence.layers import (
    FeatureRecord,
    LayerVersionInfo,
    get_layer_version,
    list_layer_versions,
    read_layer_features,
)
from geofence.mines import (
    MineSiteInfo,
    RosterEntry,
    RosterMemberInput,
    RosterReport,
    SiteInput,
    create_mine_site,
    get_mine_site,
    list_mine_sites,
    remove_roster_member,
    retire_mine_site,
    roster_report,
    set_roster_member,
    set_site_status,
    update_mine_site,
)

__all__ = [
    "ClosureMethod",
    "CountyNotFoundError",
    "DuplicateSiteCodeError",
    "DutyPeriod",
    "FeatureIssue",
    "FeatureRecord",
    "ImportProgress",
    "ImportSummary",
    "InvalidCoordinatesError",
    "InvalidFieldMapError",
    "InvalidGeometryError",
    "InvalidRosterError",
    "LandClass",
    "LayerKind",
    "LayerVersionInfo",
    "LayerVersionNotFoundError",
    "MineSiteInfo",
    "MineSiteNotFoundError",
    "MineStatus",
    "OutsideCountyError",
    "Relation",
    "RosterEntry",
    "RosterMemberInput",
    "RosterReport",
    "RosterRole",
    "SiteInput",
    "SiteKind",
    "TooManyPointsError",
    "UnknownCrsError",
    "UnknownLayerKindError",
    "UnsupportedFileError",
    "ZoneKind",
    "create_mine_site",
    "gcj02_to_wgs84",
    "get_layer_version",
    "get_mine_site",
    "import_layer",
    "list_layer_versions",
    "list_mine_sites",
    "read_layer_features",
    "remove_roster_member",
    "retire_mine_site",
    "roster_report",
    "set_roster_member",
    "set_site_status",
    "update_mine_site",
    "wgs84_to_gcj02",
]
