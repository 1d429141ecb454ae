"""ListCountyFindings: the county's findings for review, under the one finding read rule.

A county with permanent basic farmland, two areas and three findings: inspector A's patrol in
the north area finds a 5.1 mu plot on the farmland (screened above the 5 mu threshold) and a
small one; inspector B's patrol in the east area finds a third. Each role lists exactly what
it reads of each patrol with ``ListFindings`` (captains all three, each inspector his own,
the north area's leader both of his area, the squad the screened-in one and, once the captain
flags it, B's; the clue desk and another county none), filtered by patrol, area, reporter,
time, screening and flags, in keyset pages.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Principal, Role
from patrol.accounts import principal_of
from tests import clock
from tests.conftest import CountyFixture, add_user

Client = AsyncTestClient[Litestar]
API = "/api/v1"
FARMLAND = shapely.box(112.080, 28.490, 112.090, 28.500)  # 永久基本农田
NORTH = shapely.box(112.07, 28.48, 112.10, 28.51)
EAST = shapely.box(112.12, 28.48, 112.15, 28.51)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass
class Scene:
    county: CountyFixture
    people: dict[str, Principal]
    usernames: dict[str, str]
    north: str
    east: str
    patrol_a: str
    patrol_b: str
    findings: dict[str, str]  # farm (screened in), small (A's), east (B's)
    found: dict[str, datetime]

    def headers(self, who: str) -> dict[str, str]:
        if who in self.people:
            return {"Authorization": f"Bearer {self.county.tokens.access_token(self.people[who])}"}
        return self.county.headers(Role(who))

    def names(self, ids: list[str]) -> list[str]:
        by_id = {v: k for k, v in self.findings.items()}
        return [by_id[i] for i in ids]


async def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def county_with_findings(
    client: Client, county: CountyFixture, factory: async_sessionmaker[AsyncSession]
) -> Scene:
    """The county of the module docstring: its inspectors, areas, patrols (under way) and
    findings, recorded over REST."""
    async with factory() as session:
        users = {
            n: await add_user(session, county.id, Role.INSPECTOR, n) for n in ("leader", "a", "b")
        }
        await session.commit()
    people = {name: principal_of(user) for name, user in users.items()}
    admin, captain = county.headers(Role.ADMIN), county.headers(Role.CAPTAIN)
    parcels = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": "0101", "JBNT": "1"},
         "geometry": mapping(FARMLAND)}]}  # fmt: skip
    await _ok(
        await client.post(
            f"{API}/geofence/layers/import", headers=admin, data={"kind": "parcels"},
            files={"file": ("parcels.geojson", json.dumps(parcels).encode(), "application/json")},
        )
    )  # fmt: skip
    areas = {}
    for code, shape, leader, member in (
        ("N1", NORTH, people["leader"], people["a"]),
        ("E1", EAST, county.principal(Role.CAPTAIN), people["b"]),
    ):
        body = {"code": code, "name": code, "grade": 1, "geometry": mapping(shape),
                "leaderId": str(leader.user_id), "memberIds": [str(member.user_id)]}  # fmt: skip
        areas[code] = (await _ok(await client.post(f"{API}/areas", json=body, headers=captain),
                                 201))["id"]  # fmt: skip
    usernames = {name: user.username for name, user in users.items()}
    scene = Scene(county, people, usernames, areas["N1"], areas["E1"], "", "", {}, {})
    start = clock.now().replace(microsecond=0) - timedelta(hours=2)
    plan = (
        ("a", "N1", (("farm", 112.085, 28.495, 3400.0), ("small", 112.095, 28.505, 120.0))),
        ("b", "E1", (("east", 112.13, 28.49, 80.0),)),
    )
    minute = 0
    for who, area, found in plan:
        patrol = str(uuid7())
        await _ok(
            await client.put(
                f"{API}/patrols/{patrol}", headers=scene.headers(who),
                json={"areaId": areas[area], "startedAt": _iso(start + timedelta(minutes=minute))},
            )
        )  # fmt: skip
        for name, lon, lat, m2 in found:
            minute += 10
            at = start + timedelta(minutes=minute)
            finding_id = str(uuid7())
            body = {"foundAt": _iso(at), "projectName": f"项目{name}", "lon": lon, "lat": lat,
                    "constructionStatus": "partly_built", "accuracyM": 5.0,
                    "occupiedAreaM2": m2}  # fmt: skip
            url = f"{API}/patrols/{patrol}/findings/{finding_id}"
            recorded = await _ok(await client.put(url, json=body, headers=scene.headers(who)))
            assert bool(recorded["suggestions"]) is (name == "farm"), recorded
            scene.findings[name], scene.found[name] = finding_id, at
        if who == "a":
            scene.patrol_a = patrol
        else:
            scene.patrol_b = patrol
    return scene


async def _listed(client: Client, scene: Scene, who: str, **params: Any) -> list[str]:
    body = await _ok(await client.get(f"{API}/findings", params=params,
                                      headers=scene.headers(who)))  # fmt: skip
    assert body["nextCursor"] is None
    return [f["id"] for f in body["items"]]


async def _per_patrol(client: Client, scene: Scene, who: str) -> set[str]:
    """What ``who`` reads of each patrol's findings (ListFindings)."""
    seen: set[str] = set()
    for patrol in (scene.patrol_a, scene.patrol_b):
        resp = await client.get(f"{API}/patrols/{patrol}/findings", headers=scene.headers(who))
        if resp.status_code == 200:
            seen |= {f["id"] for f in resp.json()}
        else:
            assert resp.json()["code"] == "not_patrol_owner", resp.text
    return seen


