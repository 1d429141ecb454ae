"""Organisation and accounts: counties, townships, villages, roles, users, tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, CountyOwned, Timestamped, UuidPk

__all__ = [
    "County",
    "DeviceToken",
    "LoginFailure",
    "RefreshToken",
    "RoleRow",
    "Township",
    "User",
    "Village",
]


class County(UuidPk, Timestamped, Base):
    __tablename__ = "counties"

    admin_code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    province_code: Mapped[str] = mapped_column(String(2))
    boundary: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )


class Township(UuidPk, CountyOwned, Timestamped, Base):
    __tablename__ = "townships"
    __table_args__ = (UniqueConstraint("county_id", "code"),)

    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="township")
    geom: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )


class Village(UuidPk, CountyOwned, Timestamped, Base):
    __tablename__ = "villages"
    __table_args__ = (UniqueConstraint("county_id", "code"),)

    township_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("townships.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(String(15))
    name: Mapped[str] = mapped_column(String(100))
    geom: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )


class RoleRow(Base):
    """The five roles of the README's need-to-know table (reference data, seeded by migration)."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    description: Mapped[str] = mapped_column(Text)


class User(UuidPk, CountyOwned, Timestamped, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime | None]
    # Every access token carries the epoch it was minted in; a password reset, a disable or
    # a role change moves it on, and tokens of an earlier epoch stop working at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RefreshToken(UuidPk, CountyOwned, Base):
    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The login a token descends from by rotation: a reused (already rotated) token revokes
    # every token of its family, the newer ones too.
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class DeviceToken(UuidPk, CountyOwned, Base):
    """A long-lived token for one phone; its id is the JWT ``jti``. Revocation is immediate."""

    __tablename__ = "device_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """Login attempts counted per client address (``username`` empty) and per address and
    username; a run of them locks that address, or that name from that address, for a while.

    An attempt is counted before its password is checked and forgotten when it succeeds, so
    parallel attempts cannot outrun the limit.
    """

    __tablename__ = "login_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
