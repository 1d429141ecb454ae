"""Bounded map data through the real app: GeoJSON pages under a byte cap, tiles under theirs.

The shared app keeps the default caps (16 MiB pages, 2 MiB tiles); an app with tiny caps
shows what happens above them.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from infra.settings import LayerSettings, Settings
from tests.sync.conftest import Client, SyncWorld, add_parcels

PAGE_BYTES = 2_500
TILE_BYTES = 200
URL = "/api/v1/sync/layers/parcels"


@pytest.fixture
async def small_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    caps = LayerSettings(geojson_max_bytes=PAGE_BYTES, tile_max_bytes=TILE_BYTES)
    app = create_app(replace(settings, layers=caps))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as http:
        yield http


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return x, y


async def test_geojson_pages_stay_under_the_cap_and_add_up_to_the_layer(
    make_world: Any, client: Client, small_client: AsyncTestClient[Litestar]
) -> None:
    world: SyncWorld = await make_world(parcels=25)
    whole = await client.get(URL, headers=world.headers())
    assert whole.status_code == 200, whole.text
    everything = whole.json()
    assert everything["next"] is None and len(everything["features"]) == 25

    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {"after": after} if after else {}
        resp = await small_client.get(URL, headers=world.headers(), params=params)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/geo+json")
        assert len(resp.content) <= PAGE_BYTES
        page = resp.json()
        assert page["type"] == "FeatureCollection" and page["layerVersion"] == 1
        pages.append(page)
        after = page["next"]
        if after is None:
            break
        assert len(pages) < 30
    assert len(pages) > 2
    paged = [f["properties"]["id"] for p in pages for f in p["features"]]
    assert paged == [f["properties"]["id"] for f in everything["features"]]

    # every page has its own ETag, and an unchanged page answers 304
    second = await small_client.get(
        URL, headers=world.headers(), params={"after": pages[0]["next"]}
    )
    etag = second.headers["etag"]
    assert etag != (await small_client.get(URL, headers=world.headers())).headers["etag"]
    again = await small_client.get(
        URL,
        headers={**world.headers(), "If-None-Match": etag},
        params={"after": pages[0]["next"]},
    )
    assert again.status_code == 304 and not again.content


async def test_a_bad_page_cursor_is_refused(make_world: Any, client: Client) -> None:
    world: SyncWorld = await make_world(parcels=4)
    resp = await client.get(URL, headers=world.headers(), params={"after": "page-two"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "page_cursor_invalid"


async def test_a_tile_over_the_cap_is_refused_and_a_normal_one_served(
    make_world: Any, client: Client, small_client: AsyncTestClient[Litestar]
) -> None:
    world: SyncWorld = await make_world(parcels=25)
    x, y = _tile(112.05, 28.5, 12)
    path = f"/api/v1/tiles/parcels/12/{x}/{y}.mvt"
    ok = await client.get(path, headers=world.headers())
    assert ok.status_code == 200 and len(ok.content) > TILE_BYTES
    refused = await small_client.get(path, headers=world.headers())
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "tile_too_large"
    assert problem["details"]["limit"] == TILE_BYTES and problem["details"]["zoom"] == 12
    empty = await small_client.get("/api/v1/tiles/parcels/12/0/0.mvt", headers=world.headers())
    assert empty.status_code == 200 and empty.content == b""


async def test_tiles_simplify_detail_below_a_pixel(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world(parcels=1)
    # a 20,000-vertex outline, 3 km across, in the inspector's area
    ring = shapely.Point(112.05, 28.5).buffer(0.015, quad_segs=5000)
    async with session_factory() as session:
        await add_parcels(session, world.county.id, [ring])
        await session.commit()
    sizes = {}
    for zoom in (10, 14, 18):
        x, y = _tile(112.05, 28.5, zoom)
        resp = await client.get(
            f"/api/v1/tiles/parcels/{zoom}/{x}/{y}.mvt", headers=world.headers()
        )
        assert resp.status_code == 200, resp.text
        sizes[zoom] = len(resp.content)
    # at zoom 10 a pixel is ~150 m: the outline is a handful of points, not 20,000
    assert sizes[10] < 2_000, sizes
    assert sizes[10] < sizes[14]


async def test_a_feature_larger_than_a_page_makes_a_page_of_its_own(
    make_world: Any, client: Client, settings: Settings
) -> None:
    world: SyncWorld = await make_world(parcels=4)
    whole = (await client.get(URL, headers=world.headers())).json()
    expected = [f["properties"]["id"] for f in whole["features"]]
    caps = LayerSettings(geojson_max_bytes=120, tile_max_bytes=TILE_BYTES)
    app = create_app(replace(settings, layers=caps))
    ids: list[str] = []
    after: str | None = None
    async with AsyncTestClient(app=app) as tiny:
        for _ in range(10):
            params = {"after": after} if after else {}
            resp = await tiny.get(URL, headers=world.headers(), params=params)
            assert resp.status_code == 200, resp.text
            page = resp.json()
            assert len(page["features"]) == 1
            ids.append(page["features"][0]["properties"]["id"])
            after = page["next"]
            if after is None:
                break
    assert len(expected) > 1 and ids == expected
