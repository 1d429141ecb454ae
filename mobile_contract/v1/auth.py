"""Login, refresh, device tokens and the caller's own identity."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

__all__ = [
    "CountyInfo",
    "Device",
    "DeviceRegistration",
    "IssuedDeviceToken",
    "Me",
    "RefreshRequest",
    "TokenPair",
    "TokenRequest",
]

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TokenRequest(msgspec.Struct, kw_only=True, rename="camel"):
    username: Username
    password: Password


class RefreshRequest(msgspec.Struct, kw_only=True, rename="camel"):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenPair(msgspec.Struct, kw_only=True, rename="camel"):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime


class DeviceRegistration(msgspec.Struct, kw_only=True, rename="camel"):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class Device(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    issued_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked: bool = False


class IssuedDeviceToken(msgspec.Struct, kw_only=True, rename="camel"):
    """The device token is shown once; store it in the phone's keystore."""

    device: Device
    token: str


class CountyInfo(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    admin_code: str
    name: str


class Me(msgspec.Struct, kw_only=True, rename="camel"):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    phone: str | None = None
    county: CountyInfo
