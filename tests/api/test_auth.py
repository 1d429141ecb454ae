"""Login, refresh, device tokens, /me and throttling through the real app."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

import api.auth
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.conftest import TEST_PASSWORD

Client = AsyncTestClient[Litestar]


async def _login(client: Client, username: str, password: str = TEST_PASSWORD) -> Any:
    return await client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )


async def test_login_me_refresh_roundtrip(client: Client, make_county: Any) -> None:
    county = await make_county()
    for role in Role:
        resp = await _login(client, county.users[role].username)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["tokenType"] == "Bearer" and body["expiresIn"] == 900
        me = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {body['accessToken']}"}
        )
        assert me.status_code == 200
        assert me.json()["role"] == role.value
        assert me.json()["county"]["id"] == str(county.id)

    first = (await _login(client, county.users[Role.INSPECTOR].username)).json()
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]}
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refreshToken"] != first["refreshToken"]
    # a refresh token works once
    again = await client.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_refresh_token"


async def test_wrong_password_and_unknown_user_look_the_same(
    client: Client, make_county: Any
) -> None:
    county = await make_county()
    wrong = await _login(client, county.users[Role.CAPTAIN].username, "not-the-password")
    unknown = await _login(client, "nobody-at-all", "not-the-password")
    for resp in (wrong, unknown):
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == "invalid_credentials"


async def test_login_is_throttled_after_repeated_failures(client: Client, make_county: Any) -> None:
    county = await make_county()
    name = county.users[Role.INSPECTOR].username
    for _ in range(5):
        assert (await _login(client, name, "bad-password-1")).status_code == 401
    locked = await _login(client, name)  # even the right password is refused while locked
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert int(locked.headers["retry-after"]) > 0
    # another user is not affected
    assert (await _login(client, county.users[Role.CAPTAIN].username)).status_code == 200


async def test_device_token_is_long_lived_and_revocable(client: Client, make_county: Any) -> None:
    county = await make_county()
    headers = county.headers(Role.INSPECTOR)
    issued = await client.post("/api/v1/auth/devices", json={"name": "Huawei P60"}, headers=headers)
    assert issued.status_code == 201, issued.text
    device_headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert (await client.get("/api/v1/me", headers=device_headers)).status_code == 200
    listed = await client.get("/api/v1/auth/devices", headers=headers)
    assert [d["name"] for d in listed.json()] == ["Huawei P60"]

    device_id = issued.json()["device"]["id"]
    revoked = await client.delete(f"/api/v1/auth/devices/{device_id}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    refused = await client.get("/api/v1/me", headers=device_headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "not_authenticated"


async def test_disabled_user_is_cut_off_at_once(client: Client, make_county: Any) -> None:
    county = await make_county()
    inspector = county.headers(Role.INSPECTOR)
    assert (await client.get("/api/v1/me", headers=inspector)).status_code == 200
    user_id = county.users[Role.INSPECTOR].id
    resp = await client.patch(
        f"/api/v1/admin/users/{user_id}", json={"active": False}, headers=county.headers(Role.ADMIN)
    )
    assert resp.status_code == 200 and resp.json()["active"] is False
    assert (await client.get("/api/v1/me", headers=inspector)).status_code == 401
    assert (await _login(client, county.users[Role.INSPECTOR].username)).status_code == 401


async def test_missing_garbage_and_expired_tokens(
    client: Client, settings: Settings, make_county: Any
) -> None:
    county = await make_county()
    assert (await client.get("/api/v1/me")).status_code == 401
    garbage = await client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert garbage.status_code == 401 and garbage.json()["code"] == "not_authenticated"
    now = int(clock.now().timestamp())
    claims = {
        "sub": str(county.users[Role.CAPTAIN].id),
        "iat": now - 1000,
        "exp": now - 60,
        "extras": {"typ": "access"},
    }
    expired = jwt.encode(claims, settings.auth.secret_key, algorithm="HS256")
    resp = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401
    forged = jwt.encode({**claims, "exp": now + 600}, "another-secret-" * 4, algorithm="HS256")
    resp = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401
    # the same claims signed with the real key do work: the two refusals above are meaningful
    valid = jwt.encode({**claims, "exp": now + 600}, settings.auth.secret_key, algorithm="HS256")
    resp = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {valid}"})
    assert resp.status_code == 200


async def test_a_token_checked_before_still_expires(
    client: Client, settings: Settings, make_county: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signature checks are remembered per token, expiry is checked on every request."""
    county = await make_county()
    now = int(clock.now().timestamp())
    claims = {"sub": str(county.users[Role.CAPTAIN].id), "iat": now - 10,
              "exp": now + 600, "extras": {"typ": "access"}}  # fmt: skip
    token = jwt.encode(claims, settings.auth.secret_key, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    # a token differing in one signature character is checked afresh, and refused
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    other = {"Authorization": f"Bearer {tampered}"}
    assert (await client.get("/api/v1/me", headers=other)).status_code == 401
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    # the token's expiry passes: the server's clock reads one second after it
    monkeypatch.setattr(api.auth, "time", SimpleNamespace(time=lambda: claims["exp"] + 1.0))
    resp = await client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401 and resp.json()["code"] == "not_authenticated"
