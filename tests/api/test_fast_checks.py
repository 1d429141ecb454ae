"""``CheckLocation`` answered by ``api.fast_checks``: every answer, refusals included, is the
one Litestar's own way gives (an app with ``PATROL_FAST_CHECKS=0`` beside the test's app),
and what the direct path does not take on reaches Litestar with its body intact."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api import fast_checks
from api.app import create_app
from geofence import wgs84_to_gcj02
from infra.scope import Role
from infra.settings import Settings
from tests.api.test_geofence_api import CHECK, X0, Y0, D, _county_with_grid
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
#: differ from one answer to the next by nature
_PER_REQUEST = {"x-request-id", "server-timing", "date"}


@pytest.fixture(scope="session")
async def litestar_way(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Client]:
    """The same app built without the direct path."""
    app = create_app(replace(settings, server=replace(settings.server, fast_checks=False)))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def direct(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the checks the direct path answered."""
    calls: list[int] = []
    real = fast_checks.answer_check_location

    async def counted(*args: Any) -> Any:
        calls.append(1)
        return await real(*args)

    monkeypatch.setattr(fast_checks, "answer_check_location", counted)
    return calls


def _headers(resp: Any) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in resp.headers.multi_items() if k not in _PER_REQUEST)


def _body(resp: Any) -> Any:
    if resp.headers.get("content-type", "").startswith("application/problem+json"):
        problem = resp.json()
        assert problem.pop("requestId") == resp.headers["x-request-id"]
        return problem
    return resp.content


async def _same(
    client: Client, litestar_way: Client, *, path: str = CHECK, **kw: Any
) -> tuple[int, Any]:
    """One request to both apps: status, headers and body the same; the direct answer."""
    fast = await client.post(path, **kw)
    slow = await litestar_way.post(path, **kw)
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert _headers(fast) == _headers(slow)
    assert _body(fast) == _body(slow)
    return fast.status_code, fast


