"""Offline map data: GeoJSON per layer with ETag / 304, and vector tiles."""

from __future__ import annotations

import math
from typing import Any

from infra.scope import Role
from tests.sync.conftest import Client, SyncWorld


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
