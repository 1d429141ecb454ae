"""Offline map data: GeoJSON per layer with ETag / 304, and vector tiles."""

from __future__ import annotations

import math
from typing import Any

import shapely
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Role
from tests.sync.conftest import Client, SyncWorld, add_parcels


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return x, y


async def test_layer_geojson_with_etag(make_world: Any, client: Client) -> None:
    world: SyncWorld = await make_world(parcels=9)
    url = "/api/v1/sync/layers/parcels"
    resp = await client.get(url, headers=world.headers())
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/geo+json")
    doc = resp.json()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 9
    etag = resp.headers["etag"]
    resp = await client.get(url, headers={**world.headers(), "If-None-Match": etag})
    assert resp.status_code == 304 and not resp.content
    # the captain sees every area of the county, so another document (and ETag)
    resp = await client.get(url, headers={**world.headers(Role.CAPTAIN), "If-None-Match": etag})
    assert resp.status_code == 200 and len(resp.json()["features"]) == 10
    resp = await client.get("/api/v1/sync/layers/nope", headers=world.headers())
    assert resp.status_code == 404 and resp.json()["code"] == "layer_not_found"


async def test_vector_tiles(make_world: Any, client: Client) -> None:
    world: SyncWorld = await make_world(parcels=9)
    x, y = _tile(112.05, 28.5, 12)
    resp = await client.get(f"/api/v1/tiles/parcels/12/{x}/{y}.mvt", headers=world.headers())
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/vnd.mapbox-vector-tile")
    assert len(resp.content) > 50 and b"parcels" in resp.content
    far = await client.get("/api/v1/tiles/parcels/12/0/0.mvt", headers=world.headers())
    assert far.status_code == 200 and far.content == b""
    for bad in ("12/99999/1.mvt", "40/1/1.mvt", "12/a/1.mvt"):
        resp = await client.get(f"/api/v1/tiles/parcels/{bad}", headers=world.headers())
        assert resp.status_code == 404 and resp.json()["code"] == "tile_not_found", bad


async def test_a_new_layer_version_replaces_the_old_one_for_phones(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world(parcels=4)
    url = "/api/v1/sync/layers/parcels"
    x, y = _tile(112.05, 28.5, 12)
    tile_url = f"/api/v1/tiles/parcels/12/{x}/{y}.mvt"
    first = await client.get(url, headers=world.headers())
    assert first.status_code == 200, first.text
    assert first.json()["layerVersion"] == 1 and len(first.json()["features"]) == 4
    old_ids = {f["properties"]["id"] for f in first.json()["features"]}
    old_tile = await client.get(tile_url, headers=world.headers())
    assert old_tile.status_code == 200 and all(i.encode() in old_tile.content for i in old_ids)

    # version 2: two other parcels, both in the inspector's area and in that tile
    async with session_factory() as session:
        await add_parcels(
            session,
            world.county.id,
            [
                shapely.box(112.04, 28.49, 112.045, 28.495),
                shapely.box(112.05, 28.50, 112.055, 28.505),
            ],
        )
        await session.commit()

    resp = await client.get(url, headers=world.headers())
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["layerVersion"] == 2 and len(doc["features"]) == 2
    new_ids = {f["properties"]["id"] for f in doc["features"]}
    assert not new_ids & old_ids
    # the phone's copy of version 1 is stale: a new ETag, and its old one gets the document
    assert resp.headers["etag"] != first.headers["etag"]
    stale = await client.get(
        url, headers={**world.headers(), "If-None-Match": first.headers["etag"]}
    )
    assert stale.status_code == 200 and stale.json()["layerVersion"] == 2
    again = await client.get(
        url, headers={**world.headers(), "If-None-Match": resp.headers["etag"]}
    )
    assert again.status_code == 304
    tile = await client.get(tile_url, headers=world.headers())
    assert tile.status_code == 200, tile.text
    assert all(i.encode() in tile.content for i in new_ids)
    assert not any(i.encode() in tile.content for i in old_ids)
