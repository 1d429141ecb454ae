"""The answers people read on a good day, for operations other tests reach mostly through
their errors: one user, area, plan, site, township and village; a village renamed; duty
checks recorded and listed; an alert acknowledged; a referral rule added; a reconsideration
asked; a target retired."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from infra.scope import Role
from tests import clock
from tests.cases.rest import MATERIALS, Rest
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
API = "/api/v1"


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


async def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def test_one_user_as_admin_and_as_a_colleague(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    inspector = county.users[Role.INSPECTOR]
    path = f"{API}/admin/users/{inspector.id}"
    user = await _ok(await client.get(path, headers=county.headers(Role.ADMIN)))
    assert user["id"] == str(inspector.id)
    assert (user["username"], user["displayName"]) == (inspector.username, inspector.display_name)
    assert (user["role"], user["active"]) == ("inspector", True)
    assert datetime.fromisoformat(user["createdAt"]) <= clock.now()
    # a captain reads the same account
    same = await _ok(await client.get(path, headers=county.headers(Role.CAPTAIN)))
    assert (same["id"], same["displayName"]) == (user["id"], user["displayName"])


async def test_one_township_and_village_then_the_village_renamed_and_redrawn(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    admin, me = county.headers(Role.ADMIN), county.headers(Role.INSPECTOR)
    town = await _ok(
        await client.post(
            f"{API}/townships",
            json={"code": "T01", "name": "东山镇", "kind": "town",
                  "geometry": _box(112.0, 28.4, 112.1, 28.5)},
            headers=admin,
        ),
        201,
    )  # fmt: skip
    village = await _ok(
        await client.post(
            f"{API}/villages",
            json={"townshipId": town["id"], "code": "T01001", "name": "和平村",
                  "geometry": _box(112.0, 28.4, 112.05, 28.45)},
            headers=admin,
        ),
        201,
    )  # fmt: skip
    got = await _ok(await client.get(f"{API}/townships/{town['id']}", headers=me))
    assert (got["id"], got["code"], got["name"], got["kind"]) == (
        town["id"],
        "T01",
        "东山镇",
        "town",
    )
    assert got["geometry"]["type"] == "MultiPolygon"
    got = await _ok(await client.get(f"{API}/villages/{village['id']}", headers=me))
    assert (got["townshipId"], got["code"], got["name"]) == (town["id"], "T01001", "和平村")

    renamed = await _ok(
        await client.patch(
            f"{API}/villages/{village['id']}",
            json={"name": "和平社区", "geometry": _box(112.0, 28.4, 112.02, 28.42)},
            headers=admin,
        )
    )
    assert (renamed["id"], renamed["code"], renamed["name"]) == (
        village["id"],
        "T01001",
        "和平社区",
    )
    [ring] = renamed["geometry"]["coordinates"][0]
    assert {round(x, 6) for x, _ in ring} == {112.0, 112.02}
    # what everyone reads afterwards is the new name
    again = await _ok(await client.get(f"{API}/villages/{village['id']}", headers=me))
    assert again["name"] == "和平社区"


async def test_one_area_its_plans_and_a_target_retired(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    cap, me = county.headers(Role.CAPTAIN), county.headers(Role.INSPECTOR)
    inspector = str(county.users[Role.INSPECTOR].id)
    area = await _ok(
        await client.post(
            f"{API}/areas",
            json={"code": "A1", "name": "北片", "grade": 2, "leaderId": inspector,
                  "geometry": _box(112.05, 28.45, 112.15, 28.55)},
            headers=cap,
        ),
        201,
    )  # fmt: skip
    got = await _ok(await client.get(f"{API}/areas/{area['id']}", headers=me))
    assert (got["id"], got["code"], got["name"], got["grade"]) == (area["id"], "A1", "北片", 2)
    assert (got["leaderId"], got["active"], got["memberIds"]) == (inspector, True, [])

    targets = [
        await _ok(
            await client.post(
                f"{API}/areas/{area['id']}/targets",
                json={"kind": "custom", "name": name, "lon": lon, "lat": 28.5},
                headers=cap,
            ),
            201,
        )
        for name, lon in (("桥头", 112.1), ("河湾", 112.12))
    ]
    month = f"{clock.this_month():%Y-%m}"
    # no plan stored: the rules' default, with every active target and the area's leader
    plan = await _ok(await client.get(f"{API}/areas/{area['id']}/plans/{month}", headers=me))
    assert (plan["planId"], plan["areaId"], plan["areaCode"], plan["month"]) == (
        None, area["id"], "A1", month,
    )  # fmt: skip
    assert plan["requirement"]["source"] == "default"
    assert plan["requirement"]["minPerMonth"] == 4 and plan["requirement"]["minPerWeek"] == 1
    assert sorted(t["name"] for t in plan["targets"]) == ["桥头", "河湾"]

    retired = await client.delete(f"{API}/targets/{targets[1]['id']}", headers=cap)
    assert retired.status_code == 204, retired.text
    left = await _ok(await client.get(f"{API}/areas/{area['id']}/targets", headers=me))
    assert [t["name"] for t in left] == ["桥头"]
    plan = await _ok(await client.get(f"{API}/areas/{area['id']}/plans/{month}", headers=me))
    assert [t["name"] for t in plan["targets"]] == ["桥头"]

    # a stored plan for next month; ListPlans shows it with its numbers
    first = clock.this_month()
    later = f"{(first + timedelta(days=32)):%Y-%m}"
    stored = await _ok(
        await client.put(
            f"{API}/areas/{area['id']}/plans/{later}",
            json={"quota": 6, "minPerWeek": 2, "note": "汛期加密"},
            headers=cap,
        )
    )
    listed = await _ok(await client.get(f"{API}/plans", params={"month": later}, headers=cap))
    [mine] = [p for p in listed if p["areaId"] == area["id"]]
    assert mine["planId"] == stored["planId"] is not None
    assert (mine["month"], mine["note"], mine["requirement"]["source"]) == (
        later,
        "汛期加密",
        "plan",
    )
    assert (mine["requirement"]["minPerMonth"], mine["requirement"]["minPerWeek"]) == (6, 2)
    assert mine["inspectorIds"] == [inspector]


async def test_a_site_its_checks_and_an_alert_acknowledged(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    cap, me = county.headers(Role.CAPTAIN), county.headers(Role.INSPECTOR)
    inspector = county.users[Role.INSPECTOR]
    site = await _ok(
        await client.post(
            f"{API}/geofence/mine-sites",
            json={"code": "KS-1", "name": "吴家冲采石场", "mineral": "石灰岩",
                  "geometry": {"type": "Point", "coordinates": [112.1, 28.5]}},
            headers=cap,
        ),
        201,
    )  # fmt: skip
    await _ok(
        await client.put(
            f"{API}/geofence/mine-sites/{site['id']}/roster/village_cadre",
            json={"userId": str(inspector.id)},
            headers=cap,
        )
    )
    got = await _ok(await client.get(f"{API}/geofence/mine-sites/{site['id']}", headers=me))
    assert (got["code"], got["name"], got["mineral"], got["status"]) == (
        "KS-1", "吴家冲采石场", "石灰岩", "closed",
    )  # fmt: skip
    assert [(m["role"], m["userId"]) for m in got["roster"]] == [
        ("village_cadre", str(inspector.id))
    ]
    assert got["rosterComplete"] is False and "village_cadre" not in got["missingRoles"]

    at = clock.now() - timedelta(minutes=5)
    check_id = uuid7()
    check = await _ok(
        await client.put(
            f"{API}/duty-checks/{check_id}",
            json={"siteId": site["id"], "checkedAt": at.isoformat(),
                  "status": "signs_of_reopening", "note": "门口有新车辙", "isNight": False},
            headers=me,
        )
    )  # fmt: skip
    assert (check["id"], check["siteId"], check["status"]) == (
        str(check_id), site["id"], "signs_of_reopening",
    )  # fmt: skip
    assert (check["recordedBy"], check["note"], check["isNight"]) == (
        str(inspector.id), "门口有新车辙", False,
    )  # fmt: skip
    assert datetime.fromisoformat(check["checkedAt"]) == at
    # the same check sent again (the answer was lost) is the stored one
    replay = await client.put(
        f"{API}/duty-checks/{check_id}",
        json={"siteId": site["id"], "checkedAt": at.isoformat(), "status": "signs_of_reopening"},
        headers=me,
    )
    assert (await _ok(replay)) == check

    listed = await _ok(
        await client.get(f"{API}/duty-checks", params={"site_id": site["id"]}, headers=me)
    )
    assert [c["id"] for c in listed] == [str(check_id)]
    assert listed[0]["note"] == "门口有新车辙"

    feed = await _ok(
        await client.get(f"{API}/alerts", params={"site_id": site["id"], "kind": "site_reopening"},
                         headers=cap)
    )  # fmt: skip
    [alert] = feed
    assert alert["acknowledgedAt"] is None and alert["dutyCheckId"] == str(check_id)
    acked = await _ok(await client.post(f"{API}/alerts/{alert['id']}/acknowledge", headers=cap))
    assert acked["id"] == alert["id"]
    assert acked["acknowledgedBy"] == str(county.users[Role.CAPTAIN].id)
    assert acked["message"] == alert["message"] and "吴家冲采石场" in acked["message"]
    # the first acknowledgement is kept
    admin_ack = await _ok(
        await client.post(
            f"{API}/alerts/{alert['id']}/acknowledge", headers=county.headers(Role.ADMIN)
        )
    )
    assert (admin_ack["acknowledgedBy"], admin_ack["acknowledgedAt"]) == (
        acked["acknowledgedBy"], acked["acknowledgedAt"],
    )  # fmt: skip
    only_unseen = {"site_id": site["id"], "unacknowledged_only": True}
    unseen = await _ok(await client.get(f"{API}/alerts", params=only_unseen, headers=cap))
    assert alert["id"] not in {a["id"] for a in unseen}


async def test_an_admin_adds_a_referral_rule_that_applies_from_its_date(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    admin = county.headers(Role.ADMIN)
    code = f"test.{secrets.token_hex(4)}"
    # far in the future: it is in force for no other test's county of the same province
    starts = date(2999, 1, 1)
    body = {
        "code": code, "violationKind": "land_occupation", "crime": "非法占用农用地罪",
        "article": "刑法第三百四十二条", "metric": "basic_farmland_mu", "threshold": "3",
        "unit": "mu", "citation": "省高级人民法院意见", "effectiveFrom": starts.isoformat(),
        "description": "本省标准",
    }  # fmt: skip
    rule = await _ok(await client.post(f"{API}/referral-rules", json=body, headers=admin), 201)
    assert (rule["code"], rule["provinceCode"], rule["violationKind"]) == (
        code, county.county.province_code, "land_occupation",
    )  # fmt: skip
    assert (rule["crime"], rule["metric"], rule["unit"], rule["level"]) == (
        "非法占用农用地罪", "basic_farmland_mu", "mu", "threshold",
    )  # fmt: skip
    assert float(rule["threshold"]) == 3.0
    assert (rule["effectiveFrom"], rule["effectiveTo"]) == (starts.isoformat(), None)
    today = await _ok(
        await client.get(f"{API}/referral-rules", params={"code": code}, headers=admin)
    )
    assert today == []
    then = await _ok(
        await client.get(f"{API}/referral-rules", params={"code": code, "as_of": "2999-01-02"},
                         headers=admin)
    )  # fmt: skip
    assert [r["id"] for r in then] == [rule["id"]]


async def test_a_refused_referral_is_asked_to_be_reconsidered(
    client: Client, make_county: Any
) -> None:
    rest = Rest(client, await make_county())
    case_id = await rest.flagged_case(statuses=("filed", "investigating"))
    t0 = clock.now() - timedelta(hours=10)
    referral = await rest.refer(case_id, t0)
    rid = referral["id"]
    await rest.step(rid, "decision", t0 + timedelta(hours=1), role=Role.CAPTAIN, approved=True)
    await rest.step(rid, "transfer", t0 + timedelta(hours=2), policeUnit="县公安局森林警察大队",
                    materials=MATERIALS)  # fmt: skip
    await rest.step(rid, "police-receipt", t0 + timedelta(hours=3), receiptNo="回执001")
    refused = await rest.step(rid, "police-decision", t0 + timedelta(hours=4), filed=False,
                              reason="证据不足")  # fmt: skip
    assert refused["status"] == "not_filed"
    asked_at = t0 + timedelta(hours=5)
    asked = await rest.step(rid, "reconsideration", asked_at, role=Role.CAPTAIN,
                            reason="面积已测绘核实")  # fmt: skip
    assert (asked["id"], asked["caseId"]) == (rid, case_id)
    assert asked["reconsiderationReason"] == "面积已测绘核实"
    assert datetime.fromisoformat(asked["reconsiderationRequestedAt"]) == asked_at
    assert asked["reconsiderationDecisionDueAt"] is not None
    assert asked["reconsiderationResult"] is None
    assert asked["nextStep"] == "reconsideration_decision"
