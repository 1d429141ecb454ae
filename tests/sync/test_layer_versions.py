"""A reference layer through several versions: phones always get the newest one.

Parcels are published three times (version 2 and 3 each replace the whole layer). After
each publication the inspector's GeoJSON names the new version and holds exactly its
features, with an ETag never seen before (every earlier ETag gets the new document, the new
one a 304); the vector tile shows the new features and none of the old; the phone's sync
pull brings the new features and deletes the old ones, so its store holds exactly the
current version.
"""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.sync.conftest import Client, Phone, SyncWorld, add_parcels
from tests.sync.mvt import decode_tile, tile_url

URL = "/api/v1/sync/layers/parcels"
TILE = tile_url("parcels", 112.05, 28.5, 12)
# each version's parcels, all in the inspector's area A1 and in the one z12 tile
VERSIONS = [
    [shapely.box(112.040, 28.490, 112.044, 28.494), shapely.box(112.050, 28.500, 112.054, 28.504)],
    [shapely.box(112.041, 28.491, 112.045, 28.495)],
    [
        shapely.box(112.042, 28.492, 112.046, 28.496),
        shapely.box(112.052, 28.502, 112.056, 28.506),
        shapely.box(112.030, 28.480, 112.034, 28.484),
    ],
]


async def _geojson(client: Client, world: SyncWorld, etag: str | None = None) -> Any:
    headers = world.headers() if etag is None else {**world.headers(), "If-None-Match": etag}
    return await client.get(URL, headers=headers)


def _parcels(phone: Phone) -> set[str]:
    return {rid for rid, rec in phone.store["features"].items() if rec["layer"] == "parcels"}


async def test_each_new_version_replaces_the_last_everywhere(
    make_world: Any,
    client: Client,
    phone: Any,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world: SyncWorld = await make_world(parcels=4)
    mobile: Phone = phone(world.headers())
    await mobile.sync()
    first = await _geojson(client, world)
    assert first.status_code == 200, first.text
    version = first.json()["layerVersion"]
    current = {f["properties"]["id"] for f in first.json()["features"]}
    assert len(current) == 4 and _parcels(mobile) == current
    etags = [first.headers["etag"]]
    retired: set[str] = set()

    for boxes in VERSIONS:
        async with session_factory() as session:
            await add_parcels(session, world.county.id, boxes)
            await session.commit()
        version += 1

        resp = await _geojson(client, world)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        ids = {f["properties"]["id"] for f in doc["features"]}
        assert (doc["layerVersion"], len(ids), doc["next"]) == (version, len(boxes), None)
        retired |= current
        assert not ids & retired
        etag = resp.headers["etag"]
        assert etag not in etags
        for old in etags:  # any older copy is stale and gets the newest document
            stale = await _geojson(client, world, old)
            assert stale.status_code == 200 and stale.json()["layerVersion"] == version
        assert (await _geojson(client, world, etag)).status_code == 304
        etags.append(etag)

        tile = await client.get(TILE, headers=world.headers())
        assert tile.status_code == 200, tile.text
        shown = {f.properties["id"] for f in decode_tile(tile.content)["parcels"].features}
        assert shown == ids

        # the phone's pull: the new version's features in, the last one's out
        page = await mobile.pull_page()
        assert not page["hasMore"]
        changes = page["changes"]["features"]
        assert {f["id"] for f in changes["upserts"] if f["layer"] == "parcels"} == ids
        assert current <= set(changes["deletes"])
        assert _parcels(mobile) == ids
        current = ids

    # nothing more to pull, and the document is still the newest version's
    page = await mobile.pull_page()
    assert page["changes"].get("features", {"upserts": [], "deletes": []}) == {
        "upserts": [],
        "deletes": [],
    }
    assert (await _geojson(client, world, etags[-1])).status_code == 304
