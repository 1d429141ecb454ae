"""Counties through the API: only admins named in PATROL_PLATFORM_ADMINS create or list them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from infra.scope import Role
from infra.settings import Settings
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
BOUNDARY = {
    "type": "Polygon",
    "coordinates": [[[112.0, 28.4], [112.2, 28.4], [112.2, 28.6], [112.0, 28.6], [112.0, 28.4]]],
}


@pytest.fixture
async def operator(make_county: Any) -> CountyFixture:
    county: CountyFixture = await make_county()
    return county


@pytest.fixture
async def platform(settings: Settings, operator: CountyFixture) -> AsyncIterator[Client]:
    """The app with the operator county's admin named as a platform admin."""
    admin = operator.users[Role.ADMIN].username
    configured = replace(settings, auth=replace(settings.auth, platform_admins=(admin,)))
    async with AsyncTestClient(app=create_app(configured), raise_server_exceptions=False) as c:
        yield c


def _code() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


async def test_platform_admin_creates_and_lists(platform: Client, operator: CountyFixture) -> None:
    headers = operator.headers(Role.ADMIN)
    code = _code()
    body = {"code": code, "name": "新县", "boundary": BOUNDARY}
    created = await platform.post("/api/v1/admin/counties", headers=headers, json=body)
    assert created.status_code == 201, created.text
    county = created.json()
    assert (county["code"], county["name"], county["provinceCode"]) == (code, "新县", code[:2])

    listed = await platform.get("/api/v1/admin/counties", headers=headers)
    assert listed.status_code == 200
    assert county in listed.json()

    dup = await platform.post("/api/v1/admin/counties", headers=headers, json=body)
    assert dup.status_code == 409
    assert dup.json()["code"] == "duplicate_county"

    bad = await platform.post(
        "/api/v1/admin/counties",
        headers=headers,
        json={**body, "code": _code(), "boundary": {"type": "Point", "coordinates": [112, 28]}},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_geometry"


async def test_others_may_not(
    platform: Client, client: Client, operator: CountyFixture, make_county: Any
) -> None:
    other: CountyFixture = await make_county()
    body = {"code": _code(), "name": "县", "boundary": BOUNDARY}
    for app_client, headers in (
        (platform, other.headers(Role.ADMIN)),  # an admin of a county, not a platform admin
        (platform, operator.headers(Role.CAPTAIN)),  # the operator's county, not an admin
        (client, operator.headers(Role.ADMIN)),  # PATROL_PLATFORM_ADMINS unset
    ):
        for method, json in (("POST", body), ("GET", None)):
            resp = await app_client.request(
                method, "/api/v1/admin/counties", headers=headers, json=json
            )
            assert resp.status_code == 403, resp.text
            assert resp.json()["code"] == "not_platform_admin"
