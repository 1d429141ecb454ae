"""Accounts: password login with throttling, refresh tokens, device tokens, user admin.

Access tokens (short-lived JWTs) are minted by the web layer; this module owns everything
that is stored: who may log in, which refresh and device tokens are live, who is locked out.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from infra.db import utcnow
from infra.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from infra.scope import Principal, Role, require_role, scoped
from infra.settings import AuthSettings
from patrol.models import DeviceToken, LoginThrottle, RefreshToken, User

__all__ = ["AccountService", "IssuedSecret", "hash_password", "principal_of", "resolve_principal"]

log = structlog.get_logger(__name__)

_hasher = PasswordHasher()
# A hash of a random password: verifying against it costs what a real check costs, so a
# missing username cannot be told apart from a wrong password by timing.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"password must have at least {MIN_PASSWORD_LENGTH} characters"
        raise InvalidInputError(msg, code="password_too_short", field="password")
    return _hasher.hash(password)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(user: User) -> Principal:
    return Principal(
        user_id=user.id, county_id=user.county_id, role=Role(user.role), username=user.username
    )


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A secret shown once to its owner; only its hash (or id) is stored."""

    id: uuid.UUID
    secret: str
    expires_at: datetime


class AccountService:
    def __init__(self, session: AsyncSession, settings: AuthSettings) -> None:
        self.session = session
        self.settings = settings

    # -- login -------------------------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> User:
        """Check a password; lock the name after repeated failures."""
        now = utcnow()
        throttle = await self.session.get(LoginThrottle, username, with_for_update=True)
        if throttle is not None and throttle.locked_until and throttle.locked_until > now:
            retry = int((throttle.locked_until - now).total_seconds()) + 1
            raise RateLimitedError(
                "too many failed logins for this user; try again later",
                code="login_locked",
                retry_after_s=retry,
            )
        user = (
            await self.session.execute(select(User).where(User.username == username))
        ).scalar_one_or_none()
        ok = False
        try:
            ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None or not user.active:
            await self._record_failure(username, throttle, now)
            log.info("auth.login_failed", username=username)
            raise AuthenticationError("wrong username or password", code="invalid_credentials")
        if throttle is not None:
            await self.session.delete(throttle)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        return user

    async def _record_failure(
        self, username: str, throttle: LoginThrottle | None, now: datetime
    ) -> None:
        window = timedelta(seconds=self.settings.login_lockout_s)
        if throttle is None:
            throttle = LoginThrottle(username=username, failures=0, first_failure_at=now)
            self.session.add(throttle)
        elif now - throttle.first_failure_at > window:
            throttle.failures, throttle.first_failure_at = 0, now
        throttle.failures += 1
        if throttle.failures >= self.settings.login_max_failures:
            throttle.locked_until = now + window
        # The failure must be kept even though the request ends in an error.
        await self.session.commit()

    # -- refresh tokens ----------------------------------------------------------------------
    async def issue_refresh_token(self, user: User) -> IssuedSecret:
        now = utcnow()
        secret = "prt_" + secrets.token_urlsafe(32)
        row = RefreshToken(
            county_id=user.county_id,
            user_id=user.id,
            token_hash=_sha256(secret),
            issued_at=now,
            expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_s),
        )
        self.session.add(row)
        await self.session.flush()
        return IssuedSecret(id=row.id, secret=secret, expires_at=row.expires_at)

    async def rotate_refresh_token(self, secret: str) -> tuple[User, IssuedSecret]:
        """Trade a live refresh token for a new one; the old one stops working."""
        now = utcnow()
        row = (
            await self.session.execute(
                select(RefreshToken)
                .where(RefreshToken.token_hash == _sha256(secret))
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise AuthenticationError(
                "refresh token is invalid, expired or already used", code="invalid_refresh_token"
            )
        user = await self.session.get(User, row.user_id)
        if user is None or not user.active:
            raise AuthenticationError("account is disabled", code="account_disabled")
        row.revoked_at = now
        return user, await self.issue_refresh_token(user)

    # -- device tokens -----------------------------------------------------------------------
    async def register_device(self, principal: Principal, name: str) -> DeviceToken:
        now = utcnow()
        row = DeviceToken(
            county_id=principal.county_id,
            user_id=principal.user_id,
            name=name,
            issued_at=now,
            expires_at=now + timedelta(seconds=self.settings.device_token_ttl_s),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def list_devices(self, principal: Principal) -> Sequence[DeviceToken]:
        stmt = scoped(select(DeviceToken), DeviceToken, principal)
        if principal.role is not Role.ADMIN:
            stmt = stmt.where(DeviceToken.user_id == principal.user_id)
        return (await self.session.execute(stmt.order_by(DeviceToken.issued_at))).scalars().all()

    async def revoke_device(self, principal: Principal, device_id: uuid.UUID) -> DeviceToken:
        stmt = scoped(select(DeviceToken), DeviceToken, principal).where(
            DeviceToken.id == device_id
        )
        if principal.role is not Role.ADMIN:
            stmt = stmt.where(DeviceToken.user_id == principal.user_id)
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFoundError("device token not found", code="device_not_found")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return row

    # -- resolving a token to a live user -------------------------------------------------------
    # -- user administration -----------------------------------------------------------------
    async def create_user(
        self,
        principal: Principal,
        *,
        username: str,
        display_name: str,
        role: Role,
        password: str,
        phone: str | None = None,
    ) -> User:
        require_role(principal, Role.ADMIN, action="manage users")
        exists = await self.session.execute(select(User.id).where(User.username == username))
        if exists.first() is not None:
            raise ConflictError("username is taken", code="username_taken", field="username")
        user = User(
            county_id=principal.county_id,
            username=username,
            display_name=display_name,
            role=role.value,
            phone=phone,
            password_hash=hash_password(password),
            active=True,
            password_changed_at=utcnow(),
        )
        self.session.add(user)
        await self.session.flush()
        log.info("users.created", user_id=str(user.id), role=role.value)
        return user

    async def list_users(self, principal: Principal, *, role: Role | None = None) -> Sequence[User]:
        stmt = scoped(select(User), User, principal).order_by(User.username)
        if role is not None:
            stmt = stmt.where(User.role == role.value)
        return (await self.session.execute(stmt)).scalars().all()

    async def get_user(self, principal: Principal, user_id: uuid.UUID) -> User:
        stmt = scoped(select(User), User, principal).where(User.id == user_id)
        user = (await self.session.execute(stmt)).scalar_one_or_none()
        if user is None:
            raise NotFoundError("user not found", code="user_not_found")
        return user

    async def update_user(
        self,
        principal: Principal,
        user_id: uuid.UUID,
        *,
        display_name: str | None = None,
        role: Role | None = None,
        phone: str | None = None,
        active: bool | None = None,
    ) -> User:
        require_role(principal, Role.ADMIN, action="manage users")
        user = await self.get_user(principal, user_id)
        if user.id == principal.user_id and (active is False or (role and role is not Role.ADMIN)):
            raise ConflictError("admins cannot disable or demote themselves", code="self_lockout")
        if display_name is not None:
            user.display_name = display_name
        if role is not None:
            user.role = role.value
        if phone is not None:
            user.phone = phone
        if active is not None:
            user.active = active
            if not active:
                await self._revoke_all(user)
        return user

    async def reset_password(self, principal: Principal, user_id: uuid.UUID, password: str) -> User:
        require_role(principal, Role.ADMIN, action="manage users")
        user = await self.get_user(principal, user_id)
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
        await self._revoke_all(user)
        return user

    async def _revoke_all(self, user: User) -> None:
        now = utcnow()
        for stmt in (
            update(RefreshToken).where(
                RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)
            ),
            update(DeviceToken).where(
                DeviceToken.user_id == user.id, DeviceToken.revoked_at.is_(None)
            ),
        ):
            await self.session.execute(stmt.values(revoked_at=now))


# -- resolving a token to a live user, on every request --------------------------------------
# The user and, for a device token, the device in one round trip ($2 NULL for access tokens).
_LIVE_CALLER = """
SELECT u.id, u.county_id, u.role, u.username, d.id AS device_id, d.last_used_at
FROM users u
LEFT JOIN device_tokens d
  ON d.id = $2 AND d.user_id = u.id AND d.revoked_at IS NULL AND d.expires_at > $3
WHERE u.id = $1 AND u.active
"""
_TOUCH_DEVICE = "UPDATE device_tokens SET last_used_at = $2 WHERE id = $1"
_TOUCH_EVERY = timedelta(minutes=5)


async def resolve_principal(
    conn: AsyncConnection, user_id: uuid.UUID, *, device_id: uuid.UUID | None = None
) -> Principal | None:
    """The caller behind a token, or ``None`` when the account or the device was disabled.

    Runs on every authenticated request, so it sends one pre-built statement straight to the
    driver, outside any transaction (each statement commits on its own): one round trip,
    two when a device's last use is refreshed (at most every five minutes).
    """
    driver: Any = (await conn.get_raw_connection()).driver_connection
    now = utcnow()
    row = await driver.fetchrow(_LIVE_CALLER, user_id, device_id, now)
    if row is None:
        return None
    if device_id is not None:
        if row["device_id"] is None:
            return None
        last = row["last_used_at"]
        if last is None or now - last > _TOUCH_EVERY:
            await driver.execute(_TOUCH_DEVICE, device_id, now)
    return Principal(
        user_id=row["id"], county_id=row["county_id"], role=Role(row["role"]),
        username=row["username"],
    )  # fmt: skip
