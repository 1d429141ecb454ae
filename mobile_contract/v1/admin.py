"""County administration: users, townships, villages."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from mobile_contract.v1.common import GeoJsonGeometry

__all__ = [
    "County",
    "CountyCreate",
    "CountySettings",
    "LayerImportLimits",
    "PasswordReset",
    "ProcedureFigures",
    "ReportSchedule",
    "RoleName",
    "SatelliteSchedule",
    "TipOffDeadlineSettings",
    "Township",
    "TownshipCreate",
    "TownshipUpdate",
    "User",
    "UserCreate",
    "UserUpdate",
    "Village",
    "VillageCreate",
    "VillageUpdate",
]

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=15, pattern=r"^[0-9A-Za-z_-]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
NewPassword = Annotated[str, msgspec.Meta(min_length=10, max_length=256)]


class RoleName(enum.StrEnum):
    INSPECTOR = "inspector"
    JOINT_TEAM = "joint_team"
    CAPTAIN = "captain"
    SECURITY_SQUAD = "security_squad"
    ADMIN = "admin"
    CLUE_DESK = "clue_desk"
    PROCURATORATE = "procuratorate"


class UserCreate(msgspec.Struct, kw_only=True, rename="camel"):
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=64, pattern=r"^[a-z0-9_.-]+$")]
    display_name: Name
    role: RoleName
    password: NewPassword
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class UserUpdate(msgspec.Struct, kw_only=True, rename="camel"):
    display_name: Name | None = None
    role: RoleName | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    active: bool | None = None


class PasswordReset(msgspec.Struct, kw_only=True, rename="camel"):
    password: NewPassword


class User(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    username: str
    display_name: str
    role: RoleName
    phone: str | None = None
    active: bool
    created_at: datetime


class TownshipCreate(msgspec.Struct, kw_only=True, rename="camel"):
    code: Code
    name: Name
    kind: Annotated[str, msgspec.Meta(pattern=r"^(township|town|subdistrict|park)$")] = "township"
    geometry: GeoJsonGeometry


class TownshipUpdate(msgspec.Struct, kw_only=True, rename="camel"):
    name: Name | None = None
    kind: Annotated[str, msgspec.Meta(pattern=r"^(township|town|subdistrict|park)$")] | None = None
    geometry: GeoJsonGeometry | None = None


class Township(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    geometry: GeoJsonGeometry


class VillageCreate(msgspec.Struct, kw_only=True, rename="camel"):
    township_id: uuid.UUID
    code: Code
    name: Name
    geometry: GeoJsonGeometry


class VillageUpdate(msgspec.Struct, kw_only=True, rename="camel"):
    name: Name | None = None
    geometry: GeoJsonGeometry | None = None


class Village(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    township_id: uuid.UUID
    code: str
    name: str
    geometry: GeoJsonGeometry


AdminCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}([0-9]{3}|[0-9]{6})?$")]


class CountyCreate(msgspec.Struct, kw_only=True, rename="camel"):
    """A new county (tenant): its admin code, name and boundary."""

    code: Annotated[AdminCode, msgspec.Meta(description="6-digit county admin code, e.g. 430999")]
    name: Name
    province_code: (
        Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2}$", description="default: from code")] | None
    ) = None
    boundary: GeoJsonGeometry
    crs: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=200,
                description="the boundary's CRS when not WGS84: EPSG:NNNN, cgcs2000, gcj02, bd09",
            ),
        ]
        | None
    ) = None


class County(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    code: str
    name: str
    province_code: str
    created_at: datetime


class TipOffDeadlineSettings(msgspec.Struct, kw_only=True, rename="camel"):
    """A 12336 clue's working days (counted from the day it was received) in the county's
    province, and the radius within which a new clue about the same party repeats an open
    one."""

    decide_working_days: int
    verify_working_days: int
    feedback_working_days: int
    duplicate_radius_m: float


class ProcedureFigures(msgspec.Struct, kw_only=True, rename="camel"):
    """The penalty procedure's local figures: filing within ``filingWorkingDays`` working
    days; fines from ``majorFineYuan`` make a major case; fines from the hearing figures give
    a person or an organisation the right to a hearing."""

    filing_working_days: int
    major_fine_yuan: Decimal
    hearing_fine_person_yuan: Decimal
    hearing_fine_organisation_yuan: Decimal


class SatelliteSchedule(msgspec.Struct, kw_only=True, rename="camel"):
    """A quarterly satellite batch is reported ``quarterReportDays`` after its quarter ends,
    field results ``reviewDays`` before that; above ``ratioThreshold`` (a share, 0.15 = 15%)
    of illegally occupied cultivated land in new construction land a county faces summons."""

    quarter_report_days: int
    review_days: int
    ratio_threshold: float


class ReportSchedule(msgspec.Struct, kw_only=True, rename="camel"):
    """The day of the following month each period's report is due, and the departments of
    the county's joint meeting."""

    monthly_due_day: int
    quarterly_due_day: int
    annual_due_day: int
    joint_meeting_members: list[str]


class LayerImportLimits(msgspec.Struct, kw_only=True, rename="camel"):
    """Layer files above ``backgroundJobBytes`` are imported in the background (an import
    job); none may exceed ``maxUploadBytes``."""

    background_job_bytes: int
    max_upload_bytes: int


class CountySettings(msgspec.Struct, kw_only=True, rename="camel"):
    """The deadlines and thresholds in force for the caller's county (read-only: they are
    the server's settings)."""

    county_id: uuid.UUID
    county_name: str
    province_code: str
    tip_offs: TipOffDeadlineSettings
    procedure: ProcedureFigures
    satellite: SatelliteSchedule
    reports: ReportSchedule
    layer_imports: LayerImportLimits
