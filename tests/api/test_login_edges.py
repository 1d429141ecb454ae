"""Login lockout at its edges, on a fixed clock: ``login_max_failures`` (5) failed attempts
from one address are still answered ``invalid_credentials``; the next attempt is locked, even
with the right password, for ``login_lockout_s`` (900 s) from the failure that reached the
limit: still locked one second before, open again at that instant. ``N - 1`` failures and
then the right password let the user in and forget the failures. A refresh token lives
``refresh_token_ttl_s`` to the microsecond."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.errors import AuthenticationError, RateLimitedError
from infra.scope import Role
from infra.settings import Settings
from patrol.accounts import AccountService
from patrol.models import User
from tests.conftest import TEST_PASSWORD

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def _try(accounts: AccountService, name: str, password: str, address: str) -> str:
    """What the login answers: ``ok``, the error's code."""
    try:
        await accounts.authenticate(name, password, address=address)
    except AuthenticationError as exc:
        return exc.code
    except RateLimitedError as exc:
        return f"{exc.code}:{exc.extra['retry_after_s']}"
    await accounts.session.commit()
    return "ok"


@pytest.fixture
def accounts(db: AsyncSession, settings: Settings) -> Callable[[Clock], AccountService]:
    auth = replace(settings.auth, password_workers=1)
    return lambda clock: AccountService(db, auth, clock=clock)


async def test_the_limit_and_the_lock_expiry_at_their_edges(
    accounts: Callable[[Clock], AccountService], settings: Settings, make_county: Any
) -> None:
    limit, window = settings.auth.login_max_failures, settings.auth.login_lockout_s
    assert (limit, window) == (5, 900)
    name = (await make_county()).users[Role.INSPECTOR].username
    clock = Clock(T0)
    service = accounts(clock)
    answers = []
    for i in range(limit):
        clock.at = T0 + timedelta(seconds=10 * i)
        answers.append(await _try(service, name, "wrong-password-1", "10.0.0.1"))
    assert answers == ["invalid_credentials"] * limit
    reached = clock.at  # the failure that reached the limit starts the lock
    clock.at = reached + timedelta(seconds=1)
    assert await _try(service, name, TEST_PASSWORD, "10.0.0.1") == f"login_locked:{window}"
    clock.at = reached + timedelta(seconds=window - 1)
    assert await _try(service, name, TEST_PASSWORD, "10.0.0.1") == "login_locked:2"
    clock.at = reached + timedelta(seconds=window - 1, microseconds=999_999)
    assert await _try(service, name, TEST_PASSWORD, "10.0.0.1") == "login_locked:1"
    # another address was never locked
    assert await _try(service, name, TEST_PASSWORD, "10.0.0.2") == "ok"
    clock.at = reached + timedelta(seconds=window)
    assert await _try(service, name, TEST_PASSWORD, "10.0.0.1") == "ok"


async def test_one_failure_short_of_the_limit_the_right_password_works_and_resets(
    accounts: Callable[[Clock], AccountService], settings: Settings, make_county: Any
) -> None:
    limit = settings.auth.login_max_failures
    name = (await make_county()).users[Role.CAPTAIN].username
    clock = Clock(T0)
    service = accounts(clock)
    for _ in range(limit - 1):
        assert await _try(service, name, "wrong-password-1", "10.0.0.3") == "invalid_credentials"
    assert await _try(service, name, TEST_PASSWORD, "10.0.0.3") == "ok"
    # the count started again: another limit - 1 failures and the password still works
    for _ in range(limit - 1):
        assert await _try(service, name, "wrong-password-1", "10.0.0.3") == "invalid_credentials"
    assert await _try(service, name, TEST_PASSWORD, "10.0.0.3") == "ok"
    # failures spread over more than the window never add up to a lock
    for i in range(limit + 2):
        clock.at = T0 + timedelta(seconds=settings.auth.login_lockout_s * i / (limit - 1))
        assert await _try(service, name, "wrong-password-1", "10.0.0.3") == "invalid_credentials"


async def test_a_refresh_token_works_until_just_before_its_lifetime_ends(
    accounts: Callable[[Clock], AccountService],
    settings: Settings,
    make_county: Any,
    db: AsyncSession,
) -> None:
    """``refresh_token_ttl_s`` (30 days): traded a microsecond before it ends, a token gives
    a new one; at the instant it ends it is refused."""
    ttl = timedelta(seconds=settings.auth.refresh_token_ttl_s)
    assert ttl == timedelta(days=30)
    name = (await make_county()).users[Role.INSPECTOR].username
    user = (await db.execute(select(User).where(User.username == name))).scalar_one()
    clock = Clock(T0)
    service = accounts(clock)
    early, late = await service.issue_refresh_token(user), await service.issue_refresh_token(user)
    await db.commit()
    assert early.expires_at == late.expires_at == T0 + ttl
    clock.at = T0 + ttl - timedelta(microseconds=1)
    _, renewed = await service.rotate_refresh_token(early.secret)
    assert renewed.expires_at == clock.at + ttl
    clock.at = T0 + ttl
    with pytest.raises(AuthenticationError) as err:
        await service.rotate_refresh_token(late.secret)
    assert err.value.code == "invalid_refresh_token"
    await db.commit()
