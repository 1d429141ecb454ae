"""Need-to-know through every path: what REST shows each role is exactly what sync pulls.

One county, two areas, three patrols (one with a joint-team companion), findings, plans,
targets, two mine sites and three satellite tasks (one per area, one given to an inspector
outside both). For every role (inspector on and off an area, area leader,
captain, admin, joint-team member on and off a patrol, security squad) the test collects the
records the REST lists and single reads show (the county's findings for review agreeing with
each patrol's), asserts the rule of ``patrol.policy`` on them, and asserts a fresh sync pull
of the same user holds exactly the same records.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence import RosterMemberInput, SiteInput, create_mine_site, set_roster_member
from infra.ids import uuid7
from infra.scope import Principal, Role
from patrol import CONSTRUCTION_STATUSES, AreaService, PatrolService, PlanService
from patrol.accounts import principal_of
from patrol.models import User
from tests import clock
from tests.api.test_evidence_api import LAT, LON
from tests.conftest import CountyFixture, add_user
from tests.satellite_tasks.seed import seed_task
from tests.sync.conftest import Phone

Client = AsyncTestClient[Litestar]
API = "/api/v1"
KINDS = ("areas", "targets", "plans", "patrols", "findings", "mineSites", "satelliteTasks")


def _square(lon: float, lat: float, half: float) -> dict[str, Any]:
    return dict(
        shapely.geometry.mapping(shapely.box(lon - half, lat - half, lon + half, lat + half))
    )


@dataclass
class Walk:
    county: CountyFixture
    people: dict[str, Principal]
    phones: dict[str, str]
    records: dict[str, dict[str, str]]  # kind -> name -> id

    def headers(self, who: str) -> dict[str, str]:
        token = self.county.tokens.access_token(self.people[who])
        return {"Authorization": f"Bearer {token}"}

    def names(self, kind: str, ids: set[str]) -> set[str]:
        by_id = {v: k for k, v in self.records[kind].items()}
        return {by_id[i] for i in ids}

    def id(self, kind: str, name: str) -> str:
        return self.records[kind][name]


async def _user(session: AsyncSession, county: CountyFixture, role: Role, name: str) -> Principal:
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    return principal_of(await add_user(session, county.id, role, name, phone=phone))


async def _build(county: CountyFixture, factory: async_sessionmaker[AsyncSession]) -> Walk:
    now = clock.now()
    month = now.date().replace(day=1)
    records: dict[str, dict[str, str]] = {k: {} for k in KINDS}
    async with factory() as session:
        people = {
            "captain": county.principal(Role.CAPTAIN),
            "admin": county.principal(Role.ADMIN),
            "squad": county.principal(Role.SECURITY_SQUAD),
            "desk": county.principal(Role.CLUE_DESK),
            "procuratorate": county.principal(Role.PROCURATORATE),
            "joint_on": county.principal(Role.JOINT_TEAM),
            "joint_off": await _user(session, county, Role.JOINT_TEAM, "joint-off"),
            "leader": await _user(session, county, Role.INSPECTOR, "leader"),
            "on_area": await _user(session, county, Role.INSPECTOR, "on-area"),
            "mate": await _user(session, county, Role.INSPECTOR, "mate"),
            "east": await _user(session, county, Role.INSPECTOR, "east"),
            "off_area": await _user(session, county, Role.INSPECTOR, "off-area"),
        }
        captain = people["captain"]
        areas = AreaService(session)
        north = await areas.create_area(
            captain,
            code="N1",
            name="北片",
            grade=1,
            geometry=_square(112.05, 28.5, 0.04),
            leader_id=people["leader"].user_id,
            member_ids=[people["on_area"].user_id, people["mate"].user_id],
        )
        east = await areas.create_area(
            captain,
            code="E1",
            name="东片",
            grade=2,
            geometry=_square(112.15, 28.5, 0.04),
            leader_id=captain.user_id,
            member_ids=[people["east"].user_id],
        )
        records["areas"] = {"north": str(north.id), "east": str(east.id)}
        for name, area, lon in (("t_north", north, 112.05), ("t_east", east, 112.15)):
            target = await areas.add_target(
                captain, area.id, kind="custom", name=name, lon=lon, lat=28.5
            )
            records["targets"][name] = str(target.id)
        plans = PlanService(session)
        for name, area in (("p_north", north), ("p_east", east)):
            view = await plans.upsert_plan(captain, area.id, month, quota=5, min_per_week=1)
            records["plans"][name] = str(view.plan_id)
        sites = {}
        for code, lon in (("S1", 112.05), ("S2", 112.15)):
            site = await create_mine_site(
                session,
                captain,
                SiteInput(code=code, name=code, geometry=shapely.Point(lon, 28.51)),
            )
            sites[code] = site.id
            records["mineSites"][code] = str(site.id)
        await set_roster_member(
            session,
            captain,
            sites["S1"],
            RosterMemberInput(role="village_cadre", user_id=people["on_area"].user_id),
        )
        svc = PatrolService(session)
        crews = (
            ("pat_on", "on_area", north, 112.05, ["joint_on"]),
            ("pat_mate", "mate", north, 112.05, []),
            ("pat_east", "east", east, 112.15, []),
        )
        for name, who, area, lon, companions in crews:
            patrol = await svc.start_patrol(
                people[who],
                uuid7(),
                area_id=area.id,
                started_at=now - timedelta(hours=2),
                companion_ids=[people[c].user_id for c in companions],
            )
            records["patrols"][name] = str(patrol.id)
            finding = await svc.record_finding(
                people[who],
                patrol.id,
                uuid7(),
                found_at=now - timedelta(hours=1),
                project_name=f"finding of {name}",
                construction_status=CONSTRUCTION_STATUSES[0],
                lon=lon,
                lat=28.49,
                note="reporter and place",
            )
            records["findings"][f"f_{name}"] = str(finding.id)
        await session.commit()
        phones: dict[str, str] = {}
        for name, area_id, inspector, lon in (
            ("sat_north", north.id, None, 112.05),
            ("sat_east", east.id, None, 112.15),
            ("sat_given", None, people["off_area"].user_id, 112.3),
        ):
            seeded = await seed_task(
                factory, county.id, lon=lon, lat=28.48, captain_id=captain.user_id,
                inspector_id=inspector, area_id=area_id,
            )  # fmt: skip
            records["satelliteTasks"][name] = seeded["task_id"]
        for key, principal in people.items():
            row = await session.get(User, principal.user_id)
            if row is not None and row.phone:
                phones[key] = row.phone
    return Walk(county, people, phones, records)


async def _ok_or_refused(resp: Any) -> bool:
    assert resp.status_code in {200, 403, 404}, resp.text
    return bool(resp.status_code == 200)


async def _satellite_view(client: Client, walk: Walk, who: str) -> set[str]:
    """The satellite tasks ``who`` lists; single reads agree; roles without a part are
    refused the list (``role_not_allowed``) and read none."""
    h = walk.headers(who)
    seen: set[str] = set()
    tasks = await client.get(f"{API}/satellite/tasks", params={"limit": 1000}, headers=h)
    if await _ok_or_refused(tasks):
        seen = {t["id"] for t in tasks.json()["items"]}
    else:
        assert tasks.json()["code"] == "role_not_allowed", (who, tasks.text)
    for task_id in walk.records["satelliteTasks"].values():
        got = await client.get(f"{API}/satellite/tasks/{task_id}", headers=h)
        assert await _ok_or_refused(got) == (task_id in seen), (who, task_id)
    return seen


async def _rest_view(client: Client, walk: Walk, who: str) -> dict[str, set[str]]:
    """What the REST lists and reads show ``who``; lists and single reads must agree."""
    h = walk.headers(who)
    month = clock.this_month().strftime("%Y-%m")
    seen: dict[str, set[str]] = {k: set() for k in KINDS}

    listed = await client.get(f"{API}/areas", headers=h)
    assert listed.status_code == 200, listed.text
    seen["areas"] = {a["id"] for a in listed.json()}
    for area_id in walk.records["areas"].values():
        readable = await _ok_or_refused(await client.get(f"{API}/areas/{area_id}", headers=h))
        assert readable == (area_id in seen["areas"]), (who, area_id)
        targets = await client.get(f"{API}/areas/{area_id}/targets", headers=h)
        if await _ok_or_refused(targets):
            seen["targets"] |= {t["id"] for t in targets.json()}
        else:
            assert targets.json()["code"] == "not_area_member"

    for path in ("/plans", "/plans/mine"):
        resp = await client.get(f"{API}{path}", params={"month": month}, headers=h)
        assert resp.status_code == 200, resp.text
        seen["plans"] |= {p["planId"] for p in resp.json() if p["planId"]}
    for area_id in walk.records["areas"].values():
        plan = await client.get(f"{API}/areas/{area_id}/plans/{month}", headers=h)
        if await _ok_or_refused(plan):
            assert plan.json()["planId"] in seen["plans"], (who, area_id)

    listed = await client.get(f"{API}/patrols", headers=h)
    assert listed.status_code == 200, listed.text
    seen["patrols"] = {p["id"] for p in listed.json()}
    for patrol_id in walk.records["patrols"].values():
        readable = patrol_id in seen["patrols"]
        got = await client.get(f"{API}/patrols/{patrol_id}", headers=h)
        findings = await client.get(f"{API}/patrols/{patrol_id}/findings", headers=h)
        track = await client.get(f"{API}/patrols/{patrol_id}/track", headers=h)
        for resp in (got, track):
            assert await _ok_or_refused(resp) == readable, (who, patrol_id, resp.text)
            if not readable:
                assert resp.json()["code"] == "not_patrol_owner"
        # the findings of a patrol the caller reads; of another, those of the caller's own
        # view (the squad's), refused when there are none
        if await _ok_or_refused(findings):
            listed_findings = {f["id"] for f in findings.json()}
            assert readable or listed_findings, (who, patrol_id)
            seen["findings"] |= listed_findings
        else:
            assert not readable, (who, patrol_id, findings.text)
            assert findings.json()["code"] == "not_patrol_owner"

    # the county's findings for review: the same findings, under the same rule
    county = await client.get(f"{API}/findings", params={"limit": 200}, headers=h)
    assert county.status_code == 200, county.text
    assert {f["id"] for f in county.json()["items"]} == seen["findings"], who

    seen["satelliteTasks"] = await _satellite_view(client, walk, who)
    listed = await client.get(f"{API}/geofence/mine-sites", headers=h)
    assert listed.status_code == 200, listed.text
    seen["mineSites"] = {s["id"] for s in listed.json()}
    for site_id in walk.records["mineSites"].values():
        got = await client.get(f"{API}/geofence/mine-sites/{site_id}", headers=h)
        assert await _ok_or_refused(got) == (site_id in seen["mineSites"]), (who, site_id)
    return seen


# role -> the records (by name) the policy lets it read
EXPECTED: dict[str, dict[str, set[str]]] = {
    "captain": {
        "areas": {"north", "east"},
        "targets": {"t_north", "t_east"},
        "plans": {"p_north", "p_east"},
        "patrols": {"pat_on", "pat_mate", "pat_east"},
        "findings": {"f_pat_on", "f_pat_mate", "f_pat_east"},
        "mineSites": {"S1", "S2"},
        "satelliteTasks": {"sat_north", "sat_east", "sat_given"},
    },
    "leader": {
        "areas": {"north"},
        "targets": {"t_north"},
        "plans": {"p_north"},
        "patrols": {"pat_on", "pat_mate"},
        "findings": {"f_pat_on", "f_pat_mate"},
        "mineSites": set(),
        "satelliteTasks": {"sat_north"},
    },
    "on_area": {
        "areas": {"north"},
        "targets": {"t_north"},
        "plans": {"p_north"},
        "patrols": {"pat_on"},
        "findings": {"f_pat_on"},
        "mineSites": {"S1"},
        "satelliteTasks": {"sat_north"},
    },
    "off_area": {**{k: set() for k in KINDS}, "satelliteTasks": {"sat_given"}},
    "joint_on": {**{k: set() for k in KINDS}, "patrols": {"pat_on"}, "findings": {"f_pat_on"}},
    "joint_off": {k: set() for k in KINDS},
    "squad": {k: set() for k in KINDS},
}
EXPECTED["admin"] = EXPECTED["captain"]


async def test_rest_and_sync_show_each_role_the_same_records(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    walk = await _build(await make_county(), session_factory)
    for who, expected in EXPECTED.items():
        rest = await _rest_view(client, walk, who)
        assert {k: walk.names(k, v) for k, v in rest.items()} == expected, who
        phone = Phone(client, walk.headers(who))
        await phone.sync()
        pulled = {k: phone.ids(k) for k in KINDS}
        # records of other tests' counties never appear; the same set, record for record
        assert pulled == rest, who

    # revocation: the leader hands the area over; his phone deletes its patrols and findings
    leader = Phone(client, walk.headers("leader"))
    await leader.sync()
    assert walk.names("patrols", leader.ids("patrols")) == {"pat_on", "pat_mate"}
    async with session_factory() as session:
        await AreaService(session).update_area(
            walk.people["captain"],
            uuid.UUID(walk.id("areas", "north")),
            leader_id=walk.people["captain"].user_id,
        )
        await session.commit()
    await leader.sync()
    assert leader.ids("patrols") == leader.ids("findings") == leader.ids("areas") == set()
    # the month's plan still names him among its inspectors, so it stays (PLAN_READ)
    north_plan = {walk.id("plans", "p_north")}
    assert leader.ids("plans") == north_plan
    after = await _rest_view(client, walk, "leader")
    assert after == {**{k: set() for k in KINDS}, "plans": north_plan}


async def test_the_procuratorate_reads_no_field_record_by_any_path(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """An allowlisted role (api/guards.py) gets none of the walk's records: every REST list
    and read of them, and the sync pull, answer ``role_not_allowed``."""
    walk = await _build(await make_county(), session_factory)
    h = walk.headers("procuratorate")
    month = clock.this_month().strftime("%Y-%m")
    paths = ["/areas", "/patrols", "/geofence/mine-sites", f"/plans?month={month}", "/admin/users"]
    for area_id in walk.records["areas"].values():
        paths += [
            f"/areas/{area_id}",
            f"/areas/{area_id}/targets",
            f"/areas/{area_id}/plans/{month}",
        ]
    for patrol_id in walk.records["patrols"].values():
        paths += [f"/patrols/{patrol_id}", f"/patrols/{patrol_id}/findings"]
        paths.append(f"/patrols/{patrol_id}/track")
    for site_id in walk.records["mineSites"].values():
        paths.append(f"/geofence/mine-sites/{site_id}")
    for path in paths:
        resp = await client.get(f"{API}{path}", headers=h)
        assert (resp.status_code, resp.json()["code"]) == (403, "role_not_allowed"), path
    pull = await client.post(f"{API}/sync/pull", json={"cursor": None}, headers=h)
    assert (pull.status_code, pull.json()["code"]) == (403, "role_not_allowed")


async def test_track_and_findings_refused_to_a_non_crew_inspector(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    walk = await _build(await make_county(), session_factory)
    patrol_id = walk.id("patrols", "pat_mate")
    for who in ("on_area", "off_area", "joint_on", "squad"):
        h = walk.headers(who)
        for path in ("", "/track", "/findings"):
            resp = await client.get(f"{API}/patrols/{patrol_id}{path}", headers=h)
            assert resp.status_code == 403, (who, path, resp.text)
            assert resp.json()["code"] == "not_patrol_owner"
    for who in ("mate", "leader", "captain"):
        resp = await client.get(f"{API}/patrols/{patrol_id}/track", headers=walk.headers(who))
        assert resp.status_code == 200, (who, resp.text)


async def test_directory_shows_colleagues_and_phones_to_patrol_companions(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    walk = await _build(await make_county(), session_factory)
    everyone = set(walk.people) | {"inspector"}  # make_county's own inspector
    # who sees whom, and whose phone
    expected: dict[str, tuple[set[str], set[str]]] = {
        "on_area": ({"on_area", "leader", "mate", "joint_on"}, {"on_area", "joint_on"}),
        "joint_on": ({"joint_on", "on_area"}, {"joint_on", "on_area"}),
        "mate": ({"mate", "leader", "on_area"}, {"mate"}),
        "east": ({"east", "captain"}, {"east"}),
        "off_area": ({"off_area"}, {"off_area"}),
        "joint_off": ({"joint_off"}, {"joint_off"}),
        "squad": ({"squad"}, {"squad"}),
        "desk": ({"desk"}, {"desk"}),
    }
    by_id = {str(p.user_id): k for k, p in walk.people.items()}
    for who, (visible, with_phone) in expected.items():
        h = walk.headers(who)
        resp = await client.get(f"{API}/admin/users", headers=h)
        assert resp.status_code == 200, resp.text
        listed = {by_id[u["id"]]: u for u in resp.json()}
        assert set(listed) == visible, who
        assert {k for k, u in listed.items() if u["phone"]} == with_phone & set(walk.phones), who
        for other, p in walk.people.items():
            got = await client.get(f"{API}/admin/users/{p.user_id}", headers=h)
            if other in visible:
                assert got.status_code == 200, (who, other)
                assert got.json()["phone"] == (
                    walk.phones.get(other) if other in with_phone else None
                ), (who, other)
            else:
                assert got.status_code == 404 and got.json()["code"] == "user_not_found"
    for manager in ("captain", "admin"):
        resp = await client.get(f"{API}/admin/users", headers=walk.headers(manager))
        rows = resp.json()
        assert len(rows) == len(everyone)
        assert {by_id[u["id"]] for u in rows if u["id"] in by_id and u["phone"]} == set(walk.phones)
    # roster report: managers only
    for who, status in (("on_area", 403), ("leader", 403), ("squad", 403), ("captain", 200)):
        resp = await client.get(f"{API}/geofence/roster-report", headers=walk.headers(who))
        assert resp.status_code == status, (who, resp.text)


async def test_the_squad_reads_the_findings_of_its_view_in_rest_and_sync(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    walk = await _build(await make_county(), session_factory)
    async with session_factory() as session:  # a second finding on the mate's patrol
        second = await PatrolService(session).record_finding(
            walk.people["mate"],
            uuid.UUID(walk.id("patrols", "pat_mate")),
            uuid7(),
            found_at=clock.now() - timedelta(minutes=30),
            project_name="second finding of pat_mate",
            construction_status=CONSTRUCTION_STATUSES[0],
            lon=112.05,
            lat=28.49,
        )
        await session.commit()
    walk.records["findings"]["f_pat_mate_2"] = str(second.id)
    nothing = {k: set[str]() for k in KINDS}
    squad = Phone(client, walk.headers("squad"))
    await squad.sync()
    assert await _rest_view(client, walk, "squad") == nothing
    assert {k: squad.ids(k) for k in KINDS} == nothing

    # a captain flags one finding of the mate's patrol; a case opened from the east patrol's
    # finding crosses the ore-value threshold and carries a screening suggestion
    captain = walk.headers("captain")
    flag = await client.post(
        f"{API}/referral-flags",
        json={"findingId": walk.id("findings", "f_pat_mate"), "reason": "疑似非法占用耕地"},
        headers=captain,
    )
    assert flag.status_code == 201, flag.text
    case = await client.post(
        f"{API}/cases",
        json={
            "cause": "非法采矿",
            "violationKind": "illegal_mining",
            "lon": LON,
            "lat": LAT,
            "sourceKind": "finding",
            "sourceId": walk.id("findings", "f_pat_east"),
            "oreValueYuan": "180000.00",
        },
        headers=captain,
    )
    assert case.status_code == 201, case.text
    assert [s["ruleCode"] for s in case.json()["suggestions"]] == ["343.ore_value"]

    # the same phone pulls on: the flag and the suggestion bring exactly REST's findings
    await squad.sync()
    rest = await _rest_view(client, walk, "squad")
    assert {k: walk.names(k, v) for k, v in rest.items()} == {
        **nothing,
        "findings": {"f_pat_mate", "f_pat_east"},
    }
    assert {k: squad.ids(k) for k in KINDS} == rest
    h = walk.headers("squad")
    listed = await client.get(f"{API}/patrols/{walk.id('patrols', 'pat_mate')}/findings", headers=h)
    assert listed.status_code == 200, listed.text
    assert [f["id"] for f in listed.json()] == [walk.id("findings", "f_pat_mate")]
    # the patrols themselves (crew, route) stay refused, and so do patrols without such findings
    for name in ("pat_mate", "pat_east"):
        for path in ("", "/track"):
            resp = await client.get(f"{API}/patrols/{walk.id('patrols', name)}{path}", headers=h)
            assert resp.status_code == 403, (name, path, resp.text)
            assert resp.json()["code"] == "not_patrol_owner"
    resp = await client.get(f"{API}/patrols/{walk.id('patrols', 'pat_on')}/findings", headers=h)
    assert resp.status_code == 403 and resp.json()["code"] == "not_patrol_owner"
    # everyone else's view is unchanged by the squad's branch
    for who in ("on_area", "joint_on", "off_area", "leader"):
        view = await _rest_view(client, walk, who)
        expected = set(EXPECTED[who]["findings"])
        if "pat_mate" in EXPECTED[who]["patrols"]:
            expected.add("f_pat_mate_2")
        assert walk.names("findings", view["findings"]) == expected, who


def test_the_sync_findings_scope_carries_the_squads_branch_whatever_the_import_order() -> None:
    # sync.collections builds its SQL at import time from patrol.policy's finding rule; the
    # squad's branch is registered by evidence.cases.access, which must come first in every order
    for first in ("sync.collections", "patrol.policy", "patrol", "api.app", "sync"):
        code = (
            f"import {first}\n"
            "from sync.collections import COLLECTIONS\n"
            "[findings] = [c for c in COLLECTIONS if c.name == 'findings']\n"
            "assert \"role = 'security_squad'\" in findings.diff_sql, findings.diff_sql\n"
            "assert {'referral_flags', 'referral_suggestions'} <= set(findings.tables)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, (first, done.stderr[-2000:])
