"""Case teams, joint teams on patrols, evidence references, and the squad's view.

Through the real app against PostGIS and S3: who may write evidence to which patrol or case,
who sees it, references of another county or out of scope (one answer, no oracle), and the
security squad before and after a screening suggestion (REST and sync pull show the same).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Role
from patrol.areas import AreaService
from patrol.sessions import PatrolService
from tests import clock
from tests.api.test_evidence_api import LAT, LON, _declaration, _photo, _upload
from tests.conftest import CountyFixture

Client = AsyncTestClient[Any]

_AREA = {
    "type": "Polygon",
    "coordinates": [[[112.08, 28.48], [112.12, 28.48], [112.12, 28.52], [112.08, 28.52],
                     [112.08, 28.48]]],
}  # fmt: skip


async def _patrols(
    county: CountyFixture, factory: async_sessionmaker[AsyncSession]
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Two patrols of the inspector: the first with the joint member along, the second
    without; and a finding on the second."""
    inspector = county.principal(Role.INSPECTOR)
    now = clock.now()
    async with factory() as session:
        area = await AreaService(session).create_area(
            county.principal(Role.CAPTAIN), code="T01", name="一片区", grade=1,
            geometry=_AREA, leader_id=inspector.user_id,
        )  # fmt: skip
        patrols = PatrolService(session)
        joint = await patrols.start_patrol(
            inspector, uuid7(), area_id=area.id, started_at=now - timedelta(hours=2),
            companion_ids=[county.users[Role.JOINT_TEAM].id],
        )  # fmt: skip
        alone = await patrols.start_patrol(
            inspector, uuid7(), area_id=area.id, started_at=now - timedelta(hours=1)
        )
        finding = await patrols.record_finding(
            inspector, alone.id, uuid7(), found_at=now - timedelta(minutes=30),
            project_name="砂场", construction_status="levelled", lon=LON, lat=LAT,
        )  # fmt: skip
        await session.commit()
    return joint.id, alone.id, finding.id


async def _open_case(client: Client, county: CountyFixture, **extra: Any) -> dict[str, Any]:
    body = {"cause": "非法采砂", "violationKind": "illegal_mining", "lon": LON, "lat": LAT}
    resp = await client.post(
        "/api/v1/cases", json={**body, **extra}, headers=county.headers(Role.CAPTAIN)
    )
    assert resp.status_code == 201, resp.text
    case: dict[str, Any] = resp.json()
    return case


async def _create(client: Client, county: CountyFixture, role: Role, **refs: Any) -> Any:
    body = _declaration(_photo(), **{k: str(v) for k, v in refs.items()})
    return await client.post(
        f"/api/v1/evidence/uploads/{uuid7()}", json=body, headers=county.headers(role)
    )


async def _evidence_ids(client: Client, county: CountyFixture, role: Role) -> set[str]:
    resp = await client.get("/api/v1/evidence?limit=200", headers=county.headers(role))
    assert resp.status_code == 200, resp.text
    return {e["id"] for e in resp.json()["items"]}