async def test_each_role_lists_the_county_findings_it_reads(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    scene = await county_with_findings(client, county, session_factory)
    expected = {
        "captain": ["east", "small", "farm"],  # newest first
        "admin": ["east", "small", "farm"],
        "leader": ["small", "farm"],
        "a": ["small", "farm"],
        "b": ["east"],
        "security_squad": ["farm"],  # screened above the threshold
        "clue_desk": [],
        "joint_team": [],
    }
    for who, names in expected.items():
        listed = await _listed(client, scene, who)
        assert scene.names(listed) == names, who
        assert set(listed) == await _per_patrol(client, scene, who), who
    other = await make_county()
    resp = await client.get(f"{API}/findings", headers=other.headers(Role.CAPTAIN))
    assert (await _ok(resp))["items"] == []

    # the squad's view takes a finding the captain flags; the flag filter
    await _ok(
        await client.post(
            f"{API}/referral-flags", headers=county.headers(Role.CAPTAIN),
            json={"findingId": scene.findings["east"], "reason": "疑似非法占地"},
        ),
        201,
    )  # fmt: skip
    squad = "security_squad"
    assert scene.names(await _listed(client, scene, squad)) == ["east", "farm"]
    assert set(await _listed(client, scene, squad)) == await _per_patrol(client, scene, squad)
    assert scene.names(await _listed(client, scene, squad, flagged="true")) == ["east"]
    assert scene.names(await _listed(client, scene, squad, suggested="true")) == ["farm"]
    assert scene.names(await _listed(client, scene, "captain", flagged="false")) == [
        "small",
        "farm",
    ]
    assert scene.names(await _listed(client, scene, "captain", suggested="false")) == [
        "east",
        "small",
    ]


async def test_the_filters_and_the_pages(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    scene = await county_with_findings(client, county, session_factory)
    captain = "captain"
    assert scene.names(await _listed(client, scene, captain, areaId=scene.north)) == [
        "small",
        "farm",
    ]
    assert scene.names(await _listed(client, scene, captain, patrol_id=scene.patrol_b)) == ["east"]
    reporter = str(scene.people["a"].user_id)
    assert scene.names(await _listed(client, scene, captain, reportedBy=reporter)) == [
        "small",
        "farm",
    ]
    window = {"foundFrom": _iso(scene.found["small"]), "foundTo": _iso(scene.found["east"])}
    assert scene.names(await _listed(client, scene, captain, **window)) == ["small"]
    nowhere = {"township_id": str(uuid.uuid4())}
    assert await _listed(client, scene, captain, **nowhere) == []

    # keyset pages of one: every finding once, newest first, the last page says so
    pages: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        body = await _ok(await client.get(f"{API}/findings", params=params,
                                          headers=scene.headers(captain)))  # fmt: skip
        pages += [f["id"] for f in body["items"]]
        cursor = body["nextCursor"]
    assert scene.names(pages) == ["east", "small", "farm"]
    assert cursor is None

    refused = await client.get(f"{API}/findings", params={"cursor": "not-ours"},
                               headers=scene.headers(captain))  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_cursor")
    naive = await client.get(f"{API}/findings", params={"foundFrom": "2026-11-01T00:00:00"},
                             headers=scene.headers(captain))  # fmt: skip
    assert (naive.status_code, naive.json()["code"]) == (400, "validation_error")
