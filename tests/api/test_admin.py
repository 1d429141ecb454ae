"""Users, townships and villages through the admin endpoints."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from infra.scope import Role
from infra.settings import Settings, TipOffDeadlines, TipOffSettings

Client = AsyncTestClient[Litestar]

_SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[112.0, 28.4], [112.05, 28.4], [112.05, 28.45], [112.0, 28.45], [112.0, 28.4]]
    ],
}


async def test_user_lifecycle(client: Client, make_county: Any) -> None:
    county = await make_county()
    admin = county.headers(Role.ADMIN)
    created = await client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": f"li.si.{county.county.admin_code.lower()}",
            "displayName": "李四",
            "role": "inspector",
            "password": "first-password-1",
            "phone": "13800000000",
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    dup = await client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": user["username"],
            "displayName": "x",
            "role": "inspector",
            "password": "first-password-1",
        },
    )
    assert dup.status_code == 409 and dup.json()["code"] == "username_taken"

    login = {"username": user["username"], "password": "first-password-1"}
    assert (await client.post("/api/v1/auth/token", json=login)).status_code == 200
    reset = await client.post(
        f"/api/v1/admin/users/{user['id']}/password",
        headers=admin,
        json={"password": "second-password-2"},
    )
    assert reset.status_code == 200
    assert (await client.post("/api/v1/auth/token", json=login)).status_code == 401
    login["password"] = "second-password-2"
    assert (await client.post("/api/v1/auth/token", json=login)).status_code == 200

    listed = await client.get("/api/v1/admin/users", params={"role": "inspector"}, headers=admin)
    assert {u["username"] for u in listed.json()} >= {user["username"]}
    assert all(u["role"] == "inspector" for u in listed.json())

    short = await client.post(
        f"/api/v1/admin/users/{user['id']}/password", headers=admin, json={"password": "short"}
    )
    assert short.status_code == 400
    self_lock = await client.patch(
        f"/api/v1/admin/users/{county.users[Role.ADMIN].id}", headers=admin, json={"active": False}
    )
    assert self_lock.status_code == 409 and self_lock.json()["code"] == "self_lockout"


async def test_townships_and_villages(client: Client, make_county: Any) -> None:
    county = await make_county()
    admin = county.headers(Role.ADMIN)
    town = await client.post(
        "/api/v1/townships",
        headers=admin,
        json={"code": "T01", "name": "东山镇", "kind": "town", "geometry": _SQUARE},
    )
    assert town.status_code == 201, town.text
    assert town.json()["geometry"]["type"] == "MultiPolygon"
    village = await client.post(
        "/api/v1/villages",
        headers=admin,
        json={
            "townshipId": town.json()["id"],
            "code": "T01001",
            "name": "和平村",
            "geometry": _SQUARE,
        },
    )
    assert village.status_code == 201, village.text
    other = await client.post(
        "/api/v1/townships",
        headers=admin,
        json={"code": "T02", "name": "西河乡", "kind": "township", "geometry": _SQUARE},
    )
    await client.post(
        "/api/v1/villages",
        headers=admin,
        json={
            "townshipId": other.json()["id"],
            "code": "T02001",
            "name": "光明村",
            "geometry": _SQUARE,
        },
    )
    listed = await client.get(
        "/api/v1/villages",
        params={"township_id": town.json()["id"]},
        headers=county.headers(Role.INSPECTOR),
    )
    assert [v["name"] for v in listed.json()] == ["和平村"]
    renamed = await client.patch(
        f"/api/v1/townships/{town.json()['id']}",
        headers=admin,
        json={"name": "东山街道", "kind": "subdistrict"},
    )
    assert renamed.json()["name"] == "东山街道"


async def test_bad_geometry_is_refused_and_nothing_changes(
    client: Client, make_county: Any
) -> None:
    county = await make_county()
    admin = county.headers(Role.ADMIN)
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[112, 28], [112.1, 28.1], [112.1, 28], [112, 28.1], [112, 28]]],
    }
    lat95 = {"type": "Polygon", "coordinates": [[[112, 94], [112.1, 95], [112.1, 94], [112, 94]]]}
    nan = {"type": "Polygon", "coordinates": [[[112, 28], [112.1, "NaN"], [112.1, 28], [112, 28]]]}
    empty = {"type": "Polygon", "coordinates": []}
    point = {"type": "Point", "coordinates": [112, 28]}
    for geometry in (bowtie, lat95, empty, point):
        resp = await client.post(
            "/api/v1/townships",
            headers=admin,
            json={"code": "X1", "name": "x", "geometry": geometry},
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["code"] in {"invalid_geometry", "invalid_coordinates"}
        assert resp.json()["errors"][0]["field"] == "geometry"
    resp = await client.post(
        "/api/v1/townships", headers=admin, json={"code": "X1", "name": "x", "geometry": nan}
    )
    assert resp.status_code in {400, 422}
    listed = await client.get("/api/v1/townships", headers=admin)
    assert listed.json() == []


async def test_county_settings_are_the_figures_in_force_for_captains_and_admins(
    settings: Settings, engine: AsyncEngine, make_county: Any
) -> None:
    del engine  # migrated
    secret = settings.auth.secret_key
    hunan = TipOffSettings(deadlines=MappingProxyType({"43": TipOffDeadlines(1, 7, 15)}))
    configured = replace(
        settings,
        tip_offs=hunan,
        procedure=replace(settings.procedure, major_fine_yuan=Decimal(50_000)),
        layers=replace(settings.layers, import_job_bytes=3_000_000),
    )
    here, elsewhere = await make_county(province="43"), await make_county(province="44")
    app = create_app(configured)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as http:
        got = await http.get("/api/v1/county-settings", headers=here.headers(Role.CAPTAIN))
        assert got.status_code == 200, got.text
        body = got.json()
        assert (body["countyName"], body["provinceCode"]) == (here.county.name, "43")
        assert body["tipOffs"] == {
            "decideWorkingDays": 1,
            "verifyWorkingDays": 7,  # the province's own figure
            "feedbackWorkingDays": 15,
            "duplicateRadiusM": 200.0,
        }
        assert body["procedure"]["majorFineYuan"] == "50000"
        assert body["procedure"]["filingWorkingDays"] == 10
        assert body["satellite"] == {
            "quarterReportDays": 60, "reviewDays": 10, "ratioThreshold": 0.15,
        }  # fmt: skip
        assert body["reports"]["monthlyDueDay"] == 5
        assert "县公安局" in body["reports"]["jointMeetingMembers"]
        assert body["layerImports"]["backgroundJobBytes"] == 3_000_000
        assert secret not in got.text and settings.database.url not in got.text

        other = await http.get("/api/v1/county-settings", headers=elsewhere.headers(Role.ADMIN))
        assert other.status_code == 200, other.text
        assert other.json()["tipOffs"]["verifyWorkingDays"] == 10  # the default

        for role in (Role.INSPECTOR, Role.SECURITY_SQUAD, Role.CLUE_DESK):
            refused = await http.get("/api/v1/county-settings", headers=here.headers(role))
            assert refused.status_code == 403, role
            assert refused.json()["code"] == "role_not_allowed"
