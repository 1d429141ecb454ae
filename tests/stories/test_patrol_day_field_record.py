"""An inspector's patrol day as the field record keeps it, walked through HTTP as each role
would, against the real app, PostGIS and S3.

The inspector's phone pushes a patrol with two sign-ins (one at the bridge target, one far
from every target), a finding on permanent basic farmland (5.1 mu) and one inside the closed
quarry 吴家冲采石场, then ends the patrol; a track point timed four minutes after the end
arrives later. He also films the quarry. Then:

- the inspector reads each finding back with its land class, its mine site and the layer
  versions it was checked against, and the same on his phone after a sync;
- the late point is refused and the patrol's distance, end and last fix do not move;
- the captain's coverage counts the quarry as visited (by the finding alone) and the same
  distance, his alerts show the quarry's rebound review and the referral suggestion, the
  quarry is marked for review; a check of the quarry by its village cadre resolves the review;
- a status change of another site leaves every site on the inspector's map (GeoJSON, tile);
- the video has a share copy without its location and a captioned poster;
- the security squad sees the farmland finding (screened above the 5 mu threshold), not the
  quarry finding, and flags it.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import httpx
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.api.test_evidence_api import _upload
from tests.conftest import CountyFixture
from tests.evidence import media
from tests.jobs import run_jobs
from tests.stories.test_joint_patrol_to_referral import _pull_all
from tests.sync.mvt import decode_tile, tile_url

Client = AsyncTestClient[Any]
API = "/api/v1"
AREA = shapely.box(112.07, 28.48, 112.13, 28.53)
FARMLAND = shapely.box(112.080, 28.490, 112.090, 28.500)  # 永久基本农田, about 1 km²
QUARRY = shapely.box(112.100, 28.510, 112.102, 28.512)  # 吴家冲采石场, closed
BRIDGE = (112.075, 28.485)  # the bridge target
FAR = (112.075, 28.460)  # 2.8 km south of the bridge, outside the area, in the county
OTHER_SITES = {"KS-002": (112.110, 28.515), "KS-003": (112.120, 28.495)}


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _parcels() -> bytes:
    features = [
        {"type": "Feature", "properties": {"DLBM": "0101", "JBNT": "1"},
         "geometry": mapping(FARMLAND)},
        {"type": "Feature", "properties": {"DLBM": "0602", "JBNT": "0"},
         "geometry": mapping(shapely.box(112.095, 28.505, 112.107, 28.517))},
    ]  # fmt: skip
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


async def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def test_an_inspectors_day_is_a_true_field_record(
    client: Client,
    make_county: Any,
    app: Litestar,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county: CountyFixture = await make_county()
    admin, captain = county.headers(Role.ADMIN), county.headers(Role.CAPTAIN)
    inspector, squad = county.headers(Role.INSPECTOR), county.headers(Role.SECURITY_SQUAD)
    inspector_id = str(county.users[Role.INSPECTOR].id)

    # -- the brigade's reference data: parcels, the closed quarry and two other sites ---------
    await _ok(
        await client.post(
            f"{API}/geofence/layers/import", headers=admin,
            files={"file": ("parcels.geojson", _parcels(), "application/octet-stream")},
            data={"kind": "parcels"},
        )
    )  # fmt: skip
    quarry = await _ok(
        await client.post(
            f"{API}/geofence/mine-sites", headers=captain,
            json={"code": "KS-001", "name": "吴家冲采石场", "geometry": mapping(QUARRY),
                  "mineral": "石料", "closedOn": "2025-06-30"},
        ),
        201,
    )  # fmt: skip
    others = {}
    for code, (lon, lat) in OTHER_SITES.items():
        site = await client.post(
            f"{API}/geofence/mine-sites", headers=captain,
            json={"code": code, "name": f"关停矿点{code}",
                  "geometry": {"type": "Point", "coordinates": [lon, lat]}},
        )  # fmt: skip
        others[code] = (await _ok(site, 201))["id"]
    await _ok(
        await client.put(
            f"{API}/geofence/mine-sites/{quarry['id']}/roster/village_cadre",
            json={"userId": inspector_id}, headers=captain,
        )
    )  # fmt: skip

    # -- the captain's area, its targets and the month's plan --------------------------------
    area = await _ok(
        await client.post(
            f"{API}/areas", headers=captain,
            json={"code": "W01", "name": "吴家冲片区", "grade": 1, "geometry": mapping(AREA),
                  "leaderId": inspector_id},
        ),
        201,
    )  # fmt: skip
    targets = {}
    for name, body in {
        "bridge": {"kind": "custom", "name": "桥头", "lon": BRIDGE[0], "lat": BRIDGE[1],
                   "visitRadiusM": 150},
        "quarry": {"kind": "mine_site", "name": "吴家冲采石场", "lon": 112.101, "lat": 28.511,
                   "visitRadiusM": 150, "refId": quarry["id"]},
        "dam": {"kind": "custom", "name": "水库坝", "lon": 112.125, "lat": 28.525,
                "visitRadiusM": 150},
    }.items():  # fmt: skip
        resp = await client.post(f"{API}/areas/{area['id']}/targets", json=body, headers=captain)
        targets[name] = (await _ok(resp, 201))["id"]

    now = clock.now().replace(microsecond=0)
    start = now - timedelta(hours=3)
    month = f"{start.year:04d}-{start.month:02d}"
    await _ok(
        await client.put(
            f"{API}/areas/{area['id']}/plans/{month}", json={"quota": 4}, headers=captain
        )
    )

    # -- the patrol day, pushed from the phone -------------------------------------------------
    patrol, farm_finding, quarry_finding = uuid7(), uuid7(), uuid7()
    walk = [
        {"id": str(uuid7()), "t": _iso(start + timedelta(minutes=i)),
         "lon": BRIDGE[0] + i * 0.00015, "lat": BRIDGE[1] + i * 0.00015, "accuracyM": 5.0}
        for i in range(40)
    ]  # fmt: skip
    end = start + timedelta(minutes=60)
    ops = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "areaId": area["id"], "startedAt": _iso(start)},
        {"type": "trackPoints", "opId": str(uuid7()), "patrolId": str(patrol), "points": walk},
        {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
         "signInId": str(uuid7()), "at": _iso(start + timedelta(minutes=1)),
         "lon": BRIDGE[0], "lat": BRIDGE[1], "accuracyM": 5.0},
        {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
         "signInId": str(uuid7()), "at": _iso(start + timedelta(minutes=5)),
         "lon": FAR[0], "lat": FAR[1], "accuracyM": 5.0},
        {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(patrol),
         "findingId": str(farm_finding), "foundAt": _iso(start + timedelta(minutes=20)),
         "projectName": "占用基本农田建设厂房", "constructionStatus": "partly_built",
         "lon": 112.085, "lat": 28.495, "accuracyM": 5.0, "occupiedAreaM2": 3400.0},
        {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(patrol),
         "findingId": str(quarry_finding), "foundAt": _iso(start + timedelta(minutes=40)),
         "projectName": "吴家冲采石场疑似复采", "constructionStatus": "other",
         "lon": 112.101, "lat": 28.511, "accuracyM": 5.0, "occupiedAreaM2": 200.0},
        {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "endedAt": _iso(end)},
    ]  # fmt: skip
    pushed = await _ok(
        await client.post(
            f"{API}/sync/push", json={"deviceTime": _iso(now), "ops": ops}, headers=inspector
        )
    )
    receipts = pushed["receipts"]
    assert [r["status"] for r in receipts] == ["applied"] * len(ops), [
        (r["status"], r.get("code")) for r in receipts
    ]
    at_bridge, far_off = receipts[2]["signIn"], receipts[3]["signIn"]
    assert at_bridge["targetsReached"] == [targets["bridge"]]
    assert at_bridge["farFromTargets"] is False and at_bridge["nearestTargetM"] == 0
    assert far_off["targetsReached"] == [] and far_off["farFromTargets"] is True
    assert far_off["nearestTargetId"] == targets["bridge"]
    assert 2700 < far_off["nearestTargetM"] < 2900

    ended = await _ok(await client.get(f"{API}/patrols/{patrol}", headers=inspector))
    assert ended["endedAt"] is not None and ended["distanceM"] > 0

    # -- a point timed four minutes after the end reaches the server later: refused -----------
    late = {"id": str(uuid7()), "t": _iso(end + timedelta(minutes=4)), "lon": 112.11,
            "lat": 28.52, "accuracyM": 5.0}  # fmt: skip
    refused = await _ok(
        await client.post(
            f"{API}/sync/push", headers=inspector,
            json={"deviceTime": _iso(now), "ops": [
                {"type": "trackPoints", "opId": str(uuid7()), "patrolId": str(patrol),
                 "points": [late]}]},
        )
    )  # fmt: skip
    [receipt] = refused["receipts"]
    assert receipt["status"] == "rejected", receipt
    assert [i["code"] for i in receipt["rejectedItems"]] == ["after_end"]
    after = await _ok(await client.get(f"{API}/patrols/{patrol}", headers=inspector))
    figures = ("distanceM", "endedAt", "durationS", "lastFixAt", "pointCount", "usedPointCount")
    assert {f: after[f] for f in figures} == {f: ended[f] for f in figures}
    assert datetime.fromisoformat(after["lastFixAt"]) <= end

    # -- the inspector reads his findings back, on the web and on the phone -----------------
    findings = {
        f["id"]: f
        for f in await _ok(await client.get(f"{API}/patrols/{patrol}/findings", headers=inspector))
    }
    farm, at_quarry = findings[str(farm_finding)], findings[str(quarry_finding)]
    assert farm["landClass"] == "permanent_basic_farmland"
    assert farm["landClassLabel"] == "永久基本农田"
    assert [(u["landClass"], u["areaMu"]) for u in farm["landUse"]] == [
        ("permanent_basic_farmland", 5.1)
    ]
    assert [s["ruleCode"] for s in farm["suggestions"]] == ["342.basic_farmland"]
    assert farm["mineSiteIds"] == []
    check = farm["locationCheck"]
    assert {v["kind"] for v in check["layerVersions"]} >= {"parcels", "mine_sites"}
    assert at_quarry["mineSiteIds"] == [quarry["id"]]
    assert "at_mine_site" in at_quarry["flags"]
    assert at_quarry["suggestions"] == []
    held = await _pull_all(client, inspector, "findings")
    assert held == {str(farm_finding), str(quarry_finding)}

    # -- the quarry video: a share copy without the location, a captioned poster ------------
    clip = media.video(
        "mov",
        metadata={"com.apple.quicktime.location.ISO6709": "+28.5110+112.1010+050.000/",
                  "com.apple.quicktime.creationdate": _iso(start + timedelta(minutes=41))},
        options={"movflags": "use_metadata_tags"},
    )  # fmt: skip
    video = await _upload(
        client, county, Role.INSPECTOR, clip, contentType="video/quicktime",
        patrolId=str(patrol),
    )  # fmt: skip
    await run_jobs(settings.database, session_factory, app.state.store, settings.evidence)
    detail = await _ok(await client.get(f"{API}/evidence/{video['id']}", headers=inspector))
    assert {d["kind"] for d in detail["derivatives"]} == {
        "poster", "thumbnail", "captioned", "share"
    }  # fmt: skip
    signed = await _ok(
        await client.get(f"{API}/evidence/{video['id']}/derivatives/share", headers=inspector)
    )
    async with httpx.AsyncClient(timeout=60) as http:
        share = await http.get(signed["url"], headers=signed["headers"])
    assert share.status_code == 200 and share.headers["content-type"] == "video/quicktime"
    assert b"+28.5110+112.1010" in clip and b"+28.5110+112.1010" not in share.content

    # -- the captain's month ----------------------------------------------------------------
    coverage = await _ok(
        await client.get(f"{API}/coverage", params={"month": month}, headers=captain)
    )
    [mine] = [a for a in coverage["areas"] if a["areaId"] == area["id"]]
    assert set(mine["targetsVisited"]) == {targets["bridge"], targets["quarry"]}
    assert mine["targetsNotVisited"] == [targets["dam"]]
    assert mine["patrols"] == 1 and mine["quotaMet"] is False
    assert math.isclose(mine["distanceKm"], ended["distanceM"] / 1000, abs_tol=0.01)
    feed = await _ok(await client.get(f"{API}/alerts", headers=captain))
    kinds = sorted(a["kind"] for a in feed)
    assert "site_rebound_review" in kinds and "referral_suggested" in kinds
    # one review for the finding, one for the video taken there
    reviews = [a for a in feed if a["kind"] == "site_rebound_review"]
    assert len(reviews) == 2
    assert all(a["siteId"] == quarry["id"] and "吴家冲采石场" in a["message"] for a in reviews)
    marked = await _ok(
        await client.get(f"{API}/geofence/mine-sites/{quarry['id']}", headers=captain)
    )
    assert marked["status"] == "signs_of_reopening"

    # the quarry's village cadre checks it: the review resolves, its history stays
    await _ok(
        await client.put(
            f"{API}/duty-checks/{uuid7()}", headers=inspector,
            json={"siteId": quarry["id"], "checkedAt": _iso(now), "status": "still_closed"},
        )
    )  # fmt: skip
    still_open = await _ok(await client.get(f"{API}/alerts", headers=captain))
    assert not {a["id"] for a in reviews} & {a["id"] for a in still_open}
    resolved = await _ok(
        await client.get(f"{API}/alerts", params={"state": "resolved"}, headers=captain)
    )
    assert {(a["id"], a["resolution"]) for a in resolved} >= {
        (a["id"], "site_checked") for a in reviews
    }

    # -- a status change of another site leaves every site on the inspector's map ----------
    await _ok(
        await client.post(
            f"{API}/geofence/mine-sites/{others['KS-002']}/status", headers=captain,
            json={"status": "reopened"},
        )
    )  # fmt: skip
    layer = await _ok(await client.get(f"{API}/sync/layers/mine_sites", headers=inspector))
    on_map = {f["properties"]["id"]: f["properties"]["status"] for f in layer["features"]}
    assert on_map == {
        quarry["id"]: "signs_of_reopening",
        others["KS-002"]: "reopened",
        others["KS-003"]: "closed",
    }
    tile = await client.get(tile_url("mine_sites", 112.1, 28.505, 11), headers=inspector)
    assert tile.status_code == 200 and tile.content
    tiled = {f.properties["id"]: f.properties["status"]
             for f in decode_tile(tile.content)["mine_sites"].features}  # fmt: skip
    assert tiled == on_map

    # -- the security squad: the screened finding only, which it flags ---------------------
    seen = await _ok(await client.get(f"{API}/patrols/{patrol}/findings", headers=squad))
    assert [f["id"] for f in seen] == [str(farm_finding)]
    assert await _pull_all(client, squad, "findings") == {str(farm_finding)}
    squad_feed = await _ok(await client.get(f"{API}/alerts", headers=squad))
    assert [a["kind"] for a in squad_feed] == ["referral_suggested"]
    assert "占用基本农田建设厂房" in squad_feed[0]["message"]
    await _ok(
        await client.post(
            f"{API}/referral-flags", headers=squad,
            json={"findingId": str(farm_finding), "reason": "占用永久基本农田5.1亩，达到入罪标准"},
        ),
        201,
    )  # fmt: skip