async def test_joint_members_write_and_read_only_their_patrols_and_cases(
    client: Client, make_county: Any, session_factory: Any
) -> None:
    county: CountyFixture = await make_county()
    on_patrol, off_patrol, _ = await _patrols(county, session_factory)
    assigned = await _open_case(client, county)
    unassigned = await _open_case(client, county)
    joint = str(county.users[Role.JOINT_TEAM].id)
    inspector = str(county.users[Role.INSPECTOR].id)

    # only captains assign teams; the answer is the case with its team
    members = [
        {"userId": inspector, "roleInTeam": "lead"},
        {"userId": joint, "roleInTeam": "joint"},
    ]
    url = f"/api/v1/cases/{assigned['id']}/team"
    refused = await client.put(
        url, json={"members": members}, headers=county.headers(Role.INSPECTOR)
    )
    assert refused.status_code == 403
    bad = await client.put(
        url,
        json={"members": [{"userId": joint, "roleInTeam": "lead"}]},
        headers=county.headers(Role.CAPTAIN),
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_team"
    team = await client.put(url, json={"members": members}, headers=county.headers(Role.CAPTAIN))
    assert team.status_code == 200, team.text
    assert {(m["userId"], m["roleInTeam"]) for m in team.json()["team"]} == {
        (inspector, "lead"),
        (joint, "joint"),
    }

    # writes: the patrol he accompanies and the case he is on; nothing else
    for refs, status in (
        ({"patrolId": on_patrol}, 200),
        ({"caseId": assigned["id"]}, 200),
        ({"patrolId": off_patrol}, 422),
        ({"caseId": unassigned["id"]}, 422),
    ):
        resp = await _create(client, county, Role.JOINT_TEAM, **refs)
        assert resp.status_code == status, (refs, resp.text)
        if status == 422:
            assert resp.json()["code"] == "reference_not_found"

    # reads: on the joint patrol the inspector and the joint member see each other's evidence
    by_joint = await _upload(client, county, Role.JOINT_TEAM, _photo(), patrolId=str(on_patrol))
    by_inspector = await _upload(client, county, Role.INSPECTOR, _photo(), patrolId=str(on_patrol))
    on_case = await _upload(client, county, Role.CAPTAIN, _photo(), caseId=assigned["id"])
    off_case = await _upload(client, county, Role.CAPTAIN, _photo(), caseId=unassigned["id"])
    alone = await _upload(client, county, Role.INSPECTOR, _photo(), patrolId=str(off_patrol))
    seen_by_joint = await _evidence_ids(client, county, Role.JOINT_TEAM)
    assert {by_joint["id"], by_inspector["id"], on_case["id"]} <= seen_by_joint
    assert not {off_case["id"], alone["id"]} & seen_by_joint
    seen_by_inspector = await _evidence_ids(client, county, Role.INSPECTOR)
    assert {by_joint["id"], by_inspector["id"], alone["id"], on_case["id"]} <= seen_by_inspector
    assert off_case["id"] not in seen_by_inspector
    one = await client.get(
        f"/api/v1/evidence/{by_inspector['id']}", headers=county.headers(Role.JOINT_TEAM)
    )
    assert one.status_code == 200
    hidden = await client.get(
        f"/api/v1/evidence/{off_case['id']}", headers=county.headers(Role.JOINT_TEAM)
    )
    assert hidden.status_code == 404

    # the case itself: the team sees it, others do not
    assert (
        await client.get(f"/api/v1/cases/{assigned['id']}", headers=county.headers(Role.JOINT_TEAM))
    ).status_code == 200
    assert (
        await client.get(
            f"/api/v1/cases/{unassigned['id']}", headers=county.headers(Role.JOINT_TEAM)
        )
    ).status_code == 404


async def test_references_elsewhere_answer_like_nothing(
    client: Client, make_county: Any, session_factory: Any
) -> None:
    county: CountyFixture = await make_county()
    other: CountyFixture = await make_county()
    theirs_patrol, _, theirs_finding = await _patrols(other, session_factory)
    theirs_case = await _open_case(client, other)
    answers = []
    for refs in (
        {"caseId": theirs_case["id"]},
        {"caseId": uuid7()},
        {"patrolId": theirs_patrol},
        {"patrolId": uuid7()},
        {"findingId": theirs_finding},
        {"findingId": uuid7()},
        {"mineSiteId": uuid7()},
    ):
        resp = await _create(client, county, Role.CAPTAIN, **refs)
        assert resp.status_code == 422, resp.text
        body = resp.json()
        answers.append((body["code"], body["detail"]))
    # the same answer for another county's record and for no record at all, per field
    assert all(code == "reference_not_found" for code, _ in answers)
    assert answers[0] == answers[1] and answers[2] == answers[3] and answers[4] == answers[5]

    # an evidence id of another county answers like one taken in the caller's own county
    theirs = await _upload(client, other, Role.INSPECTOR, _photo())
    mine = await _upload(client, county, Role.INSPECTOR, _photo())
    replies = []
    for taken in (theirs["id"], mine["id"]):
        resp = await client.post(
            f"/api/v1/evidence/uploads/{taken}",
            json=_declaration(_photo(lon=LON + 0.002)),
            headers=county.headers(Role.CAPTAIN),
        )
        body = resp.json()
        replies.append((resp.status_code, body["code"], body["detail"]))
    assert replies[0] == replies[1] == (409, "evidence_id_conflict", replies[0][2])


async def _sync_case_ids(client: Client, headers: dict[str, str]) -> set[str]:
    cursor, store = None, set()
    while True:
        resp = await client.post(
            "/api/v1/sync/pull", json={"cursor": cursor, "limit": 2000}, headers=headers
        )
        assert resp.status_code == 200, resp.text
        page = resp.json()
        if page["reset"]:
            store = set()
        changes = page["changes"].get("cases", {"upserts": [], "deletes": []})
        store -= set(changes["deletes"])
        store |= {r["id"] for r in changes["upserts"]}
        cursor = page["cursor"]
        if not page["hasMore"]:
            return store


async def _rest_case_ids(client: Client, headers: dict[str, str]) -> set[str]:
    resp = await client.get("/api/v1/cases?limit=500", headers=headers)
    assert resp.status_code == 200, resp.text
    return {c["id"] for c in resp.json()}


async def test_the_squad_sees_suggested_cases_read_only_and_flags_only_what_it_reads(
    client: Client, make_county: Any, session_factory: Any
) -> None:
    county: CountyFixture = await make_county()
    _, _, finding = await _patrols(county, session_factory)
    squad, captain = county.headers(Role.SECURITY_SQUAD), county.headers(Role.CAPTAIN)
    case = await _open_case(client, county)
    plain = await _open_case(client, county, cause="其他")
    assert case["suggestions"] == []

    # before screening: nothing, in REST and in sync alike; flags of unseen things refused
    assert await _rest_case_ids(client, squad) == set() == await _sync_case_ids(client, squad)
    for subject in ({"caseId": case["id"]}, {"findingId": str(finding)}):
        resp = await client.post(
            "/api/v1/referral-flags", json={**subject, "reason": "x"}, headers=squad
        )
        assert resp.status_code == 404, resp.text
        assert resp.json()["code"] in {"case_not_found", "finding_not_found"}

    # the ore value crosses the threshold: a suggestion, an alert for the captain and squad
    resp = await client.patch(
        f"/api/v1/cases/{case['id']}", json={"oreValueYuan": "180000.00"}, headers=captain
    )
    assert resp.status_code == 200, resp.text
    assert [s["ruleCode"] for s in resp.json()["suggestions"]] == ["343.ore_value"]
    for headers in (captain, squad):
        alerts = await client.get("/api/v1/alerts?kind=referral_suggested", headers=headers)
        assert alerts.status_code == 200, alerts.text
        [alert] = alerts.json()
        assert case["caseNo"] in alert["message"]

    # after: the squad sees it (REST = sync), read-only until flagged; then it may flag it
    assert await _rest_case_ids(client, squad) == {case["id"]}
    assert await _sync_case_ids(client, squad) == {case["id"]}
    assert plain["id"] not in await _rest_case_ids(client, squad)
    change = await client.patch(f"/api/v1/cases/{case['id']}", json={"cause": "x"}, headers=squad)
    assert change.status_code == 403
    flag = await client.post(
        "/api/v1/referral-flags", json={"caseId": case["id"], "reason": "x"}, headers=squad
    )
    assert flag.status_code == 201, flag.text
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=squad)).json()["flagged"]