async def test_every_answer_is_the_one_litestar_gives(
    client: Client, litestar_way: Client, make_county: Any, direct: list[int]
) -> None:
    county: CountyFixture = await _county_with_grid(client, make_county)
    inspector = county.headers(Role.INSPECTOR)
    lon, lat = X0 + 0.5 * D, Y0 + 0.5 * D
    gzip = {**inspector, "Accept-Encoding": "gzip"}
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    answered = [
        # inside one parcel; four parcels at a corner, gzipped (over 1 KiB)
        (inspector, {"lon": lon, "lat": lat, "accuracyM": 5}),
        (gzip, {"lon": X0 + D, "lat": Y0 + D, "accuracyM": 60}),
        (inspector, {"lon": g_lon, "lat": g_lat, "accuracyM": 5, "crs": "gcj02",
                     "kinds": ["parcels"]}),
        (inspector, {"lon": lon, "lat": lat, "accuracyM": 5, "kinds": ["mine_sites"]}),
        # a member a later app version sends is passed over, as Litestar's way passes it
        (inspector, {"lon": lon, "lat": lat, "accuracyM": 5, "extra": 1}),
    ]  # fmt: skip
    for headers, body in answered:
        status, resp = await _same(client, litestar_way, headers=headers, json=body)
        assert status == 200
    assert len(direct) == len(answered)
    corner = await client.post(CHECK, headers=gzip, json=answered[1][1])
    assert corner.headers["content-encoding"] == "gzip" and len(corner.json()["features"]) == 4
    assert "content-encoding" not in (await client.post(CHECK, **_kw(answered[0]))).headers

    refused = [
        ({}, {"lon": lon, "lat": lat, "accuracyM": 5}, 401),
        ({"Authorization": "Bearer nonsense"}, {"lon": lon, "lat": lat, "accuracyM": 5}, 401),
        ({"Authorization": "Basic abc"}, {"lon": lon, "lat": lat, "accuracyM": 5}, 401),
        (county.headers(Role.PROCURATORATE), {"lon": lon, "lat": lat, "accuracyM": 5}, 403),
        (inspector, {"lon": 100.0, "lat": 20.0, "accuracyM": 5}, 422),
        ({**inspector, "Accept-Language": "zh-CN"}, {"lon": 100.0, "lat": 20.0, "accuracyM": 5},
         422),
        (inspector, {"lon": lon, "lat": lat, "accuracyM": 5, "kinds": ["roads"]}, 400),
        (inspector, {"lon": lon, "lat": lat, "accuracyM": 5, "crs": "bd09"}, 400),
        (inspector, {"lon": lon, "lat": lat, "accuracyM": 20_000}, 400),
        (inspector, {"lon": lon, "lat": 91, "accuracyM": 5}, 400),
        (inspector, {"lon": lon, "lat": lat}, 400),
    ]  # fmt: skip
    for headers, body, expected in refused:
        direct.clear()
        status, resp = await _same(client, litestar_way, headers=headers, json=body)
        assert status == expected, (body, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    # not JSON, another media type, a query string: Litestar's way, the body replayed
    for kw in (
        {"headers": inspector, "content": b'{"lon": 112.1, "lat": '},
        {"headers": {**inspector, "Content-Type": "text/plain"},
         "content": json.dumps({"lon": lon, "lat": lat, "accuracyM": 5}).encode()},
    ):  # fmt: skip
        direct.clear()
        status, resp = await _same(client, litestar_way, **kw)
        assert status in {400, 415} and not direct
    direct.clear()
    status, _ = await _same(client, litestar_way, path=CHECK + "?lang=zh", headers=inspector,
                            json={"lon": lon, "lat": lat, "accuracyM": 5})  # fmt: skip
    assert status == 400 and not direct
    # a body past the direct path's bound (a fix padded with spaces): answered all the same
    padded = b'{"lon": %r, "lat": %r, "accuracyM": 5}' % (lon, lat)
    padded = padded[:-1] + b" " * fast_checks.MAX_BODY_BYTES + b"}"
    status, resp = await _same(client, litestar_way, headers=inspector, content=padded)
    assert status == 200 and not direct
    assert resp.json()["features"][0]["relation"] == "inside"


def _kw(case: tuple[dict[str, str], dict[str, Any]]) -> dict[str, Any]:
    return {"headers": case[0], "json": case[1]}


async def test_a_county_not_yet_held_is_answered_through_the_database(
    client: Client, litestar_way: Client, make_county: Any, direct: list[int]
) -> None:
    county: CountyFixture = await make_county(lon=113.5, lat=27.5)  # no layers at all
    status, resp = await _same(client, litestar_way, headers=county.headers(Role.INSPECTOR),
                               json={"lon": 113.5, "lat": 27.5, "accuracyM": 5})  # fmt: skip
    assert status == 200 and resp.json()["features"] == [] and direct == [1]


async def test_a_body_in_pieces_and_the_operation_counted(
    settings: Settings, client: Client, make_county: Any, direct: list[int]
) -> None:
    county: CountyFixture = await _county_with_grid(client, make_county)
    token = county.headers(Role.INSPECTOR)["Authorization"].encode()
    body = json.dumps({"lon": X0 + 0.5 * D, "lat": Y0 + 0.5 * D, "accuracyM": 5}).encode()
    app = create_app(settings)  # an app of this test's event loop, called as a server calls it

    async def call(pieces: list[bytes]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            chunk = pieces.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pieces)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": CHECK, "raw_path": CHECK.encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "headers": [(b"host", b"testserver"), (b"authorization", token),
                        (b"content-type", b"application/json; charset=utf-8"),
                        (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        await app(scope, receive, send)  # type: ignore[arg-type]
        return sent

    async with app.lifespan():
        in_pieces = await call([body[:10], body[10:25], body[25:]])
        whole = await call([body])
    assert in_pieces[0]["status"] == 200 and direct == [1, 1]
    answer = json.loads(in_pieces[1]["body"])
    assert [f["relation"] for f in answer["features"]] == ["inside"]
    assert whole[1]["body"] == in_pieces[1]["body"]
    counted = app.state.metrics.requests.labels("CheckLocation", "200")
    assert counted._value.get() == 2
