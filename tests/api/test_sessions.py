"""Token lifecycle and login floods through the real app.

Sessions: a reused refresh token ends its whole family; a password reset, a disable or a role
change ends every access and refresh token of the user on the next request (a caller
remembered for a moment is forgotten when the change commits, see test_caller_cache.py);
only the Bearer scheme.
Floods: attempts are counted per client address and per address and username, exactly, even
under parallel attempts; passwords are checked off the event loop.

Litestar's test client runs each request to its end on another thread while the caller's
event loop waits, so requests sent through it never overlap. The parallel and flood tests use
httpx's ASGI transport instead, which runs the app on the test's own event loop: requests
overlap as they do under a server. That app trusts its peer (127.0.0.1) as its proxy, as a
deployment behind a proxy would, so the client address is set with ``X-Forwarded-For``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from api.app import create_app
from infra.scope import Role
from infra.settings import Settings
from tests.conftest import TEST_PASSWORD, CountyFixture

Client = httpx.AsyncClient  # the shared test client (an AsyncTestClient) or ``proxied``
_PER_ADDRESS = 20


@contextlib.asynccontextmanager
async def _served(settings: Settings, **auth: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app on this event loop, behind a proxy it trusts (127.0.0.1)."""
    app = create_app(
        replace(settings, auth=replace(settings.auth, trusted_proxies=("127.0.0.1",), **auth))
    )
    started, done = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:  # entered and left in one task, as anyio requires
        async with app.lifespan():
            started.set()
            await done.wait()

    running = asyncio.create_task(lifespan())
    await started.wait()
    # httpx types an ASGI app with plain mappings, Litestar with its typed scopes
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c
    finally:
        done.set()
        await running


@pytest.fixture(scope="session")
async def proxied(settings: Settings, engine: object) -> AsyncIterator[httpx.AsyncClient]:
    """Requests through this client run concurrently. Room for 64 logins waiting for a
    password check: 50 parallel attempts all reach the counting (with the default 16, most
    would be turned away as login_busy first)."""
    async with _served(
        settings, login_max_failures_per_address=_PER_ADDRESS, password_queue=64
    ) as client:
        yield client


def _address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


async def _login(
    client: Client, username: str, password: str = TEST_PASSWORD, *, address: str | None = None
) -> Any:
    headers = {"X-Forwarded-For": address} if address else {}
    return await client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}, headers=headers
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refresh(client: Client, token: str) -> Any:
    return await client.post("/api/v1/auth/refresh", json={"refreshToken": token})


# -- sessions --------------------------------------------------------------------------------------
async def test_a_reused_refresh_token_ends_its_whole_family(
    client: Client, make_county: Any
) -> None:
    county = await make_county()
    name = county.users[Role.INSPECTOR].username
    first = (await _login(client, name)).json()
    other_login = (await _login(client, name)).json()
    second = await _refresh(client, first["refreshToken"])
    assert second.status_code == 200, second.text
    newer = second.json()["refreshToken"]

    # the rotated token comes back (a stolen copy, or the thief came first): refused ...
    reused = await _refresh(client, first["refreshToken"])
    assert reused.status_code == 401 and reused.json()["code"] == "invalid_refresh_token"
    # ... and the newer token of the same family is dead too
    after = await _refresh(client, newer)
    assert after.status_code == 401 and after.json()["code"] == "invalid_refresh_token"
    # another login of the same user is another family and goes on working
    assert (await _refresh(client, other_login["refreshToken"])).status_code == 200