async def test_a_case_team_finds_each_other_in_the_directory(
    client: Client, make_county: Any, session_factory: Any
) -> None:
    county: CountyFixture = await make_county()
    inspector = county.users[Role.INSPECTOR]
    squad = county.users[Role.SECURITY_SQUAD]
    async with session_factory() as session:
        for user, phone in ((inspector, "13900000001"), (squad, "13900000002")):
            row = await session.get(type(user), user.id)
            row.phone = phone
        await session.commit()

    async def directory(role: Role) -> dict[str, Any]:
        resp = await client.get("/api/v1/admin/users", headers=county.headers(role))
        assert resp.status_code == 200, resp.text
        return {u["id"]: u.get("phone") for u in resp.json()}

    # no shared area, patrol or case: the squad officer and the inspector do not see each other
    assert str(inspector.id) not in await directory(Role.SECURITY_SQUAD)
    assert str(squad.id) not in await directory(Role.INSPECTOR)
    case = await _open_case(client, county)
    members = [
        {"userId": str(inspector.id), "roleInTeam": "lead"},
        {"userId": str(squad.id), "roleInTeam": "member"},
    ]
    team = await client.put(
        f"/api/v1/cases/{case['id']}/team",
        json={"members": members},
        headers=county.headers(Role.CAPTAIN),
    )
    assert team.status_code == 200, team.text
    # on one case's team they work together: each finds the other, with the phone number
    assert (await directory(Role.SECURITY_SQUAD)).get(str(inspector.id)) == "13900000001"
    assert (await directory(Role.INSPECTOR)).get(str(squad.id)) == "13900000002"
    # the joint-team member, on no team, still sees neither
    assert not {str(inspector.id), str(squad.id)} & set(await directory(Role.JOINT_TEAM))


async def test_joint_members_read_a_partys_id_number_masked(
    client: Client, make_county: Any
) -> None:
    """Police and land officers on the joint team read the case, but a party's ID number or
    credit code only to its last four characters; the brigade reads it whole."""
    county: CountyFixture = await make_county()
    id_no = "430102199001011234"
    case = await _open_case(
        client, county, parties=[{"name": "张三", "kind": "person", "idNo": id_no}]
    )
    joint = str(county.users[Role.JOINT_TEAM].id)
    team = await client.put(
        f"/api/v1/cases/{case['id']}/team",
        json={"members": [{"userId": joint, "roleInTeam": "joint"}]},
        headers=county.headers(Role.CAPTAIN),
    )
    assert team.status_code == 200, team.text
    seen: dict[Role, list[str]] = {}
    for role in (Role.CAPTAIN, Role.JOINT_TEAM):
        one = await client.get(f"/api/v1/cases/{case['id']}", headers=county.headers(role))
        listed = await client.get("/api/v1/cases", headers=county.headers(role))
        assert one.status_code == 200 and listed.status_code == 200, (one.text, listed.text)
        [row] = [c for c in listed.json() if c["id"] == case["id"]]
        seen[role] = [one.json()["parties"][0]["idNo"], row["parties"][0]["idNo"]]
        if role is Role.JOINT_TEAM:
            assert id_no not in one.text + listed.text
    assert seen[Role.CAPTAIN] == [id_no, id_no]
    assert seen[Role.JOINT_TEAM] == ["*" * 14 + "1234"] * 2
