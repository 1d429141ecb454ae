"""The caller behind a token, remembered for a moment (patrol.callers), and forgotten the
moment a commit disables the user, ends its sessions or revokes its device."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import auth
from api.app import create_app
from infra.db import utcnow
from infra.scope import Principal, Role
from infra.settings import Settings
from patrol.accounts import resolve_principal
from patrol.callers import CALLERS, CallerCache
from patrol.models import DeviceToken, User
from tests.conftest import CountyFixture

API = "/api/v1"


async def test_a_token_used_again_is_answered_without_the_database(
    client: Any, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    headers = county.headers(Role.INSPECTOR)
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 200
    hits = CALLERS.hits
    me = await client.get(f"{API}/me", headers=headers)
    assert me.status_code == 200 and me.json()["role"] == "inspector"
    assert CALLERS.hits == hits + 1


async def test_a_disable_committed_outside_the_api_ends_the_remembered_caller_at_once(
    client: Any, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    headers = county.headers(Role.INSPECTOR)
    for _ in range(2):  # the second answer came from memory
        assert (await client.get(f"{API}/me", headers=headers)).status_code == 200
    async with session_factory() as session:
        user_id = county.users[Role.INSPECTOR].id
        await session.execute(update(User).where(User.id == user_id).values(active=False))
        await session.commit()
    refused = await client.get(f"{API}/me", headers=headers)
    assert refused.status_code == 401, refused.text
    # other users' callers went with it, and come back from the database
    assert (await client.get(f"{API}/me", headers=county.headers(Role.CAPTAIN))).status_code == 200


async def test_a_revoked_device_is_refused_on_its_next_request(
    client: Any, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    made = await client.post(
        f"{API}/auth/devices", json={"name": "巡查手机"}, headers=county.headers(Role.INSPECTOR)
    )
    assert made.status_code == 201, made.text
    device = {"Authorization": f"Bearer {made.json()['token']}"}
    for _ in range(2):
        assert (await client.get(f"{API}/me", headers=device)).status_code == 200
    # revoked by an ORM flush (not through the API): the flush marks the session
    async with session_factory() as session:
        row = await session.get(DeviceToken, uuid.UUID(made.json()["device"]["id"]))
        assert row is not None
        row.revoked_at = utcnow()
        await session.commit()
    assert (await client.get(f"{API}/me", headers=device)).status_code == 401


async def test_a_rolled_back_change_keeps_nothing_and_clears_nothing(
    client: Any, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    headers = county.headers(Role.INSPECTOR)
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 200
    async with session_factory() as session:
        user_id = county.users[Role.INSPECTOR].id
        await session.execute(update(User).where(User.id == user_id).values(active=False))
        await session.rollback()
    hits = CALLERS.hits
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 200
    assert CALLERS.hits == hits + 1


async def test_with_the_cache_off_every_request_asks_the_database(
    settings: Settings, engine: object, make_county: Any
) -> None:
    del engine
    county: CountyFixture = await make_county()
    app = create_app(replace(settings, auth=replace(settings.auth, caller_cache_s=0.0)))
    async with AsyncTestClient(app=app) as off:
        headers = county.headers(Role.INSPECTOR)
        hits, misses = CALLERS.hits, CALLERS.misses
        for _ in range(3):
            assert (await off.get(f"{API}/me", headers=headers)).status_code == 200
        assert (CALLERS.hits, CALLERS.misses) == (hits, misses)


def _principal() -> Principal:
    return Principal(user_id=uuid.uuid4(), county_id=uuid.uuid4(), role=Role.INSPECTOR,
                     username="巡查员")  # fmt: skip


def test_an_answer_read_before_a_clear_is_not_kept() -> None:
    cache = CallerCache()
    key = (uuid.uuid4(), None, 0)
    read_at = cache.generation
    cache.clear()  # a commit disabled someone while the answer was on its way
    cache.put(key, _principal(), ttl_s=2.0, generation=read_at)
    assert cache.get(key) is None
    cache.put(key, _principal(), ttl_s=2.0, generation=cache.generation)
    assert cache.get(key) is not None


def test_a_device_is_not_remembered_past_its_expiry() -> None:
    cache = CallerCache()
    now = utcnow()
    gone, soon = (uuid.uuid4(), uuid.uuid4(), None), (uuid.uuid4(), uuid.uuid4(), None)
    cache.put(gone, _principal(), ttl_s=2.0, generation=cache.generation,
              expires_at=now, now=now)  # fmt: skip
    assert cache.get(gone) is None
    cache.put(soon, _principal(), ttl_s=2.0, generation=cache.generation,
              expires_at=now + timedelta(seconds=60), now=now)  # fmt: skip
    assert cache.get(soon) is not None
    assert cache.get((uuid.uuid4(), None, 0)) is None  # never seen


def test_the_cache_is_bounded() -> None:
    cache = CallerCache(max_entries=3)
    keys = [(uuid.uuid4(), None, 0) for _ in range(5)]
    for key in keys:
        cache.put(key, _principal(), ttl_s=2.0, generation=cache.generation)
    assert len(cache) == 3
    assert cache.get(keys[0]) is None and cache.get(keys[-1]) is not None


async def _until(condition: Any, *, seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)


class _Held:
    """``resolve_principal`` that reads the database, then waits for ``gate``; every call
    is noted in ``asked``."""

    def __init__(self) -> None:
        self.asked: list[uuid.UUID] = []
        self.read = asyncio.Event()
        self.gate = asyncio.Event()

    async def __call__(self, conn: Any, user_id: uuid.UUID, **kw: Any) -> Principal | None:
        self.asked.append(user_id)
        found = await resolve_principal(conn, user_id, **kw)
        self.read.set()
        await self.gate.wait()
        return found


async def test_requests_that_miss_together_share_one_resolution(
    engine: Any, make_county: Any, monkeypatch: Any
) -> None:
    county: CountyFixture = await make_county()
    user = county.users[Role.INSPECTOR]
    held = _Held()
    monkeypatch.setattr(auth, "resolve_principal", held)
    key = (user.id, None, 0)
    waiting = [asyncio.ensure_future(auth._resolve_once(engine, key, 2.0)) for _ in range(8)]
    await held.read.wait()
    waiting[0].cancel()  # the first request's client went away: the others keep the answer
    held.gate.set()
    answers = await asyncio.gather(*waiting[1:])
    assert {(a.user_id, a.role) for a in answers if a is not None} == {(user.id, Role.INSPECTOR)}
    assert len(answers) == 7 and held.asked == [user.id]
    assert waiting[0].cancelled()
    assert CALLERS.get(key) == answers[0]  # kept for the next request


async def test_a_request_after_a_disable_does_not_share_an_answer_read_before_it(
    engine: Any,
    make_county: Any,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: Any,
) -> None:
    county: CountyFixture = await make_county()
    user_id = county.users[Role.INSPECTOR].id
    held = _Held()
    monkeypatch.setattr(auth, "resolve_principal", held)
    key = (user_id, None, 0)
    before = asyncio.ensure_future(auth._resolve_once(engine, key, 2.0))
    await held.read.wait()  # read while the user was still active
    async with session_factory() as session:
        await session.execute(update(User).where(User.id == user_id).values(active=False))
        await session.commit()
    after = asyncio.ensure_future(auth._resolve_once(engine, key, 2.0))
    await _until(lambda: len(held.asked) == 2)
    held.gate.set()
    assert (await before) is not None  # asked before the disable
    assert (await after) is None  # the disabled user is refused
    assert held.asked == [user_id, user_id]
    assert CALLERS.get(key) is None  # the answer read before the disable was not kept
