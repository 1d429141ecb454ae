"""The sync push checks and screens findings as REST does: the same land class, areas, layer
versions, mine sites, rebound reviews, visits and suggestions; an edit of the occupied area
screens the finding again; the squad pulls what a rule matched."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence.enums import LayerKind
from geofence.layers import new_layer_version
from geofence.mines import SiteInput, create_mine_site
from geofence.models import MineSite
from geofence.store import insert_features
from infra.ids import uuid7
from infra.scope import Role
from patrol.field_models import PatrolAlert, PatrolTarget, TargetVisit
from tests import clock
from tests.sync.conftest import Client, Phone, SyncWorld

API = "/api/v1"
PBF_AT = (112.03, 28.48)  # permanent basic farmland
MINE_AT = (112.07, 28.51)  # inside 吴家冲采石场
TARGET_AT = (112.05, 28.5)  # the area's target T1


def _t(**kw: float) -> str:
    return (clock.now() - timedelta(**kw)).isoformat()


async def _layers(
    factory: async_sessionmaker[AsyncSession], world: SyncWorld
) -> tuple[uuid.UUID, uuid.UUID]:
    """A new parcels version (basic farmland west of 112.04 E, cultivated land east of it)
    and the closed mine 吴家冲采石场; returns the parcels version and the mine's id."""
    county = world.county
    async with factory() as s:
        version = await new_layer_version(s, county.id, LayerKind.PARCELS, source_name="t")
        rows = [
            {"feature_no": 1, "land_class": "permanent_basic_farmland", "source_code": "0101",
             "source_name": "水田", "area_m2": 40000.0, "attrs": {},
             "wkb": shapely.to_wkb(MultiPolygon([box(112.02, 28.47, 112.04, 28.49)]))},
            {"feature_no": 2, "land_class": "cultivated", "source_code": "0103",
             "source_name": "旱地", "area_m2": 40000.0, "attrs": {},
             "wkb": shapely.to_wkb(MultiPolygon([box(112.04, 28.47, 112.06, 28.49)]))},
        ]  # fmt: skip
        await insert_features(s, LayerKind.PARCELS, county.id, version.id, rows)
        site = await create_mine_site(
            s,
            county.principal(Role.CAPTAIN),
            SiteInput(
                code="KS-WJC",
                name="吴家冲采石场",
                geometry=box(112.069, 28.509, 112.071, 28.511),
            ),
        )
        await s.commit()
        return version.id, site.id


def _body(name: str, at: tuple[float, float], *, m2: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"foundAt": _t(minutes=30), "projectName": name,
                            "constructionStatus": "partly_built", "lon": at[0], "lat": at[1],
                            "accuracyM": 5.0}  # fmt: skip
    if m2 is not None:
        body["occupiedAreaM2"] = m2
    return body


def _op(patrol: uuid.UUID, fid: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(patrol),
            "findingId": str(fid), **body}  # fmt: skip


def _located(f: dict[str, Any]) -> dict[str, Any]:
    """The parts of a finding's answer that do not depend on when it was made."""
    check = f["locationCheck"]
    return {
        "landClass": f["landClass"],
        "landClassLabel": f["landClassLabel"],
        "landUse": f["landUse"],
        "landUseBasis": f["landUseBasis"],
        "mineSiteIds": f["mineSiteIds"],
        "flags": f["flags"],
        "occupiedAreaM2": f["occupiedAreaM2"],
        "parcels": [
            (h["featureId"], h["relation"], h["landClass"], h["attributes"])
            for h in check["features"]
            if h["kind"] == "parcels"
        ],
        "sites": [
            (h["mineSiteId"], h["relation"]) for h in check["features"] if h["kind"] == "mine_sites"
        ],
        "parcelsVersion": [v for v in check["layerVersions"] if v["kind"] == "parcels"],
        "suggestions": [
            (s["ruleCode"], s["value"], s["threshold"], s["crime"]) for s in f["suggestions"]
        ],
    }