async def _admin_change(client: Client, county: CountyFixture, what: str) -> None:
    user_id = county.users[Role.INSPECTOR].id
    admin = county.headers(Role.ADMIN)
    if what == "reset":
        resp = await client.post(
            f"/api/v1/admin/users/{user_id}/password",
            json={"password": "a-brand-new-password"},
            headers=admin,
        )
    else:
        body = {"active": False} if what == "disable" else {"role": "captain"}
        resp = await client.patch(f"/api/v1/admin/users/{user_id}", json=body, headers=admin)
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("what", ["reset", "disable", "role"])
async def test_reset_disable_and_role_change_end_every_token_at_once(
    client: Client, make_county: Any, what: str
) -> None:
    county = await make_county()
    name = county.users[Role.INSPECTOR].username
    pairs = [(await _login(client, name)).json() for _ in range(2)]
    device = await client.post(
        "/api/v1/auth/devices", json={"name": "phone"}, headers=_bearer(pairs[0]["accessToken"])
    )
    assert device.status_code == 201, device.text
    device_token = device.json()["token"]
    for pair in pairs:
        assert (await client.get("/api/v1/me", headers=_bearer(pair["accessToken"]))).is_success

    await _admin_change(client, county, what)

    # no waiting: the next request with any access token of the old epoch is refused
    for pair in pairs:
        me = await client.get("/api/v1/me", headers=_bearer(pair["accessToken"]))
        assert me.status_code == 401, (what, me.text)
        assert (await _refresh(client, pair["refreshToken"])).status_code == 401
    # device tokens keep their own revocation: a reset or disable revokes them, a role change
    # does not (the device is resolved to the new role)
    on_device = await client.get("/api/v1/me", headers=_bearer(device_token))
    if what == "role":
        assert on_device.status_code == 200 and on_device.json()["role"] == "captain"
    else:
        assert on_device.status_code == 401
    # a new login starts the new epoch (after a reset, with the new password)
    if what != "disable":
        password = "a-brand-new-password" if what == "reset" else TEST_PASSWORD
        fresh = await _login(client, name, password)
        assert fresh.status_code == 200, fresh.text
        me = await client.get("/api/v1/me", headers=_bearer(fresh.json()["accessToken"]))
        assert me.status_code == 200
        assert (await _refresh(client, fresh.json()["refreshToken"])).status_code == 200


async def test_only_the_bearer_scheme_is_read(client: Client, make_county: Any) -> None:
    county = await make_county()
    token = (await _login(client, county.users[Role.CAPTAIN].username)).json()["accessToken"]
    for header in (f"Basic {token}", f"Token {token}", token, f"Bearer{token}", "Bearer "):
        resp = await client.get("/api/v1/me", headers={"Authorization": header})
        assert resp.status_code == 401, header
        assert resp.json()["code"] == "not_authenticated"
    for scheme in ("Bearer", "bearer", "BEARER"):  # the scheme is case-insensitive (RFC 9110)
        resp = await client.get("/api/v1/me", headers={"Authorization": f"{scheme} {token}"})
        assert resp.status_code == 200, scheme


# -- login throttling ------------------------------------------------------------------------------
async def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(
    proxied: Client, make_county: Any
) -> None:
    county = await make_county()
    name = county.users[Role.ADMIN].username
    attacker, owner = _address(), _address()
    for _ in range(5):
        resp = await _login(proxied, name, "guessing-password", address=attacker)
        assert resp.status_code == 401
    locked = await _login(proxied, name, address=attacker)  # even the right password
    assert locked.status_code == 429 and locked.json()["code"] == "login_locked"
    assert int(locked.headers["retry-after"]) > 0
    # the rightful owner, from another address, answers within the limits and gets in
    for _ in range(2):
        assert (await _login(proxied, name, "a-typo-password", address=owner)).status_code == 401
    assert (await _login(proxied, name, address=owner)).status_code == 200
    # a success forgets that address's failures for the name: five more tries are allowed
    for _ in range(4):
        assert (await _login(proxied, name, "a-typo-password", address=owner)).status_code == 401
    assert (await _login(proxied, name, address=owner)).status_code == 200
    # the attacker's address stays locked for this name
    assert (await _login(proxied, name, address=attacker)).status_code == 429


async def test_an_address_trying_many_names_is_locked(proxied: Client, make_county: Any) -> None:
    county = await make_county()
    address = _address()
    for i in range(_PER_ADDRESS):
        resp = await _login(proxied, f"nobody-{secrets.token_hex(4)}-{i}", "x", address=address)
        assert resp.status_code == 401
    locked = await _login(proxied, county.users[Role.CAPTAIN].username, address=address)
    assert locked.status_code == 429 and locked.json()["code"] == "login_locked"
    # other addresses are not affected
    ok = await _login(proxied, county.users[Role.CAPTAIN].username, address=_address())
    assert ok.status_code == 200


