"""Accounts: password login with throttling, refresh tokens, device tokens, user admin.

Access tokens (short-lived JWTs) are minted by the web layer; this module owns everything
that is stored: who may log in, which refresh and device tokens are live, who is locked out.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from argon2 import PasswordHasher
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from infra.ids import uuid7
from infra.scope import Principal, Role, require_role, scoped
from infra.settings import AuthSettings
from patrol.callers import CALLERS
from patrol.models import DeviceToken, RefreshToken, User
from patrol.passwords import password_pool

__all__ = ["AccountService", "IssuedSecret", "hash_password", "principal_of", "resolve_principal"]

log = structlog.get_logger(__name__)

_hasher = PasswordHasher()
# A hash of a random password: verifying against it costs what a real check costs, so a
# missing username cannot be told apart from a wrong password by timing.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"password must have at least {MIN_PASSWORD_LENGTH} characters"
        raise InvalidInputError(msg, code=codes.PASSWORD_TOO_SHORT, field="password")


def hash_password(password: str) -> str:
    """Hash on the calling thread (seeding, the command line); requests use the pool."""
    _check_password(password)
    return _hasher.hash(password)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


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
    def __init__(
        self,
        session: AsyncSession,
        settings: AuthSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``clock``: the time lockout windows and token lifetimes count from (tests fix it)."""
        self.session = session
        self.settings = settings
        self.clock = clock
        self.passwords = password_pool(
            _hasher, workers=settings.password_workers, queue=settings.password_queue
        )

    # -- login -------------------------------------------------------------------------------
    async def authenticate(self, username: str, password: str, *, address: str) -> User:
        """Check a password from a client address, within the limits on failed attempts.

        The attempt is counted (and the limits checked) before the password is, so parallel
        attempts cannot outrun the limit; a successful one is forgotten again.
        """
        address = address[:64]
        # A login refused because too many are waiting is not counted as an attempt.
        with self.passwords.admit():
            await self._count_attempt(username, address)
            user = (
                await self.session.execute(select(User).where(User.username == username))
            ).scalar_one_or_none()
            # No connection is held while the password is checked (a tenth of a second or more).
            await self.session.commit()
            stored = user.password_hash if user else _DUMMY_HASH
            ok = await self.passwords.verify(stored, password)
        if not ok or user is None or not user.active:
            log.info("auth.login_failed", username=username, address=address)
            raise AuthenticationError("wrong username or password", code=codes.INVALID_CREDENTIALS)
        await self.session.execute(
            text(_FORGET_ATTEMPT), {"address": address, "username": username}
        )
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = await self.passwords.hash(password)
        return user

    async def _count_attempt(self, username: str, address: str) -> None:
        now = self.clock()
        window = timedelta(seconds=self.settings.login_lockout_s)
        row = (
            await self.session.execute(
                text(_COUNT_ATTEMPT),
                {
                    "address": address,
                    "username": username,
                    "now": now,
                    "expired": now - window,
                    "pair_max": self.settings.login_max_failures,
                    "address_max": self.settings.login_max_failures_per_address,
                },
            )
        ).one()
        # Kept whatever the request's outcome.
        await self.session.commit()
        if row.pair_failures > self.settings.login_max_failures:
            start, what = row.pair_start, "this user from this address"
        elif row.address_failures > self.settings.login_max_failures_per_address:
            start, what = row.address_start, "this address"
        else:
            return
        log.info("auth.login_locked", username=username, address=address)
        retry = max(1, int((start + window - now).total_seconds()) + 1)
        raise RateLimitedError(
            f"too many failed logins for {what}; try again later",
            code=codes.LOGIN_LOCKED,
            retry_after_s=retry,
        )

    # -- refresh tokens ----------------------------------------------------------------------
    async def issue_refresh_token(
        self, user: User, *, family_id: uuid.UUID | None = None
    ) -> IssuedSecret:
        now = self.clock()
        secret = "prt_" + secrets.token_urlsafe(32)
        token_id = uuid7()
        row = RefreshToken(
            id=token_id,
            county_id=user.county_id,
            user_id=user.id,
            token_hash=_sha256(secret),
            family_id=family_id or token_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_s),
        )
        self.session.add(row)
        await self.session.flush()
        return IssuedSecret(id=row.id, secret=secret, expires_at=row.expires_at)

    async def rotate_refresh_token(self, secret: str) -> tuple[User, IssuedSecret]:
        """Trade a live refresh token for a new one; the old one stops working.

        A token presented again after it was traded is taken for a stolen copy: every token
        of its family (the login it descends from) is revoked, the newest one too.
        """
        now = self.clock()
        row = (
            await self.session.execute(
                select(RefreshToken)
                .where(RefreshToken.token_hash == _sha256(secret))
                .with_for_update()
            )
        ).scalar_one_or_none()
        invalid = AuthenticationError(
            "refresh token is invalid, expired or already used", code=codes.INVALID_REFRESH_TOKEN
        )
        if row is None:
            raise invalid
        if row.revoked_at is not None:
            ended = await self.session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            # Kept although the request ends in an error.
            await self.session.commit()
            if _rowcount(ended):
                log.warning(
                    "auth.refresh_token_reused",
                    user_id=str(row.user_id),
                    family_id=str(row.family_id),
                )
            raise invalid
        if row.expires_at <= now:
            raise invalid
        user = await self.session.get(User, row.user_id)
        if user is None or not user.active:
            raise AuthenticationError("account is disabled", code=codes.ACCOUNT_DISABLED)
        row.revoked_at = now
        return user, await self.issue_refresh_token(user, family_id=row.family_id)

    # -- device tokens -----------------------------------------------------------------------
    async def register_device(self, principal: Principal, name: str) -> DeviceToken:
        now = self.clock()
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
            raise NotFoundError("device token not found", code=codes.DEVICE_NOT_FOUND)
        if row.revoked_at is None:
            row.revoked_at = self.clock()
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
        _check_password(password)
        exists = await self.session.execute(select(User.id).where(User.username == username))
        if exists.first() is not None:
            raise ConflictError("username is taken", code=codes.USERNAME_TAKEN, field="username")
        user = User(
            county_id=principal.county_id,
            username=username,
            display_name=display_name,
            role=role.value,
            phone=phone,
            password_hash=await self.passwords.hash(password),
            active=True,
            password_changed_at=self.clock(),
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
            raise NotFoundError("user not found", code=codes.USER_NOT_FOUND)
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
            raise ConflictError(
                "admins cannot disable or demote themselves", code=codes.SELF_LOCKOUT
            )
        if display_name is not None:
            user.display_name = display_name
        if phone is not None:
            user.phone = phone
        if active is False and user.active:
            await self._end_sessions(user, devices=True)
        elif role is not None and role.value != user.role:
            # Device tokens keep their own revocation; they are resolved to the new role.
            await self._end_sessions(user, devices=False)
        if role is not None:
            user.role = role.value
        if active is not None:
            user.active = active
        return user

    async def reset_password(self, principal: Principal, user_id: uuid.UUID, password: str) -> User:
        require_role(principal, Role.ADMIN, action="manage users")
        _check_password(password)
        user = await self.get_user(principal, user_id)
        user.password_hash = await self.passwords.hash(password)
        user.password_changed_at = self.clock()
        await self._end_sessions(user, devices=True)
        return user

    async def _end_sessions(self, user: User, *, devices: bool) -> None:
        """End the user's access tokens (a new epoch) and refresh tokens, and optionally the
        device tokens, in the request's transaction."""
        now = self.clock()
        user.session_epoch += 1
        stmts: list[Any] = [
            update(RefreshToken).where(
                RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)
            )
        ]
        if devices:
            stmts.append(
                update(DeviceToken).where(
                    DeviceToken.user_id == user.id, DeviceToken.revoked_at.is_(None)
                )
            )
        for stmt in stmts:
            await self.session.execute(stmt.values(revoked_at=now))
        log.info("auth.sessions_ended", user_id=str(user.id), epoch=user.session_epoch)


