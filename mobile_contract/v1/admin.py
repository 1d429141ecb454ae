"""County administration: users, townships, villages."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from mobile_contract.v1.common import GeoJsonGeometry

__all__ = [
    "County",
    "CountyCreate",
    "PasswordReset",
    "RoleName",
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