async def test_a_forwarded_address_is_believed_only_from_a_trusted_proxy(
    client: Client, make_county: Any
) -> None:
    county = await make_county()
    name = county.users[Role.INSPECTOR].username
    for _ in range(5):
        resp = await _login(client, name, "guessing-password", address=_address())
        assert resp.status_code == 401
    # the default app trusts no proxy: all five came from its one peer, whatever they claimed
    assert (await _login(client, name, address=_address())).status_code == 429


@pytest.mark.parametrize("known", [True, False], ids=["known-user", "new-name"])
async def test_parallel_failures_are_counted_exactly(
    proxied: Client, make_county: Any, known: bool
) -> None:
    county = await make_county()
    name = county.users[Role.INSPECTOR].username if known else f"new-{secrets.token_hex(6)}"
    address = _address()
    answers = await asyncio.gather(
        *(_login(proxied, name, f"wrong-password-{i}", address=address) for i in range(50))
    )
    codes = Counter((r.status_code, r.json()["code"]) for r in answers)
    print(f"50 parallel failures ({'known' if known else 'new'} name): {dict(codes)}")
    # exactly the limit's worth of passwords checked, the rest refused before checking; no 500
    assert codes == {(401, "invalid_credentials"): 5, (429, "login_locked"): 45}, codes
    # the limit was stored: the right password is refused now from that address
    after = await _login(proxied, name, address=address)
    assert after.status_code == 429 and after.json()["code"] == "login_locked"


# -- floods ----------------------------------------------------------------------------------------
async def test_a_flood_of_bad_logins_is_checked_off_the_event_loop(
    proxied: Client, make_county: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad logins, each a new name from a new address (so every one costs a password check),
    overlapping with others' GetMe: every check runs on a low-priority password thread, never
    on the event loop, and every GetMe is answered. (The others' latency under a flood is
    measured by bench_auth.py, not asserted here.)"""
    county = await make_county()
    headers = county.headers(Role.INSPECTOR)
    checks: list[tuple[str, int]] = []
    verify = PasswordHasher.verify

    def recorded(self: PasswordHasher, digest: str | bytes, password: str | bytes) -> bool:
        me = threading.current_thread()
        checks.append((me.name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        return verify(self, digest, password)

    monkeypatch.setattr(PasswordHasher, "verify", recorded)

    async def bad_login() -> int:
        resp = await _login(proxied, f"flood-{secrets.token_hex(6)}", "wrong", address=_address())
        return resp.status_code

    async def get_me() -> int:
        return (await proxied.get("/api/v1/me", headers=headers)).status_code

    answers = await asyncio.gather(
        *(bad_login() for _ in range(10)), *(get_me() for _ in range(20))
    )
    logins, mine = Counter(answers[:10]), answers[10:]
    print(f"logins answered {dict(logins)}")
    assert set(logins) <= {401, 503}, logins  # checked, or refused as busy; never a 500
    assert logins[401] > 0 and len(checks) == logins[401]
    assert mine == [200] * 20
    assert all(name.startswith("password") for name, _ in checks), checks
    assert all(nice == 19 for _, nice in checks), checks


async def test_logins_turned_away_as_busy_are_not_counted(
    settings: Settings, engine: object, make_county: Any
) -> None:
    """One password check at a time and none waiting: parallel logins beyond it are refused
    at once with 503 login_busy and Retry-After, and are not counted against the name."""
    county = await make_county()
    name = county.users[Role.INSPECTOR].username
    address = _address()
    async with _served(settings, password_workers=1, password_queue=0) as busy_app:
        answers = await asyncio.gather(
            *(_login(busy_app, name, "wrong-password", address=address) for _ in range(12))
        )
        codes = Counter((r.status_code, r.json()["code"]) for r in answers)
        print(f"12 parallel logins, room for one: {dict(codes)}")
        assert codes[503, "login_busy"] > 0 and codes[401, "invalid_credentials"] > 0, codes
        assert set(codes) == {(503, "login_busy"), (401, "invalid_credentials")}, codes
        assert all(r.headers["retry-after"] == "1" for r in answers if r.status_code == 503)
        # fewer than the limit were checked, so the owner still gets in from there
        assert codes[401, "invalid_credentials"] < 5
        assert (await _login(busy_app, name, address=address)).status_code == 200