# -- counting login attempts ------------------------------------------------------------------
# One statement counts the attempt for the address and username pair and, unless that pair is
# locked, for the address as a whole (always in that order, so parallel attempts take the row
# locks in the same order). A count restarts once its window has passed; the attempt that
# reaches the limit starts the window again, so the lock lasts the whole window after it.
_COUNT_ATTEMPT = """
WITH pair AS (
  INSERT INTO login_failures AS f (address, username, failures, window_start)
  VALUES (:address, :username, 1, :now)
  ON CONFLICT (address, username) DO UPDATE SET
    failures = CASE WHEN f.window_start <= :expired THEN 1 ELSE f.failures + 1 END,
    window_start = CASE WHEN f.window_start <= :expired OR f.failures + 1 = :pair_max
                        THEN :now ELSE f.window_start END
  RETURNING f.failures, f.window_start
), addr AS (
  INSERT INTO login_failures AS f (address, username, failures, window_start)
  SELECT :address, '', 1, :now FROM pair WHERE pair.failures <= :pair_max
  ON CONFLICT (address, username) DO UPDATE SET
    failures = CASE WHEN f.window_start <= :expired THEN 1 ELSE f.failures + 1 END,
    window_start = CASE WHEN f.window_start <= :expired OR f.failures + 1 = :address_max
                        THEN :now ELSE f.window_start END
  RETURNING f.failures, f.window_start
)
SELECT pair.failures AS pair_failures, pair.window_start AS pair_start,
       coalesce(addr.failures, 0) AS address_failures, addr.window_start AS address_start
FROM pair LEFT JOIN addr ON true
"""
# A successful login forgets its pair's count and its own attempt in the address's count.
_FORGET_ATTEMPT = """
WITH gone AS (
  DELETE FROM login_failures WHERE address = :address AND username = :username
)
UPDATE login_failures SET failures = failures - 1
WHERE address = :address AND username = '' AND failures > 0
"""


