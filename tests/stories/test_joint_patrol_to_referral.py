"""A joint patrol day, walked through HTTP as each role would, against the real app, PostGIS
and S3: the inspector starts a patrol with a police officer of the joint team from his phone
(sync push), both take photos, each sees the other's; the security squad sees nothing of it
until the captain flags the finding, then reads that finding (REST and sync alike) but not
the patrol; a bad phone operation is refused on its own receipt and the rest of the day is
kept; the day survives a replay after a lost answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from infra.scope import Role
from tests import clock
from tests.api.test_evidence_api import LAT, LON, _photo, _upload
from tests.conftest import CountyFixture

Client = AsyncTestClient[Any]
API = "/api/v1"
AREA = {
    "type": "Polygon",
    "coordinates": [[[112.08, 28.48], [112.12, 28.48], [112.12, 28.52], [112.08, 28.52],
                     [112.08, 28.48]]],
}  # fmt: skip


def _t(now: datetime, minutes: float) -> str:
    return (now - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def _pull_all(client: Client, headers: dict[str, str], kind: str) -> set[str]:
    """What a fresh phone of this user holds of ``kind`` after a whole initial sync."""
    held: set[str] = set()
    cursor = None
    for _ in range(50):
        body: dict[str, Any] = {"limit": 500} if cursor is None else {"cursor": cursor}
        resp = await client.post(f"{API}/sync/pull", json=body, headers=headers)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        if page["reset"]:
            held = set()
        changes = page["changes"][kind]
        held -= set(changes["deletes"])
        held |= {r["id"] for r in changes["upserts"]}
        cursor = page["cursor"]
        if not page["hasMore"]:
            return held
    raise AssertionError("the pull did not end")


async def test_a_joint_patrol_from_the_phone_to_the_squads_referral(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    inspector, police = county.headers(Role.INSPECTOR), county.headers(Role.JOINT_TEAM)
    captain, squad = county.headers(Role.CAPTAIN), county.headers(Role.SECURITY_SQUAD)
    now = clock.now()

    # the captain sets up the contract area with the inspector as its leader
    area = await client.post(
        f"{API}/areas",
        json={"code": "J01", "name": "河西片区", "grade": 1, "geometry": AREA,
              "leaderId": str(county.users[Role.INSPECTOR].id)},
        headers=captain,
    )  # fmt: skip
    assert area.status_code == 201, area.text

    # the inspector's phone pushes the day: start with the police officer, points, a finding,
    # and one operation a broken app version mangled (a NUL in the note)
    patrol, finding = uuid7(), uuid7()
    ops = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "areaId": area.json()["id"], "startedAt": _t(now, 90),
         "companionIds": [str(county.users[Role.JOINT_TEAM].id)]},
        {"type": "trackPoints", "opId": str(uuid7()), "patrolId": str(patrol),
         "points": [{"id": str(uuid7()), "t": _t(now, 80 - i), "lon": LON,
                     "lat": LAT + i * 0.0002, "accuracyM": 5.0} for i in range(10)]},
        {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(patrol),
         "findingId": str(finding), "foundAt": _t(now, 60), "projectName": "河滩采砂点",
         "constructionStatus": "partly_built", "lon": LON, "lat": LAT},
        {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(patrol),
         "findingId": str(uuid7()), "foundAt": _t(now, 50), "projectName": "x\u0000y",
         "constructionStatus": "partly_built", "lon": LON, "lat": LAT},
    ]  # fmt: skip
    push = {"deviceTime": _t(now, 0), "ops": ops}
    first = await client.post(f"{API}/sync/push", json=push, headers=inspector)
    assert first.status_code == 200, first.text
    receipts = first.json()["receipts"]
    assert [r["status"] for r in receipts] == ["applied", "applied", "applied", "rejected"], [
        (r["status"], r.get("code"), r.get("reason") or r.get("detail")) for r in receipts
    ]
    assert receipts[3]["code"] == "invalid_character"
    # the answer was lost on the way: the phone sends the same batch again, nothing doubles
    again = await client.post(f"{API}/sync/push", json=push, headers=inspector)
    assert [r["status"] for r in again.json()["receipts"]][:3] == [
        r["status"] for r in receipts[:3]
    ]
    track = await client.get(f"{API}/patrols/{patrol}/track", headers=inspector)
    assert track.status_code == 200 and len(track.json()["features"]) >= 1

    # both take photos on the patrol; each sees the other's, the squad sees neither
    by_inspector = await _upload(client, county, Role.INSPECTOR, _photo(), patrolId=str(patrol))
    by_police = await _upload(client, county, Role.JOINT_TEAM, _photo(), patrolId=str(patrol))
    for headers in (inspector, police):
        seen = await client.get(f"{API}/evidence?limit=50", headers=headers)
        assert {by_inspector["id"], by_police["id"]} <= {e["id"] for e in seen.json()["items"]}
    assert (
        await client.get(f"{API}/evidence/{by_inspector['id']}", headers=squad)
    ).status_code == 404

    # before any flag the squad reads nothing of the day, on the web or on a phone
    assert (await client.get(f"{API}/patrols/{patrol}/findings", headers=squad)).status_code == 403
    assert await _pull_all(client, squad, "findings") == set()
    # and it cannot flag what it cannot read
    early = await client.post(
        f"{API}/referral-flags", json={"findingId": str(finding), "reason": "疑似非法采矿"},
        headers=squad,
    )  # fmt: skip
    assert early.status_code == 404

    # the captain flags the finding for the squad
    flag = await client.post(
        f"{API}/referral-flags",
        json={"findingId": str(finding), "reason": "河道非法采砂，疑似达到刑事标准"},
        headers=captain,
    )
    assert flag.status_code == 201, flag.text

    # now the squad reads that finding, the same on the web and on its phone, not the patrol
    listed = await client.get(f"{API}/patrols/{patrol}/findings", headers=squad)
    assert listed.status_code == 200, listed.text
    assert [f["id"] for f in listed.json()] == [str(finding)]
    assert await _pull_all(client, squad, "findings") == {str(finding)}
    assert (await client.get(f"{API}/patrols/{patrol}", headers=squad)).status_code == 403
    assert (await client.get(f"{API}/patrols/{patrol}/track", headers=squad)).status_code == 403

    # the joint officer's phone holds the patrol he went on; another inspector's does not
    assert str(patrol) in await _pull_all(client, police, "patrols")
    assert str(patrol) not in await _pull_all(client, squad, "patrols")
