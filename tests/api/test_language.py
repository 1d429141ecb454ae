"""Every answer a person reads is Chinese by default and English on ``Accept-Language: en``;
codes stay the same stable English identifiers either way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from infra.scope import Role
from tests import clock
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
API = "/api/v1"
EN = {"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"}


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _problem(resp: Any, status: int, code: str, lang: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["content-language"] == ("zh-CN" if lang == "zh" else "en")
    assert "accept-language" in resp.headers["vary"].lower()
    body: dict[str, Any] = resp.json()
    assert body["code"] == code and body["status"] == status, body
    return body


async def _area(client: Client, county: CountyFixture, headers: dict[str, str]) -> Any:
    body = {
        "code": "A1",
        "name": "北片",
        "grade": 1,
        "geometry": _box(112.05, 28.45, 112.15, 28.55),
        "leaderId": str(county.users[Role.INSPECTOR].id),
    }
    return await client.post(f"{API}/areas", json=body, headers=headers)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_problems_in_the_asked_language_with_the_same_codes(
    client: Client, make_county: Any, lang: str
) -> None:
    county: CountyFixture = await make_county()
    ask = EN if lang == "en" else {}
    cap = {**county.headers(Role.CAPTAIN), **ask}
    me = {**county.headers(Role.INSPECTOR), **ask}

    # 404: a case that does not exist
    body = _problem(
        await client.get(f"{API}/cases/{uuid7()}", headers=cap), 404, "case_not_found", lang
    )
    assert (body["title"], body["detail"]) == (
        ("未找到", "未找到该案件") if lang == "zh" else ("Not Found", "case not found")
    )

    # 409: a second area with the same code
    first = await _area(client, county, cap)
    assert first.status_code == 201, first.text
    body = _problem(await _area(client, county, cap), 409, "duplicate_code", lang)
    if lang == "zh":
        assert (body["title"], body["detail"]) == ("与当前状态冲突", "已有相同编码的区域")
        assert body["errors"] == [{"field": "code", "message": "已有相同编码的区域"}]
    else:
        assert body["title"] == "Conflict" and body["detail"] == "an area with code 'A1' exists"

    # 422: a patrol that starts in the future (a domain rule)
    future = {
        "areaId": first.json()["id"],
        "startedAt": (clock.now() + timedelta(hours=1)).isoformat(),
    }
    resp = await client.put(f"{API}/patrols/{uuid7()}", json=future, headers=me)
    body = _problem(resp, 422, "invalid_time", lang)
    if lang == "zh":
        assert (body["title"], body["detail"]) == ("请求无法受理", "时间无效")
    else:
        assert body["title"] == "Unprocessable Content" and "future" in body["detail"]

    # 400: msgspec refuses the body (a time without an offset, a missing field)
    naive = {
        "areaId": first.json()["id"],
        "startedAt": clock.now().replace(tzinfo=None).isoformat(),
    }
    body = _problem(
        await client.put(f"{API}/patrols/{uuid7()}", json=naive, headers=me),
        400,
        "validation_error",
        lang,
    )
    assert body["errors"][0]["field"] == "startedAt"
    if lang == "zh":
        assert body["title"] == "请求格式有误"
        assert body["errors"][0]["message"] == "应为带时区的日期时间"
        assert body["detail"] == "请求内容不符合接口定义：startedAt：应为带时区的日期时间"
    else:
        assert body["title"] == "Bad Request" and "timezone" in body["detail"]
    resp = await client.put(
        f"{API}/patrols/{uuid7()}", json={"areaId": first.json()["id"]}, headers=me
    )
    body = _problem(resp, 400, "validation_error", lang)
    if lang == "zh":
        assert "缺少必填字段 startedAt" in body["detail"]
    else:
        assert "missing required field `startedAt`" in body["detail"]

    # 401: no token
    body = _problem(await client.get(f"{API}/areas", headers=ask), 401, "not_authenticated", lang)
    if lang == "zh":
        assert body["title"] == "未登录或凭据无效" and body["detail"].startswith("请先登录")
    else:
        assert body["title"] == "Unauthorized" and "Bearer" in body["detail"]

    # 404 from the router itself (no such route)
    body = _problem(await client.get(f"{API}/no-such-thing", headers=ask), 404, "not_found", lang)
    assert body["detail"] == ("未找到所请求的资源" if lang == "zh" else "Not Found")


async def test_an_unknown_or_starred_language_is_chinese(client: Client) -> None:
    for header in ({"Accept-Language": "fr-FR,de;q=0.8"}, {"Accept-Language": "*"}, {}):
        body = _problem(
            await client.get(f"{API}/areas", headers=header), 401, "not_authenticated", "zh"
        )
        assert body["title"] == "未登录或凭据无效"
