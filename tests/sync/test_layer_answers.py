"""What a phone gets from the offline map endpoints, to the byte: the ETag it revalidates
with, the 4xx answers (code, words, field) to a bad layer, tile address or page ``after``,
pages exactly as full as the byte cap allows (also past the 4,000 features PostgreSQL joins
in one piece), and a page that is one snapshot of its layer version.

The byte cap is set per ``LayerService`` here (the app reads it from settings once); the
pages are read from PostGIS exactly as the app streams them."""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import replace
from typing import Any

import pytest
import shapely
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from infra.scope import Role
from infra.settings import LayerSettings, Settings
from sync.layers import LayerService
from tests.sync.conftest import Client, SyncWorld, add_parcels
from tests.sync.mvt import decode_tile

URL = "/api/v1/sync/layers/parcels"
EN = {"Accept-Language": "en"}
ETAG = re.compile(r'"[0-9a-f]{32}"')
# what a page that has a following one ends with, besides the id in it: ``], "next": "…"}``
TAIL = len(b'], "next": ""}') + 36


async def _page(
    factory: async_sessionmaker[AsyncSession],
    world: SyncWorld,
    *,
    cap: int = 16 * 1024 * 1024,
    after: str | None = None,
) -> bytes:
    async with factory() as session:
        service = LayerService(session, sessions=factory, max_geojson_bytes=cap)
        doc = await service.layer_geojson(
            world.county.principal(Role.INSPECTOR), "parcels", after=after
        )
        assert doc.chunks is not None
        return b"".join([chunk async for chunk in doc.chunks])


def _split(raw: bytes) -> tuple[int, list[int]]:
    """The length of a page's head (up to ``"features": [``) and of each feature in it."""
    text = raw.decode()
    start = text.index('"features": [') + len('"features": [')
    head = len(text[:start].encode())
    sizes: list[int] = []
    decoder = json.JSONDecoder()
    at = start
    while text[at] != "]":
        _, end = decoder.raw_decode(text, at)
        sizes.append(len(text[at:end].encode()))
        at = end + 1 if text[end] == "," else end
    return head, sizes


async def test_etags_a_phone_revalidates_with(make_world: Any, client: Client) -> None:
    world: SyncWorld = await make_world(parcels=4)
    first = await client.get(URL, headers=world.headers())
    assert first.status_code == 200, first.text
    head = first.json()
    assert (head["type"], head["layer"], head["layerVersion"]) == (
        "FeatureCollection",
        "parcels",
        1,
    )
    etag = first.headers["etag"]
    assert ETAG.fullmatch(etag), etag
    assert first.headers["cache-control"] == "private, no-cache"
    # ``after`` left empty is the first page, with its ETag
    empty = await client.get(URL, headers=world.headers(), params={"after": ""})
    assert empty.status_code == 200 and empty.headers["etag"] == etag
    assert empty.content == first.content
    # a phone that keeps several copies sends them all; any one current copy is enough
    for header in (etag, f'"{"0" * 32}", {etag}', f'{etag},"{"1" * 32}"', f" {etag} "):
        resp = await client.get(URL, headers={**world.headers(), "If-None-Match": header})
        assert resp.status_code == 304, header
        assert resp.headers["etag"] == etag and not resp.content
    for header in (f'"{"0" * 32}"', etag[:-2] + '"', f"{etag}x", etag.strip('"')):
        resp = await client.get(URL, headers={**world.headers(), "If-None-Match": header})
        assert resp.status_code == 200 and resp.headers["etag"] == etag, header
        assert resp.content == first.content


