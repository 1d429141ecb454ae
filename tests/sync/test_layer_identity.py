"""Map layers by identity: a change to one mine site leaves every other site on the map.

Every change to the mine-site register writes a layer version holding only the changed
site's revision; the map layers (GeoJSON, vector tiles, the sync pull) serve the register's
current state (every live site), and the version they name reproduces a check.
"""

from __future__ import annotations

import uuid
from typing import Any

import shapely
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence.mines import SiteInput, create_mine_site, retire_mine_site
from infra.scope import Role
from tests.sync.conftest import Client, Phone, SyncWorld, add_parcels
from tests.sync.mvt import decode_tile, tile_url

#: Sites beside M1 of the sync world (112.06, 28.51): three more in the inspector's area A1,
#: two in area A2 that is not his. All six lie in one z11 tile.
SITES = {
    "M2": shapely.Point(112.02, 28.47),
    "M3": shapely.Point(112.04, 28.49),
    "M4": shapely.box(112.075, 28.515, 112.08, 28.52),
    "M5": shapely.Point(112.12, 28.50),
    "M6": shapely.Point(112.14, 28.48),
}
MINE = ("M1", "M2", "M3", "M4")  # in the inspector's area
ZOOM = 11
GEOJSON = "/api/v1/sync/layers/mine_sites"


TILE = tile_url("mine_sites", 112.05, 28.5, ZOOM)


async def _geojson(client: Client, headers: dict[str, str]) -> tuple[str, int, dict[str, str]]:
    """ETag, ``layerVersion`` and ``{site id: status}`` of the mine-site layer."""
    resp = await client.get(GEOJSON, headers=headers)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["next"] is None
    sites = {f["properties"]["id"]: f["properties"]["status"] for f in doc["features"]}
    assert len(sites) == len(doc["features"])
    return resp.headers["etag"], doc["layerVersion"], sites


async def _tile(client: Client, headers: dict[str, str]) -> dict[str, str]:
    """``{site id: status}`` of the z11 tile over the sites, decoded."""
    resp = await client.get(TILE, headers=headers)
    assert resp.status_code == 200, resp.text
    layers = decode_tile(resp.content)
    assert set(layers) <= {"mine_sites"}
    features = layers["mine_sites"].features if layers else []
    for f in features:
        assert f.vertices and all(0 <= c <= 4096 for v in f.vertices for c in v), f
    return {f.properties["id"]: f.properties["status"] for f in features}


def _pulled(phone: Phone) -> dict[str, str]:
    """``{site id: status}`` of the mine-site features in the phone's store."""
    return {
        rid: rec["properties"]["status"]
        for rid, rec in phone.store["features"].items()
        if rec["layer"] == "mine_sites"
    }


