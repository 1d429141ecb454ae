"""Tip-offs over HTTP: the flow's answers and each refusal's problem code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.scope import Role
from tests import clock
from tests.conftest import CountyFixture

API = "/api/v1"
LON, LAT = 112.1, 28.5
Client = AsyncTestClient[Litestar]


def _body(**kw: Any) -> dict[str, Any]:
    return {
        "channel": "phone_12336",
        "receivedAt": clock.ago(hours=1).isoformat(),
        "facts": "河道里夜间有人采砂",
        "clueType": "mineral_illegal_mining",
        "lon": LON,
        "lat": LAT,
        "reportedParty": "某砂场",
        "reporter": {"name": "王五", "phone": "13900000000"},
        **kw,
    }


async def _post(
    client: Client,
    county: CountyFixture,
    path: str,
    data: Any,
    *,
    role: Role = Role.CLUE_DESK,
    want: int = 200,
) -> Any:
    resp = await client.post(f"{API}{path}", json=data, headers=county.headers(role))
    assert resp.status_code == want, resp.text
    return resp.json()


async def _code(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["code"] == code, resp.text


async def test_the_flow_and_its_refusals_over_http(
    client: Client, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    county = await make_county()
    h = county.headers(Role.CLUE_DESK)
    clue = await _post(client, county, "/tip-offs", _body(), want=201)
    assert clue["receiptNo"].startswith(f"12336-{county.county.admin_code}-")
    assert clue["anonymous"] is False
    assert "王五" not in str(clue) and "13900000000" not in str(clue)
    cid = clue["id"]

    resp = await client.get(f"{API}/tip-offs/{cid}", headers=h)
    assert resp.status_code == 200 and resp.json()["status"] == "received"
    resp = await client.get(f"{API}/tip-offs", params={"overdue": "false"}, headers=h)
    assert [c["id"] for c in resp.json()] == [cid]
    assert "王五" not in resp.text

    resp = await client.post(
        f"{API}/tip-offs/{cid}/decision", json={"decision": "refuse"}, headers=h
    )
    await _code(resp, 422, "refusal_reason_required")
    resp = await client.post(
        f"{API}/tip-offs/{cid}/decision", json={"decision": "transfer"}, headers=h
    )
    await _code(resp, 422, "transfer_to_required")
    resp = await client.post(f"{API}/tip-offs/{cid}/verification", json={}, headers=h)
    await _code(resp, 409, "tip_off_wrong_status")
    await _post(client, county, f"/tip-offs/{cid}/decision", {"decision": "accept"})
    resp = await client.post(f"{API}/tip-offs/{cid}/verification", json={}, headers=h)
    await _code(resp, 422, "no_area_for_tip_off")

    nowhere = await _post(
        client,
        county,
        "/tip-offs",
        _body(lon=None, lat=None, reporter=None, reportedParty="甲"),
        want=201,
    )
    await _post(client, county, f"/tip-offs/{nowhere['id']}/decision", {"decision": "accept"})
    resp = await client.post(f"{API}/tip-offs/{nowhere['id']}/verification", json={}, headers=h)
    await _code(resp, 422, "tip_off_not_located")

    ring = [[LON - 0.01, LAT - 0.01], [LON + 0.01, LAT - 0.01], [LON + 0.01, LAT + 0.01],
            [LON - 0.01, LAT + 0.01], [LON - 0.01, LAT - 0.01]]  # fmt: skip
    area = await _post(
        client,
        county,
        "/areas",
        {"code": "T1", "name": "河道片", "grade": 1,
         "geometry": {"type": "Polygon", "coordinates": [ring]},
         "leaderId": str(county.users[Role.INSPECTOR].id)},
        role=Role.CAPTAIN,
        want=201,
    )  # fmt: skip
    assigned = await _post(client, county, f"/tip-offs/{cid}/verification", {})
    assert (assigned["status"], assigned["areaId"]) == ("verifying", area["id"])

    resp = await client.post(
        f"{API}/tip-offs/{cid}/handling", json={"handling": "stop_order"}, headers=h
    )
    await _code(resp, 409, "tip_off_wrong_status")

    reporter = await client.get(f"{API}/tip-offs/{cid}/reporter", headers=h)
    assert reporter.status_code == 200 and reporter.json()["name"] == "王五"
    resp = await client.get(f"{API}/tip-offs/{cid}/reporter", headers=county.headers(Role.ADMIN))
    await _code(resp, 403, "role_not_allowed")

    figures = await client.get(
        f"{API}/tip-offs/figures",
        params={"period": "month", "date": clock.today().isoformat()},
        headers=h,
    )
    assert figures.status_code == 200, figures.text
    assert figures.json()["total"] == 2
    resp = await client.get(f"{API}/tip-offs/figures", params={"period": "month"}, headers=h)
    await _code(resp, 422, "invalid_figures_period")


async def test_handling_and_feedback_over_http(
    client: Client, make_county: Callable[..., Awaitable[CountyFixture]], db: Any
) -> None:
    from evidence.cases.tip_offs import on_tip_off_verified  # noqa: PLC0415
    from tests.clues.test_tip_offs import StandInResult  # noqa: PLC0415

    county = await make_county()
    h = county.headers(Role.CAPTAIN)
    clue = await _post(
        client, county, "/tip-offs", _body(reporter=None), role=Role.CAPTAIN, want=201
    )
    cid = clue["id"]
    ring = [[LON - 0.01, LAT - 0.01], [LON + 0.01, LAT - 0.01], [LON + 0.01, LAT + 0.01],
            [LON - 0.01, LAT + 0.01], [LON - 0.01, LAT - 0.01]]  # fmt: skip
    await _post(
        client, county, "/areas",
        {"code": "T2", "name": "片", "grade": 1,
         "geometry": {"type": "Polygon", "coordinates": [ring]},
         "leaderId": str(county.users[Role.INSPECTOR].id)},
        role=Role.CAPTAIN, want=201,
    )  # fmt: skip
    await _post(client, county, f"/tip-offs/{cid}/decision", {"decision": "accept"})
    view = await _post(client, county, f"/tip-offs/{cid}/verification", {})
    import uuid  # noqa: PLC0415

    await on_tip_off_verified(
        db,
        StandInResult(
            county_id=county.id, target_id=uuid.UUID(view["targetId"]), target_kind="tip_off",
            ref_id=uuid.UUID(cid), inspector_id=county.users[Role.INSPECTOR].id,
            session_id=None, outcome="not_found", note="", finding_ids=(), evidence_ids=(),
            verified_at=clock.now(),
        ),
    )  # fmt: skip
    await db.commit()
    resp = await client.post(
        f"{API}/tip-offs/{cid}/handling", json={"handling": "case_opened"}, headers=h
    )
    await _code(resp, 422, "invalid_tip_off")
    handled = await _post(client, county, f"/tip-offs/{cid}/handling", {"handling": "no_violation"})
    assert handled["status"] == "handled"
    at = (clock.now() + timedelta(minutes=1)).isoformat()
    closed = await _post(
        client,
        county,
        f"/tip-offs/{cid}/feedback",
        {"channel": "sms", "content": "经核查不存在违法", "at": at},
    )
    assert closed["status"] == "closed" and closed["feedbackChannel"] == "sms"


async def test_calendar_over_http(
    client: Client, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    county = await make_county()
    admin = county.headers(Role.ADMIN)
    put = await client.post(
        f"{API}/work-calendar",
        json={"day": "2026-10-01", "kind": "holiday", "name": "国庆节"},
        headers=admin,
    )
    assert put.status_code == 200, put.text
    make_up = await client.post(
        f"{API}/work-calendar", json={"day": "2026-10-10", "kind": "workday"}, headers=admin
    )
    assert make_up.status_code == 200, make_up.text
    bad = await client.post(
        f"{API}/work-calendar", json={"day": "2026-10-11", "kind": "holiday"}, headers=admin
    )
    await _code(bad, 422, "invalid_calendar_day")
    days = await client.get(f"{API}/work-calendar", headers=county.headers(Role.CLUE_DESK))
    assert [(d["day"], d["kind"]) for d in days.json()] == [
        ("2026-10-01", "holiday"),
        ("2026-10-10", "workday"),
    ]
    gone = await client.delete(f"{API}/work-calendar/2026-10-01", headers=admin)
    assert gone.status_code == 204
    again = await client.delete(f"{API}/work-calendar/2026-10-01", headers=admin)
    await _code(again, 404, "holiday_not_found")
    missing = await client.get(f"{API}/tip-offs/{county.id}", headers=admin)
    await _code(missing, 404, "tip_off_not_found")


async def test_overdue_tip_off_in_the_captains_alerts(
    client: Client, make_county: Callable[..., Awaitable[CountyFixture]], db: Any
) -> None:
    from evidence.cases.tip_offs import raise_overdue_alerts  # noqa: PLC0415

    county = await make_county()
    old = (clock.now() - timedelta(days=10)).isoformat()
    clue = await _post(client, county, "/tip-offs", _body(receivedAt=old), want=201)
    listed = await client.get(
        f"{API}/tip-offs", params={"overdue": "true"}, headers=county.headers(Role.CLUE_DESK)
    )
    assert [c["id"] for c in listed.json()] == [clue["id"]]
    assert await raise_overdue_alerts(db, clock.now()) >= 1
    await db.commit()
    alerts = await client.get(
        f"{API}/alerts", params={"kind": "tip_off_overdue"}, headers=county.headers(Role.CAPTAIN)
    )
    assert alerts.status_code == 200, alerts.text
    mine = [a for a in alerts.json() if clue["receiptNo"] in a["message"]]
    assert mine and mine[0]["kind"] == "tip_off_overdue"
    await _post(client, county, f"/tip-offs/{clue['id']}/decision", {"decision": "accept"})
    resolved = await client.get(
        f"{API}/alerts",
        params={"kind": "tip_off_overdue", "state": "resolved"},
        headers=county.headers(Role.CAPTAIN),
    )
    assert any(clue["receiptNo"] in a["message"] for a in resolved.json())


async def test_an_inspector_sent_directly_gets_the_target_in_his_nearest_area(
    client: Client, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    """A clue outside every contract area: sent to an inspector, its target goes to the
    area he leads nearest the clue; an inspector without an area is refused by name."""
    county = await make_county()
    captain, desk = county.headers(Role.CAPTAIN), county.headers(Role.CLUE_DESK)
    leader = str(county.users[Role.INSPECTOR].id)

    def square(lon: float) -> dict[str, Any]:
        ring = [[lon, LAT], [lon + 0.01, LAT], [lon + 0.01, LAT + 0.01], [lon, LAT + 0.01],
                [lon, LAT]]  # fmt: skip
        return {"type": "Polygon", "coordinates": [ring]}

    near = await _post(client, county, "/areas", {"code": "N1", "name": "近", "grade": 1,
                       "geometry": square(LON + 0.03), "leaderId": leader},
                       role=Role.CAPTAIN, want=201)  # fmt: skip
    await _post(client, county, "/areas", {"code": "F1", "name": "远", "grade": 1,
                "geometry": square(LON + 0.07), "leaderId": leader},
                role=Role.CAPTAIN, want=201)  # fmt: skip
    clues = []
    for _ in range(2):
        clue = await _post(client, county, "/tip-offs", _body(), want=201)
        await _post(client, county, f"/tip-offs/{clue['id']}/decision", {"decision": "accept"})
        clues.append(clue["id"])
    resp = await client.post(f"{API}/tip-offs/{clues[0]}/verification", json={}, headers=desk)
    await _code(resp, 422, "no_area_for_tip_off")  # no area contains the clue
    sent = await _post(
        client, county, f"/tip-offs/{clues[0]}/verification", {"inspectorId": leader}
    )
    assert (sent["status"], sent["areaId"]) == ("verifying", near["id"])
    other = str(county.users[Role.JOINT_TEAM].id)  # leads and belongs to no area
    resp = await client.post(
        f"{API}/tip-offs/{clues[1]}/verification", json={"inspectorId": other}, headers=captain
    )
    await _code(resp, 422, "no_area_for_tip_off")