async def test_push_and_rest_check_and_screen_findings_alike(
    make_world: Any,
    phone: Any,
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world: SyncWorld = await make_world()
    parcels_version, mine_id = await _layers(session_factory, world)
    headers = world.headers()
    bodies = {
        "farm": _body("占用基本农田建厂", PBF_AT, m2=3400.0),  # 5.1 mu
        "small": _body("占用基本农田建棚", PBF_AT, m2=3266.67),  # 4.9 mu
        "mine": _body("吴家冲采石场复采", MINE_AT),
        "target": _body("河滩堆砂", TARGET_AT, m2=100.0),
    }

    # REST: one patrol, one request per finding
    rest_patrol = uuid7()
    started = await client.put(
        f"{API}/patrols/{rest_patrol}",
        json={"areaId": str(world.area_id), "startedAt": _t(hours=1)},
        headers=headers,
    )
    assert started.status_code == 200, started.text
    rest: dict[str, dict[str, Any]] = {}
    for key, body in bodies.items():
        resp = await client.put(
            f"{API}/patrols/{rest_patrol}/findings/{uuid7()}", json=body, headers=headers
        )
        assert resp.status_code == 200, resp.text
        rest[key] = resp.json()

    # sync: another patrol, the same findings in one push (stored with one call)
    sync_patrol = uuid7()
    ids = {key: uuid7() for key in bodies}
    p: Phone = phone(headers)
    p.outbox = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(sync_patrol),
         "areaId": str(world.area_id), "startedAt": _t(hours=1)},
        *(_op(sync_patrol, ids[key], body) for key, body in bodies.items()),
    ]  # fmt: skip
    receipts = await p.push()
    assert [r["status"] for r in receipts] == ["applied"] * 5
    await p.sync()
    pulled = {key: p.store["findings"][str(fid)] for key, fid in ids.items()}

    for key in bodies:
        assert _located(pulled[key]) == _located(rest[key]), key
    farm = rest["farm"]
    assert (farm["landClass"], farm["landClassLabel"]) == (
        "permanent_basic_farmland",
        "永久基本农田",
    )
    assert farm["landUse"] == [{"landClass": "permanent_basic_farmland",
                                "landClassLabel": "永久基本农田", "areaM2": 3400.0,
                                "areaMu": 5.1}]  # fmt: skip
    assert _located(farm)["parcels"][0][3] == {"source_code": "0101", "source_name": "水田"}
    assert _located(farm)["parcelsVersion"][0]["versionId"] == str(parcels_version)
    assert _located(farm)["suggestions"] == [
        ("342.basic_farmland", "5.10", "5.00", "非法占用农用地罪")
    ]
    assert rest["small"]["suggestions"] == []
    assert rest["mine"]["mineSiteIds"] == [str(mine_id)]
    assert set(rest["mine"]["flags"]) == {"at_mine_site", "mine_site_review"}

    async with session_factory() as s:
        alerts = (
            await s.scalars(select(PatrolAlert).where(PatrolAlert.county_id == world.county.id))
        ).all()
        status = await s.scalar(select(MineSite.status).where(MineSite.id == mine_id))
        target = await s.scalar(
            select(PatrolTarget.id).where(
                PatrolTarget.area_id == world.area_id, PatrolTarget.name == "T1"
            )
        )
        visits = (
            await s.execute(
                select(TargetVisit.session_id, TargetVisit.target_id, TargetVisit.source).where(
                    TargetVisit.session_id.in_([rest_patrol, sync_patrol])
                )
            )
        ).all()
    reviews = sorted(a.session_id for a in alerts if a.kind == "site_rebound_review")
    assert reviews == sorted([rest_patrol, sync_patrol])  # exactly one per finding at the site
    assert all(a.site_id == mine_id for a in alerts if a.kind == "site_rebound_review")
    suggested = sorted(a.session_id for a in alerts if a.kind == "referral_suggested")
    assert suggested == sorted([rest_patrol, sync_patrol])
    assert status == "signs_of_reopening"
    assert sorted(visits) == sorted(
        [(rest_patrol, target, "finding"), (sync_patrol, target, "finding")]
    )

    # the security squad pulls the findings a rule matched, and no other
    squad: Phone = phone(world.headers(Role.SECURITY_SQUAD))
    await squad.sync()
    assert squad.ids("findings") == {rest["farm"]["id"], str(ids["farm"])}
    assert squad.store["findings"][str(ids["farm"])]["suggestions"][0]["ruleCode"] == (
        "342.basic_farmland"
    )


async def test_an_edit_of_the_occupied_area_screens_the_finding_again(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    await _layers(session_factory, world)
    patrol, fid = uuid7(), uuid7()
    p: Phone = phone(world.headers())
    p.outbox = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "areaId": str(world.area_id), "startedAt": _t(hours=1)},
        _op(patrol, fid, _body("占地", PBF_AT, m2=3400.0)),
    ]  # fmt: skip
    await p.push()
    await p.sync()
    squad: Phone = phone(world.headers(Role.SECURITY_SQUAD))
    await squad.sync()
    assert squad.ids("findings") == {str(fid)}

    def edit(m2: float) -> dict[str, Any]:
        return {"type": "updateFinding", "opId": str(uuid7()), "findingId": str(fid),
                "baseVersion": p.store["findings"][str(fid)]["version"],
                "changes": {"occupiedAreaM2": m2}}  # fmt: skip

    p.outbox = [edit(3000.0)]  # 4.5 mu: below the threshold now
    assert [r["status"] for r in await p.push()] == ["applied"]
    await p.sync()
    mine = p.store["findings"][str(fid)]
    assert mine["suggestions"] == []
    assert mine["landUse"][0]["areaM2"] == 3000.0
    await squad.sync()
    assert squad.ids("findings") == set()  # no longer in the squad's view

    p.outbox = [edit(4000.0)]  # 6 mu
    await p.push()
    await p.sync()
    assert [s["value"] for s in p.store["findings"][str(fid)]["suggestions"]] == ["6.00"]
    await squad.sync()
    assert squad.ids("findings") == {str(fid)}
    async with session_factory() as s:
        alerts = (
            await s.scalars(
                select(PatrolAlert)
                .where(
                    PatrolAlert.county_id == world.county.id,
                    PatrolAlert.kind == "referral_suggested",
                )
                .order_by(PatrolAlert.raised_at)
            )
        ).all()
    # the first suggestion's alert resolved itself when the area fell below the threshold;
    # the second edit's suggestion raised a new one
    assert [a.resolution for a in alerts] == ["suggestion_superseded", None]