# -- resolving a token to a live user, on every request --------------------------------------
# The user and, for a device token, the device in one round trip ($2 NULL for access tokens);
# an access token names the session epoch it was minted in ($4; NULL for device tokens).
_LIVE_CALLER = """
SELECT u.id, u.county_id, u.role, u.username, d.id AS device_id, d.last_used_at, d.expires_at
FROM users u
LEFT JOIN device_tokens d
  ON d.id = $2 AND d.user_id = u.id AND d.revoked_at IS NULL AND d.expires_at > $3
WHERE u.id = $1 AND u.active AND ($4::integer IS NULL OR u.session_epoch = $4::integer)
"""
_TOUCH_DEVICE = "UPDATE device_tokens SET last_used_at = $2 WHERE id = $1"
_TOUCH_EVERY = timedelta(minutes=5)


async def resolve_principal(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    *,
    device_id: uuid.UUID | None = None,
    epoch: int | None = None,
    cache_s: float = 0.0,
) -> Principal | None:
    """The caller behind a token, or ``None`` when the account or the device was disabled or
    the access token's session ``epoch`` has ended (password reset, disable, role change).

    Runs on every authenticated request, so it sends one pre-built statement straight to the
    driver, outside any transaction (each statement commits on its own): one round trip,
    two when a device's last use is refreshed (at most every five minutes). With
    ``cache_s`` a live caller is remembered that long (:mod:`patrol.callers`).
    """
    generation = CALLERS.generation
    driver: Any = (await conn.get_raw_connection()).driver_connection
    now = utcnow()
    row = await driver.fetchrow(_LIVE_CALLER, user_id, device_id, now, epoch)
    if row is None:
        return None
    if device_id is not None:
        if row["device_id"] is None:
            return None
        last = row["last_used_at"]
        if last is None or now - last > _TOUCH_EVERY:
            await driver.execute(_TOUCH_DEVICE, device_id, now)
    principal = Principal(
        user_id=row["id"], county_id=row["county_id"], role=Role(row["role"]),
        username=row["username"],
    )  # fmt: skip
    if cache_s > 0:
        CALLERS.put((user_id, device_id, epoch), principal, ttl_s=cache_s,
                    generation=generation, expires_at=row["expires_at"], now=now)  # fmt: skip
    return principal
