"""Closed vocabularies of the reference layers (stored as their string values)."""

from __future__ import annotations

import enum

__all__ = [
    "ClosureMethod",
    "DutyPeriod",
    "LandClass",
    "LayerKind",
    "MineStatus",
    "Relation",
    "RosterRole",
    "SiteKind",
    "ZoneKind",
]


class LayerKind(enum.StrEnum):
    PARCELS = "parcels"
    PLANNING_ZONES = "planning_zones"
    MINE_SITES = "mine_sites"
    CHANGE_POLYGONS = "change_polygons"


class LandClass(enum.StrEnum):
    """Current land class of a parcel (the raw source code and name are kept beside it)."""

    PERMANENT_BASIC_FARMLAND = "permanent_basic_farmland"  # 永久基本农田
    CULTIVATED = "cultivated"  # 耕地 (other than permanent basic farmland)
    OTHER_FARMLAND = "other_farmland"  # 园地、林地、草地、设施农用地...
    CONSTRUCTION_APPROVED = "construction_approved"  # 批准用地 / 供地
    CONSTRUCTION_UNAPPROVED = "construction_unapproved"
    UNUSED = "unused"
    OTHER = "other"

    @property
    def is_farmland(self) -> bool:
        return self in _FARMLAND

    @property
    def is_cultivated(self) -> bool:
        return self in (LandClass.PERMANENT_BASIC_FARMLAND, LandClass.CULTIVATED)

    @property
    def is_construction(self) -> bool:
        return self in (LandClass.CONSTRUCTION_APPROVED, LandClass.CONSTRUCTION_UNAPPROVED)

    @property
    def label(self) -> str:
        """The name users read (Simplified Chinese)."""
        return _LABELS[self]


_FARMLAND = frozenset(
    {LandClass.PERMANENT_BASIC_FARMLAND, LandClass.CULTIVATED, LandClass.OTHER_FARMLAND}
)
_LABELS = {
    LandClass.PERMANENT_BASIC_FARMLAND: "永久基本农田",
    LandClass.CULTIVATED: "耕地",
    LandClass.OTHER_FARMLAND: "其他农用地",
    LandClass.CONSTRUCTION_APPROVED: "批准建设用地",
    LandClass.CONSTRUCTION_UNAPPROVED: "未批建设用地",
    LandClass.UNUSED: "未利用地",
    LandClass.OTHER: "其他土地",
}


class ZoneKind(enum.StrEnum):
    """Planning zones (三区三线 and village construction areas)."""

    BASIC_FARMLAND = "basic_farmland"  # 永久基本农田保护红线
    ECOLOGICAL_REDLINE = "ecological_redline"  # 生态保护红线
    URBAN_DEVELOPMENT = "urban_development"  # 城镇开发边界
    VILLAGE_CONSTRUCTION = "village_construction"  # 村庄建设边界
    OTHER = "other"

    @property
    def permits_construction(self) -> bool:
        """Whether construction inside the zone conforms to the plan."""
        return self in (ZoneKind.URBAN_DEVELOPMENT, ZoneKind.VILLAGE_CONSTRUCTION)


class SiteKind(enum.StrEnum):
    MINE = "mine"  # closed illegal mine (polygon or point)
    DREDGING_BOAT = "dredging_boat"  # removed gold dredging boat (point on a river)


class MineStatus(enum.StrEnum):
    CLOSED = "closed"
    SIGNS_OF_REOPENING = "signs_of_reopening"
    REOPENED = "reopened"
    REMEDIATED = "remediated"


class ClosureMethod(enum.StrEnum):
    SEALED = "sealed"  # adit sealed / blasted shut
    DEMOLISHED = "demolished"  # works and sheds demolished
    EQUIPMENT_REMOVED = "equipment_removed"
    HAULED_ASHORE = "hauled_ashore"  # dredging boat
    STRIPPED = "stripped"  # dredging boat stripped of equipment
    SOLD_AWAY = "sold_away"  # dredging boat sold out of the area
    OTHER = "other"


class RosterRole(enum.StrEnum):
    """The five people responsible for one closed site (五包一), in the order of the roster form."""

    TOWNSHIP_LEADER = "township_leader"  # 乡镇领导班子成员
    SAFETY_OFFICER = "safety_officer"  # 乡镇安监站工作人员
    VILLAGE_LIAISON_CADRE = "village_liaison_cadre"  # 联村干部
    LAND_RESOURCES_STAFF = "land_resources_staff"  # 国土资源所工作人员
    VILLAGE_CADRE = "village_cadre"  # 村干部

    @property
    def default_duty(self) -> tuple[DutyPeriod, int]:
        """The usual duty cycle: (period, checks per period)."""
        return _DEFAULT_DUTY[self]


class DutyPeriod(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


_DEFAULT_DUTY: dict[RosterRole, tuple[DutyPeriod, int]] = {
    RosterRole.TOWNSHIP_LEADER: (DutyPeriod.MONTHLY, 1),
    RosterRole.SAFETY_OFFICER: (DutyPeriod.WEEKLY, 1),
    RosterRole.VILLAGE_LIAISON_CADRE: (DutyPeriod.WEEKLY, 1),
    RosterRole.LAND_RESOURCES_STAFF: (DutyPeriod.WEEKLY, 1),
    RosterRole.VILLAGE_CADRE: (DutyPeriod.DAILY, 1),
}


class Relation(enum.StrEnum):
    """How a GPS fix (a circle of radius accuracy) relates to a feature.

    * ``inside``: the whole circle lies inside the feature;
    * ``boundary``: the fix is inside the feature but the circle crosses its edge;
    * ``near``: the fix is outside the feature (or the feature is a point or line) and the
      circle reaches it.
    """

    INSIDE = "inside"
    BOUNDARY = "boundary"
    NEAR = "near"