async def test_the_refusals_a_user_reads(make_world: Any, client: Client) -> None:
    world: SyncWorld = await make_world(parcels=1)

    async def problem(path: str, status: int, **params: str) -> dict[str, Any]:
        resp = await client.get(path, headers=world.headers() | EN, params=params)
        assert resp.status_code == status, (path, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        body: dict[str, Any] = resp.json()
        return body

    body = await problem("/api/v1/sync/layers/roads", 404)
    expected = "unknown layer 'roads'; expected one of " + (
        "parcels, planning_zones, change_polygons, mine_sites"
    )
    assert (body["code"], body["detail"]) == ("layer_not_found", expected)
    assert body["details"] == {"layer": "roads"} and "errors" not in body
    long = "x" * 60
    body = await problem(f"/api/v1/sync/layers/{long}", 404)
    assert body["details"] == {"layer": "x" * 40}
    assert body["detail"].startswith(f"unknown layer '{'x' * 40}';")
    zh = await client.get(f"/api/v1/tiles/{long}/1/0/0.mvt", headers=world.headers())
    assert zh.status_code == 404 and zh.json()["detail"] == f"没有图层 {'x' * 40}"

    body = await problem(URL, 422, after="page-two")
    message = "after must be the 'next' value of the previous page"
    assert (body["code"], body["detail"]) == ("page_cursor_invalid", message)
    assert body["errors"] == [{"field": "after", "message": message}]

    for address, field in (
        ("23/0/0.mvt", "z"),
        ("-1/0/0.mvt", "z"),
        ("4/16/0.mvt", "x"),
        ("4/0/16.mvt", "y"),
        ("4/0/16", "y"),
        ("4/0/1.MVT", "y"),
        ("1/0/000000001.mvt", "y"),
        ("0/000000000/0.mvt", "x"),
        ("4/1/a.mvt", "y"),
    ):
        body = await problem(f"/api/v1/tiles/parcels/{address}", 404)
        message = f"{field} is not a valid tile coordinate"
        assert (body["code"], body["detail"]) == ("tile_not_found", message), address
        assert body["errors"] == [{"field": field, "message": message}], address
    for address in ("22/0/0.mvt", "4/15/15.mvt", "4/15/15", "0/0/0.mvt", "1/00000001/1.mvt"):
        resp = await client.get(f"/api/v1/tiles/parcels/{address}", headers=world.headers())
        assert resp.status_code == 200, (address, resp.text)
        assert resp.headers["cache-control"] == "private, max-age=300"


async def test_a_page_is_as_full_as_the_cap_allows(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """4,003 parcels: the whole layer is one page read in two pieces; a cap cuts a page at
    the last feature that fits, with the byte of every separator counted, in the first
    piece and in the second."""
    world: SyncWorld = await make_world(parcels=4003)
    whole = await _page(session_factory, world)
    doc = json.loads(whole)
    assert doc["next"] is None and len(doc["features"]) == 4003
    ids = [f["properties"]["id"] for f in doc["features"]]
    assert ids == sorted(ids) and len(set(ids)) == 4003
    head, sizes = _split(whole)
    assert len(whole) == head + sum(sizes) + len(sizes) - 1 + len(b'], "next": null}')

    def fits(k: int) -> int:
        """The smallest cap whose page holds the first ``k`` features and names a next."""
        return head + sum(sizes[:k]) + k + TAIL

    for k in (1, 3, 3999, 4000, 4001, 4002):
        # below one feature's worth, a feature larger than the page makes a page of its own
        for cap, count in ((fits(k), k), (fits(k) - 1, max(k - 1, 1))):
            raw = await _page(session_factory, world, cap=cap)
            page = json.loads(raw)
            assert len(page["features"]) == count, (k, cap)
            assert len(raw) <= cap or count == 1
            assert [f["properties"]["id"] for f in page["features"]] == ids[:count]
            assert page["next"] == ids[count - 1]
    rest = json.loads(await _page(session_factory, world, cap=fits(4001), after=ids[4000]))
    assert [f["properties"]["id"] for f in rest["features"]] == ids[4001:]
    assert rest["next"] is None


async def test_a_page_reads_one_version_while_a_new_one_is_imported(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world(parcels=6)
    async with session_factory() as session:
        service = LayerService(session, sessions=session_factory)
        doc = await service.layer_geojson(world.county.principal(Role.INSPECTOR), "parcels")
        assert doc.chunks is not None
        head = await anext(doc.chunks)  # the page has started: its version is read
        async with session_factory() as other:
            await add_parcels(other, world.county.id, [shapely.box(112.04, 28.49, 112.045, 28.495)])
            await other.commit()
        raw = head + b"".join([chunk async for chunk in doc.chunks])
    page = json.loads(raw)
    assert page["layerVersion"] == 1 and len(page["features"]) == 6
    newer = json.loads(await _page(session_factory, world))
    assert newer["layerVersion"] == 2 and len(newer["features"]) == 1
    assert {uuid.UUID(f["properties"]["id"]) for f in page["features"]}.isdisjoint(
        {uuid.UUID(f["properties"]["id"]) for f in newer["features"]}
    )


async def test_a_tile_over_the_cap_says_how_large_it_would_be(
    make_world: Any, client: Client, settings: Settings
) -> None:
    world: SyncWorld = await make_world(parcels=25)
    x, y = _tile(112.05, 28.5, 12)
    path = f"/api/v1/tiles/parcels/12/{x}/{y}.mvt"
    whole = await client.get(path, headers=world.headers())
    assert whole.status_code == 200 and len(whole.content) > 200
    size = len(whole.content)
    app = create_app(replace(settings, layers=LayerSettings(tile_max_bytes=200)))
    async with AsyncTestClient(app=app) as small:
        en = await small.get(path, headers=world.headers() | EN)
        zh = await small.get(path, headers=world.headers())
    assert en.status_code == 422 and zh.status_code == 422
    body = en.json()
    assert body["code"] == "tile_too_large"
    assert body["detail"] == (
        f"the tile would be {size:,} bytes, more than the 200 allowed; ask for a higher zoom"
    )
    assert body["details"] == {"limit": 200, "size": size, "zoom": 12}
    assert zh.json()["detail"] == f"第 12 级瓦片过大（{size} 字节，上限 200 字节），请放大后再看"


async def test_a_service_without_sessions_cannot_stream(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world(parcels=1)
    async with session_factory() as session:
        doc = await LayerService(session).layer_geojson(
            world.county.principal(Role.INSPECTOR), "parcels"
        )
        assert doc.chunks is not None
        with pytest.raises(RuntimeError, match=r"^LayerService needs sessions to stream GeoJSON$"):
            await anext(doc.chunks)


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return x, y


def _lonlat(z: int, x: int, y: int, px: float, py: float) -> tuple[float, float]:
    """The point at pixel ``px``, ``py`` (of 4,096) of tile z/x/y."""
    n = 2**z * 4096
    lon = (x * 4096 + px) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y * 4096 + py) / n))))
    return lon, lat