async def _add_sites(world: SyncWorld, factory: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    captain = world.county.principal(Role.CAPTAIN)
    ids = {"M1": str(world.site_id)}
    async with factory() as session:
        for code, geom in SITES.items():
            site = await create_mine_site(
                session, captain, SiteInput(code=code, name=f"关停矿点{code}", geometry=geom)
            )
            ids[code] = str(site.id)
        await session.commit()
    return ids


def _expected(ids: dict[str, str], codes: tuple[str, ...], **changed: str) -> dict[str, str]:
    return {ids[c]: changed.get(c, "closed") for c in codes}


async def test_a_status_change_leaves_every_site_on_the_map(
    make_world: Any,
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    phone: Any,
) -> None:
    world: SyncWorld = await make_world(parcels=4)
    ids = await _add_sites(world, session_factory)
    inspector, captain = world.headers(), world.headers(Role.CAPTAIN)
    everyone = (*MINE, "M5", "M6")

    etag, version, sites = await _geojson(client, inspector)
    # need to know: the sites of his area only, in the document, the tile and the pull
    assert sites == _expected(ids, MINE)
    assert await _tile(client, inspector) == _expected(ids, MINE)
    assert (await _geojson(client, captain))[2] == _expected(ids, everyone)
    mobile: Phone = phone(inspector)
    await mobile.sync()
    assert _pulled(mobile) == _expected(ids, MINE)

    resp = await client.post(
        f"/api/v1/geofence/mine-sites/{ids['M3']}/status",
        json={"status": "signs_of_reopening"},
        headers=captain,
    )
    assert resp.status_code == 200, resp.text

    # every site is still there, the changed one with its new status
    want = _expected(ids, MINE, M3="signs_of_reopening")
    new_etag, new_version, sites = await _geojson(client, inspector)
    assert sites == want
    assert new_version == version + 1
    assert await _tile(client, inspector) == want
    assert (await _geojson(client, captain))[2] == _expected(ids, everyone, M3="signs_of_reopening")
    assert await _tile(client, captain) == _expected(ids, everyone, M3="signs_of_reopening")
    # the phone's copy is stale: a new ETag; its old one gets the new document
    assert new_etag != etag
    stale = await client.get(GEOJSON, headers={**inspector, "If-None-Match": etag})
    assert stale.status_code == 200 and len(stale.json()["features"]) == len(MINE)
    fresh = await client.get(GEOJSON, headers={**inspector, "If-None-Match": new_etag})
    assert fresh.status_code == 304
    # the sync pull sends the changed site only, and the phone keeps all four
    page = await mobile.pull_page()
    upserts = page["changes"]["features"]["upserts"]
    assert [(f["id"], f["properties"]["status"]) for f in upserts] == [
        (ids["M3"], "signs_of_reopening")
    ]
    assert _pulled(mobile) == want

    # a site taken off the register leaves the map, and only that one
    async with session_factory() as session:
        await retire_mine_site(session, world.county.principal(Role.CAPTAIN), uuid.UUID(ids["M2"]))
        await session.commit()
    want = _expected(ids, ("M1", "M3", "M4"), M3="signs_of_reopening")
    last_etag, _, sites = await _geojson(client, inspector)
    assert sites == want and last_etag != new_etag
    assert await _tile(client, inspector) == want
    page = await mobile.pull_page()
    assert page["changes"]["features"]["deletes"] == [ids["M2"]]
    assert _pulled(mobile) == want


async def test_the_layer_version_on_the_map_reproduces_a_check(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world(parcels=4)
    ids = await _add_sites(world, session_factory)
    captain = world.headers(Role.CAPTAIN)
    for code in ("M3", "M5"):
        resp = await client.post(
            f"/api/v1/geofence/mine-sites/{ids[code]}/status",
            json={"status": "reopened"},
            headers=captain,
        )
        assert resp.status_code == 200, resp.text

    _, version_no, sites = await _geojson(client, world.headers())
    assert sites == _expected(ids, MINE, M3="reopened")
    resp = await client.post(
        "/api/v1/geofence/check",
        json={"lon": 112.04, "lat": 28.49, "accuracyM": 10, "kinds": ["mine_sites"]},
        headers=world.headers(),
    )
    assert resp.status_code == 200, resp.text
    check = resp.json()
    [hit] = check["features"]
    assert hit["featureId"] == ids["M3"] and hit["site"]["status"] == "reopened"
    [used] = check["layerVersions"]
    assert used["versionNo"] == version_no and hit["layerVersionId"] == used["versionId"]
    # that version, read back, is the whole register as the map showed it
    resp = await client.get(
        f"/api/v1/geofence/layers/versions/{used['versionId']}/features", headers=captain
    )
    assert resp.status_code == 200, resp.text
    register = {f["id"]: f["properties"]["status"] for f in resp.json()}
    assert register == _expected(ids, (*MINE, "M5", "M6"), M3="reopened", M5="reopened")
    assert {k: v for k, v in register.items() if k in sites} == sites


async def test_a_reimport_replaces_its_layer_and_a_site_change_changes_one_site(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world(parcels=4)
    ids = await _add_sites(world, session_factory)
    inspector, captain = world.headers(), world.headers(Role.CAPTAIN)
    parcels_url = "/api/v1/sync/layers/parcels"
    first = await client.get(parcels_url, headers=inspector)
    assert first.status_code == 200 and first.json()["layerVersion"] == 1
    sites_etag, sites_version, _ = await _geojson(client, inspector)

    # parcels imported again, whole: version 2 replaces version 1; the mine sites are as they were
    async with session_factory() as session:
        await add_parcels(session, world.county.id, [shapely.box(112.04, 28.49, 112.045, 28.495)])
        await session.commit()
    doc = (await client.get(parcels_url, headers=inspector)).json()
    assert doc["layerVersion"] == 2 and len(doc["features"]) == 1
    unchanged = await client.get(GEOJSON, headers={**inspector, "If-None-Match": sites_etag})
    assert unchanged.status_code == 304
    parcels_etag = (await client.get(parcels_url, headers=inspector)).headers["etag"]

    # one site's status changes: that site only; the parcels are as they were
    resp = await client.post(
        f"/api/v1/geofence/mine-sites/{ids['M1']}/status",
        json={"status": "remediated"},
        headers=captain,
    )
    assert resp.status_code == 200, resp.text
    etag, version, sites = await _geojson(client, inspector)
    assert etag != sites_etag and version == sites_version + 1
    assert sites == _expected(ids, MINE, M1="remediated")
    unchanged = await client.get(parcels_url, headers={**inspector, "If-None-Match": parcels_etag})
    assert unchanged.status_code == 304