def _sawtooth(z: int, x: int, y: int, top: float, depth: float) -> shapely.Polygon:
    """A block 400 by 200 pixels of tile z/x/y whose top edge has 20 teeth ``depth`` deep."""
    edge = [
        (1000 + 20 * i + (10 if i % 2 else 0), top - (depth if i % 2 else 0)) for i in range(41)
    ]
    ring = [*edge, (1800, top + 200), (1000, top + 200)]
    return shapely.Polygon([_lonlat(z, x, y, px, py) for px, py in ring])


async def test_tiles_drop_detail_below_a_pixel_of_their_zoom_and_keep_the_rest(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """At zoom 16 a pixel is 0.15 m: teeth 4 pixels deep stay on the tile; teeth 0.8 of a
    pixel deep are simplified away (left in, the tile's pixel grid would round them up to a
    pixel each)."""
    world: SyncWorld = await make_world(parcels=1)
    z = 16
    x, y = _tile(112.05, 28.5, z)
    async with session_factory() as session:
        await add_parcels(
            session,
            world.county.id,
            [_sawtooth(z, x, y, 1000, 4), _sawtooth(z, x, y, 2500, 0.8)],
        )
        await session.commit()
    resp = await client.get(f"/api/v1/tiles/parcels/{z}/{x}/{y}.mvt", headers=world.headers())
    assert resp.status_code == 200, resp.text
    features = sorted(decode_tile(resp.content)["parcels"].features, key=lambda f: f.vertices[0][1])
    assert len(features) == 2
    coarse, fine = (len(f.vertices) for f in features)
    assert coarse >= 40, coarse
    assert fine <= 6, fine
