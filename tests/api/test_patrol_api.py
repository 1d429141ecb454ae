"""Field work through the real app: plan, patrol day, tracks, review, exports, roles, bad input."""

from __future__ import annotations

import codecs
import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from api.demo import seed_demo_extras
from evidence.cases.demo import DEMO_CASE_NOS
from infra.ids import uuid7
from infra.scope import Principal, Role
from patrol import run_patrol_jobs
from patrol.demo import seed_demo_county
from patrol.models import User
from tests import clock
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
API = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _iso(t: datetime) -> str:
    return t.isoformat()


def _month(t: datetime) -> str:
    return f"{t.astimezone(TZ):%Y-%m}"


async def _area(client: Client, county: CountyFixture, *, code: str = "A1") -> dict[str, Any]:
    body = {
        "code": code,
        "name": "北片",
        "grade": 1,
        "geometry": _box(112.05, 28.45, 112.15, 28.55),
        "leaderId": str(county.users[Role.INSPECTOR].id),
    }
    resp = await client.post(f"{API}/areas", json=body, headers=county.headers(Role.CAPTAIN))
    assert resp.status_code == 201, resp.text
    area: dict[str, Any] = resp.json()
    return area


async def _village(client: Client, county: CountyFixture) -> str:
    admin = county.headers(Role.ADMIN)
    town = await client.post(
        f"{API}/townships",
        json={
            "code": "T001",
            "name": "城关镇",
            "kind": "town",
            "geometry": _box(112.0, 28.4, 112.2, 28.6),
        },
        headers=admin,
    )
    assert town.status_code == 201, town.text
    village = await client.post(
        f"{API}/villages",
        json={
            "townshipId": town.json()["id"],
            "code": "T001001",
            "name": "新村",
            "geometry": _box(112.08, 28.48, 112.12, 28.52),
        },
        headers=admin,
    )
    assert village.status_code == 201, village.text
    village_id: str = village.json()["id"]
    return village_id


def _line(start: datetime, n: int = 40) -> list[dict[str, Any]]:
    """A walk from south-west to north-east through (112.1, 28.5), one fix every 30 s."""
    return [
        {
            "id": str(uuid7()),
            "t": _iso(start + timedelta(seconds=30 * i)),
            "lon": 112.095 + 0.01 * i / (n - 1),
            "lat": 28.495 + 0.01 * i / (n - 1),
            "accuracyM": 6.0,
            "speedMps": 1.3,
            "headingDeg": 40.0,
        }
        for i in range(n)
    ]


def _problem(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


async def _listed_by_status(client: Client, headers: dict[str, str]) -> dict[str, list[str]]:
    """The patrols ``ListPatrols`` gives under each ``status`` filter."""
    out = {}
    for status in ("ongoing", "ended"):
        resp = await client.get(f"{API}/patrols", params={"status": status}, headers=headers)
        assert resp.status_code == 200, resp.text
        out[status] = [p["id"] for p in resp.json()]
    return out


async def test_a_patrol_day_from_plan_to_exports(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    cap, me = county.headers(Role.CAPTAIN), county.headers(Role.INSPECTOR)
    inspector_id = str(county.users[Role.INSPECTOR].id)
    area = await _area(client, county)
    assert area["leaderId"] == inspector_id and area["grade"] == 1
    assert area["geometry"]["type"] == "Polygon"
    target = await client.post(
        f"{API}/areas/{area['id']}/targets",
        json={"kind": "custom", "name": "桥头", "lon": 112.1, "lat": 28.5, "visitRadiusM": 150},
        headers=cap,
    )
    assert target.status_code == 201, target.text
    target_id = target.json()["id"]
    listed = await client.get(f"{API}/areas/{area['id']}/targets", headers=me)
    assert [t["id"] for t in listed.json()] == [target_id]

    # two days back: never "today" in China, whatever the hour the suite runs
    start = clock.ago(days=2).replace(microsecond=0)
    month = _month(start)
    # the captain plans the month; the inspector fetches it
    plan = await client.put(
        f"{API}/areas/{area['id']}/plans/{month}",
        json={"quota": 5, "note": "雨季加密"},
        headers=cap,
    )
    assert plan.status_code == 200, plan.text
    assert plan.json()["requirement"] == {
        "minPerMonth": 5,
        "minPerWeek": 1,
        "minNightPerMonth": 0,
        "minNightPerWeek": 0,
        "source": "plan",
        "ruleId": None,
    }
    mine = await client.get(f"{API}/plans/mine", params={"month": month}, headers=me)
    assert mine.status_code == 200, mine.text
    [my_plan] = mine.json()
    assert my_plan["planId"] == plan.json()["planId"] and my_plan["month"] == month
    assert [t["id"] for t in my_plan["targets"]] == [target_id]
    assert inspector_id in my_plan["inspectorIds"]

    # start, replayed
    pid = str(uuid7())
    body = {"areaId": area["id"], "startedAt": _iso(start)}
    started = await client.put(f"{API}/patrols/{pid}", json=body, headers=me)
    assert started.status_code == 200, started.text
    assert started.json()["endedAt"] is None and started.json()["planId"] == my_plan["planId"]
    again = await client.put(f"{API}/patrols/{pid}", json=body, headers=me)
    assert again.status_code == 200 and again.json()["id"] == pid
    assert await _listed_by_status(client, cap) == {"ongoing": [pid], "ended": []}

    # sign in by GPS; manual needs a reason and a village
    gps = await client.put(
        f"{API}/patrols/{pid}/sign-ins/{uuid7()}",
        json={"at": _iso(start + timedelta(minutes=1)), "lon": 112.1, "lat": 28.5, "accuracyM": 5},
        headers=me,
    )
    assert gps.status_code == 200, gps.text
    assert gps.json()["method"] == "gps" and gps.json()["lon"] == 112.1
    village_id = await _village(client, county)
    manual = {"at": _iso(start + timedelta(minutes=2)), "method": "manual", "villageId": village_id}
    no_reason = await client.put(f"{API}/patrols/{pid}/sign-ins/{uuid7()}", json=manual, headers=me)
    _problem(no_reason, 422, "manual_sign_in_needs_reason")
    with_reason = await client.put(
        f"{API}/patrols/{pid}/sign-ins/{uuid7()}",
        json={**manual, "reasonCode": "no_gps_fix", "address": "新村村委会"},
        headers=me,
    )
    assert with_reason.status_code == 200, with_reason.text
    signed = with_reason.json()
    assert signed["reasonCode"] == "no_gps_fix" and signed["villageId"] == village_id
    assert 112.08 <= signed["lon"] <= 112.12 and 28.48 <= signed["lat"] <= 28.52

    # track batches: out of order, replayed, one in the future, one far away
    points = _line(start + timedelta(minutes=3))
    first = await client.post(
        f"{API}/patrols/{pid}/track", json={"points": points[:25][::-1]}, headers=me
    )
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == 25 and first.json()["rejected"] == []
    future = {**points[-1], "id": str(uuid7()), "t": _iso(clock.now() + timedelta(hours=1))}
    far = {**points[-1], "id": str(uuid7()), "lon": 115.5}
    second = await client.post(
        f"{API}/patrols/{pid}/track", json={"points": [*points[20:], future, far]}, headers=me
    )
    assert second.status_code == 200, second.text
    result = second.json()
    assert (result["received"], result["stored"], result["duplicates"]) == (22, 15, 5)
    assert sorted((r["id"], r["reason"], r["detail"]) for r in result["rejected"]) == sorted(
        [
            (future["id"], "future_time", "时间比当前时间晚 5 分钟以上"),
            (far["id"], "outside_county", "位置在本县范围之外"),
        ]
    )
    assert result["pointCount"] == 40

    # a finding
    fid = str(uuid7())
    finding = await client.put(
        f"{API}/patrols/{pid}/findings/{fid}",
        json={
            "foundAt": _iso(start + timedelta(minutes=10)),
            "projectName": "未批先建厂房",
            "constructionStatus": "partly_built",
            "lon": 112.1,
            "lat": 28.5,
            "accuracyM": 8,
            "builder": "某建材公司",
            "occupiedAreaM2": 6666.7,
        },
        headers=me,
    )
    assert finding.status_code == 200, finding.text
    assert finding.json()["occupiedAreaMu"] == 10.0
    assert finding.json()["villageId"] == village_id
    findings = await client.get(f"{API}/patrols/{pid}/findings", headers=cap)
    assert [f["id"] for f in findings.json()] == [fid]

    # end, replayed; another end time is a conflict
    ended_at = start + timedelta(minutes=40)
    end = await client.post(
        f"{API}/patrols/{pid}/end", json={"endedAt": _iso(ended_at)}, headers=me
    )
    assert end.status_code == 200, end.text
    done = end.json()
    assert done["endReason"] == "ended" and done["hasViolation"] is True
    assert 1200 < done["distanceM"] < 1800 and done["durationS"] == 2400
    same = await client.post(
        f"{API}/patrols/{pid}/end", json={"endedAt": _iso(ended_at)}, headers=me
    )
    assert same.status_code == 200 and same.json() == done
    other = await client.post(
        f"{API}/patrols/{pid}/end",
        json={"endedAt": _iso(ended_at + timedelta(minutes=1))},
        headers=me,
    )
    _problem(other, 409, "patrol_already_ended")
    assert await _listed_by_status(client, cap) == {"ongoing": [], "ended": [pid]}
    _problem(await client.get(f"{API}/patrols?status=paused", headers=cap), 400)

    # replay
    track = await client.get(f"{API}/patrols/{pid}/track", headers=cap)
    assert track.status_code == 200, track.text
    route = track.json()["features"][0]
    assert track.json()["type"] == "FeatureCollection"
    assert route["geometry"]["type"] == "LineString"
    assert len(route["geometry"]["coordinates"]) == len(route["properties"]["times"]) >= 30
    full = await client.get(
        f"{API}/patrols/{pid}/track", params={"include_points": "true"}, headers=me
    )
    assert len(full.json()["features"]) == 41

    # review: coverage, live status
    cov = await client.get(f"{API}/coverage", params={"month": month}, headers=cap)
    assert cov.status_code == 200, cov.text
    [row] = cov.json()["areas"]
    assert (row["patrols"], row["quotaMet"], row["patrolsWithFindings"]) == (1, False, 1)
    assert row["requirement"]["minPerMonth"] == 5 and 1.2 < row["distanceKm"] < 1.8
    assert row["targetsVisited"] == [target_id] and row["targetsNotVisited"] == []
    assert row["inspectorIds"] == [inspector_id] and row["weeksTotal"] >= 4
    day = start.astimezone(clock.CHINA).date().isoformat()
    assert row["days"] == [{"day": day, "patrols": 1, "nightPatrols": int(done["isNight"])}]
    [person] = cov.json()["inspectors"]
    assert person["userId"] == inspector_id and person["patrols"] == 1
    assert abs(person["hours"] - 2400 / 3600) < 0.01

    running = str(uuid7())
    await client.put(
        f"{API}/patrols/{running}",
        json={"areaId": area["id"], "startedAt": _iso(clock.now() - timedelta(minutes=5))},
        headers=cap,
    )
    live = await client.get(f"{API}/live-status", headers=cap)
    assert live.status_code == 200, live.text
    status = {p["userId"]: p for p in live.json()["inspectors"]}
    assert status[str(county.users[Role.CAPTAIN].id)]["status"] == "patrolling"
    assert status[inspector_id]["status"] == "not_today"
    assert live.json()["patrolling"] == 1

    # exports
    csv_resp = await client.get(f"{API}/exports/coverage.csv", params={"month": month}, headers=cap)
    assert csv_resp.status_code == 200, csv_resp.text
    # one charset, and a byte-order mark: Excel on a Chinese Windows machine reads UTF-8 then
    assert csv_resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_resp.content.startswith(codecs.BOM_UTF8)
    assert f'filename="coverage-{month}.csv"' in csv_resp.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_resp.content.decode("utf-8-sig"))))
    assert (rows[0]["类型"], rows[0]["代码"], rows[0]["巡查次数"]) == ("area", "A1", "1")
    english = await client.get(
        f"{API}/exports/coverage.csv",
        params={"month": month},
        headers={**cap, "Accept-Language": "en"},
    )
    header, _, rest = english.content.decode("utf-8-sig").partition("\r\n")
    assert header.startswith("kind,id,code,name,patrols,quota,quota_met,night_patrols,")
    # only the header row differs
    assert rest == csv_resp.content.decode("utf-8-sig").partition("\r\n")[2]
    day = start.astimezone(TZ).date()
    geo = await client.get(
        f"{API}/exports/tracks.geojson",
        params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
        headers=cap,
    )
    assert geo.status_code == 200, geo.text
    assert geo.headers["content-type"].startswith("application/geo+json")
    assert ".geojson" in geo.headers["content-disposition"]
    exported = {f["properties"]["patrol_id"]: f for f in geo.json()["features"]}
    assert exported[pid]["geometry"]["type"] == "LineString"
    for path in ("/coverage", "/live-status", "/exports/coverage.csv"):
        _problem(await client.get(f"{API}{path}", headers=me), 403, "role_not_allowed")


async def test_roles_decide_who_plans_and_who_patrols(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    cap, me = county.headers(Role.CAPTAIN), county.headers(Role.INSPECTOR)
    area = await _area(client, county)
    created = await client.post(
        f"{API}/admin/users",
        json={
            # the random end of the UUIDv7 (its start is the clock): runs can share a database
            "username": f"second-{county.id.hex[-8:]}",
            "displayName": "二号",
            "role": "inspector",
            "password": "long-enough-pass",
        },
        headers=county.headers(Role.ADMIN),
    )
    assert created.status_code == 201, created.text
    second = Principal(
        user_id=created.json()["id"], county_id=county.id, role=Role.INSPECTOR, username="second"
    )
    other = {"Authorization": f"Bearer {county.tokens.access_token(second)}"}
    now = clock.now()
    body = {"areaId": area["id"], "startedAt": _iso(now)}

    # someone else's area
    _problem(
        await client.put(f"{API}/patrols/{uuid7()}", json=body, headers=other),
        403,
        "not_area_member",
    )
    # inspectors do not shape areas or plans; captains do
    month = _month(now)
    _problem(
        await client.put(f"{API}/areas/{area['id']}/plans/{month}", json={"quota": 9}, headers=me),
        403,
        "role_not_allowed",
    )
    _problem(
        await client.patch(f"{API}/areas/{area['id']}", json={"name": "x"}, headers=me),
        403,
        "role_not_allowed",
    )
    edited = await client.put(
        f"{API}/areas/{area['id']}/plans/{month}",
        json={"quota": 9, "inspectorIds": [str(second.user_id)]},
        headers=cap,
    )
    assert edited.status_code == 200 and edited.json()["requirement"]["minPerMonth"] == 9
    # a plan assignment shows in the assignee's plans, but patrolling needs area membership
    mine = await client.get(f"{API}/plans/mine", params={"month": month}, headers=other)
    assert [p["areaId"] for p in mine.json()] == [area["id"]]
    grown = await client.patch(
        f"{API}/areas/{area['id']}", json={"memberIds": [str(second.user_id)]}, headers=cap
    )
    assert grown.status_code == 200 and grown.json()["memberIds"] == [str(second.user_id)]
    pid = str(uuid7())
    assert (await client.put(f"{API}/patrols/{pid}", json=body, headers=other)).status_code == 200
    # the patrol is the second inspector's: the first leads the area, so he reads it
    # (patrol.policy.PATROL_READ) but may not end it
    assert (await client.get(f"{API}/patrols/{pid}", headers=me)).status_code == 200
    _problem(
        await client.post(f"{API}/patrols/{pid}/end", json={"endedAt": _iso(now)}, headers=me),
        403,
        "not_patrol_owner",
    )
    assert (await client.get(f"{API}/patrols/{pid}", headers=cap)).status_code == 200
    led = await client.get(f"{API}/patrols", headers=me)
    assert led.status_code == 200 and [p["id"] for p in led.json()] == [pid]
    # rules: captains set and delete; the id in the path makes it replay-safe
    rid = str(uuid7())
    rule = {
        "name": "汛期",
        "grade": 1,
        "seasonStart": "04-01",
        "seasonEnd": "10-31",
        "minPerWeek": 2,
    }
    _problem(await client.put(f"{API}/frequency-rules/{rid}", json=rule, headers=me), 403)
    for _ in range(2):
        resp = await client.put(f"{API}/frequency-rules/{rid}", json=rule, headers=cap)
        assert resp.status_code == 200, resp.text
        assert resp.json()["seasonStart"] == "04-01" and resp.json()["minPerWeek"] == 2
    assert [r["id"] for r in (await client.get(f"{API}/frequency-rules", headers=me)).json()] == [
        rid
    ]
    assert (await client.delete(f"{API}/frequency-rules/{rid}", headers=cap)).status_code == 204
    _problem(
        await client.delete(f"{API}/frequency-rules/{rid}", headers=cap), 404, "rule_not_found"
    )


async def test_another_county_sees_nothing(client: Client, make_county: Any) -> None:
    a: CountyFixture = await make_county()
    b: CountyFixture = await make_county(lon=113.0, lat=28.0)
    area = await _area(client, a)
    pid = str(uuid7())
    started = await client.put(
        f"{API}/patrols/{pid}",
        json={"areaId": area["id"], "startedAt": _iso(clock.now())},
        headers=a.headers(Role.INSPECTOR),
    )
    assert started.status_code == 200
    boss = b.headers(Role.CAPTAIN)
    for path in (f"/patrols/{pid}", f"/patrols/{pid}/track", f"/areas/{area['id']}"):
        _problem(await client.get(f"{API}{path}", headers=boss), 404)
    # b's inspector cannot start a patrol in a's area, nor take over a's patrol id
    body = {"areaId": area["id"], "startedAt": _iso(clock.now())}
    _problem(
        await client.put(f"{API}/patrols/{uuid7()}", json=body, headers=b.headers(Role.INSPECTOR)),
        404,
        "area_not_found",
    )
    _problem(
        await client.put(f"{API}/patrols/{pid}", json=body, headers=b.headers(Role.INSPECTOR)),
        409,
        "id_reused",
    )
    assert (await client.get(f"{API}/areas", headers=boss)).json() == []
    assert (await client.get(f"{API}/patrols", headers=boss)).json() == []


async def test_bad_input_gets_a_problem_with_a_reason(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    cap, me = county.headers(Role.CAPTAIN), county.headers(Role.INSPECTOR)
    area = await _area(client, county)
    now = clock.now()
    # a time without an offset, a start in the future, a grade out of range, a bad month
    naive = {"areaId": area["id"], "startedAt": now.replace(tzinfo=None).isoformat()}
    body = _problem(await client.put(f"{API}/patrols/{uuid7()}", json=naive, headers=me), 400)
    assert body["code"] == "validation_error" and "时区" in body["detail"]
    assert "startedAt" in str(body["errors"])
    future = {"areaId": area["id"], "startedAt": _iso(now + timedelta(hours=1))}
    _problem(
        await client.put(f"{API}/patrols/{uuid7()}", json=future, headers=me), 422, "invalid_time"
    )
    bad_area = {"code": "A9", "name": "x", "grade": 5, "geometry": _box(112, 28, 113, 29)}
    bad_area["leaderId"] = str(county.users[Role.INSPECTOR].id)
    _problem(await client.post(f"{API}/areas", json=bad_area, headers=cap), 400, "validation_error")
    bowtie = {
        **bad_area,
        "grade": 2,
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[112, 28], [113, 29], [113, 28], [112, 29], [112, 28]]],
        },
    }
    _problem(await client.post(f"{API}/areas", json=bowtie, headers=cap), 422, "invalid_geometry")
    _problem(
        await client.get(f"{API}/plans/mine", params={"month": "2026-13"}, headers=me),
        422,
        "invalid_month",
    )
    _problem(await client.post(f"{API}/areas", content=b"{not json", headers=cap), 400)

    pid = str(uuid7())
    started = await client.put(
        f"{API}/patrols/{pid}",
        json={"areaId": area["id"], "startedAt": _iso(now - timedelta(minutes=30))},
        headers=me,
    )
    assert started.status_code == 200
    point = _line(now - timedelta(minutes=20), 2)[0]
    for field, value in (("lon", 200.0), ("lat", -91.0), ("accuracyM", -1.0)):
        resp = await client.post(
            f"{API}/patrols/{pid}/track", json={"points": [{**point, field: value}]}, headers=me
        )
        problem = _problem(resp, 400, "validation_error")
        assert field in str(problem["errors"]), problem
    naive_point = {**point, "t": (now - timedelta(minutes=20)).replace(tzinfo=None).isoformat()}
    _problem(
        await client.post(f"{API}/patrols/{pid}/track", json={"points": [naive_point]}, headers=me),
        400,
    )
    too_many = [{**point, "id": str(uuid7())} for _ in range(10_001)]
    _problem(
        await client.post(f"{API}/patrols/{pid}/track", json={"points": too_many}, headers=me), 400
    )
    # nothing of that was stored
    got = await client.get(f"{API}/patrols/{pid}", headers=me)
    assert got.json()["pointCount"] == 0
    # a finding needs a known construction status
    bad_finding = {
        "foundAt": _iso(now),
        "projectName": "x",
        "constructionStatus": "demolished",
        "lon": 112.1,
        "lat": 28.5,
    }
    _problem(
        await client.put(f"{API}/patrols/{pid}/findings/{uuid7()}", json=bad_finding, headers=me),
        400,
    )
    # the exported period is bounded
    _problem(
        await client.get(
            f"{API}/exports/tracks.geojson",
            params={"start": "2026-01-01", "end": "2026-03-01"},
            headers=cap,
        ),
        422,
        "invalid_period",
    )


async def test_patrol_jobs_close_forgotten_patrols(
    client: Client, make_county: Any, session_factory: Any
) -> None:
    county: CountyFixture = await make_county()
    me = county.headers(Role.INSPECTOR)
    area = await _area(client, county)
    pid = str(uuid7())
    started_at = clock.now() - timedelta(hours=7)
    resp = await client.put(
        f"{API}/patrols/{pid}",
        json={"areaId": area["id"], "startedAt": _iso(started_at)},
        headers=me,
    )
    assert resp.status_code == 200
    totals = await run_patrol_jobs(session_factory)
    assert totals["counties"] >= 2 and totals["patrols_closed"] >= 1 and totals["failed"] == 0
    closed = (await client.get(f"{API}/patrols/{pid}", headers=me)).json()
    assert closed["endReason"] == "auto_closed" and closed["endedAt"] is not None
    # the phone's own end still wins afterwards
    ended_at = started_at + timedelta(hours=2)
    end = await client.post(
        f"{API}/patrols/{pid}/end", json={"endedAt": _iso(ended_at)}, headers=me
    )
    assert end.status_code == 200 and end.json()["endReason"] == "ended"
    assert (await run_patrol_jobs(session_factory))["failed"] == 0


async def _login(client: Client, username: str, password: str) -> dict[str, str]:
    resp = await client.post(f"{API}/auth/token", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['accessToken']}"}


async def test_the_demo_county_shows_field_work_to_every_login(
    client: Client, session_factory: Any, settings: Any
) -> None:
    async with session_factory() as session:
        # the demo logins have fixed names: this walk needs a database without them (the
        # suite's own cluster; with DATABASE_URL, an empty database)
        assert not await session.scalar(select(User.id).where(User.username == "demo-inspector")), (
            "this database already holds the demo county; run the suite on an empty one"
        )
        demo = await seed_demo_county(session, admin_code="T99demo")
        await seed_demo_extras(session, demo, settings)
        await session.commit()
    logins = {u.username: u for u in demo.users}
    assert len([u for u in demo.users if u.role == "inspector"]) == 8
    # every printed login works: the extra inspectors have real passwords
    for user in demo.users:
        await _login(client, user.username, user.password)
    phone = await _login(client, "demo-inspector", logins["demo-inspector"].password)
    plans = (await client.get(f"{API}/plans/mine", headers=phone)).json()
    assert len(plans) == 2 and all(p["planId"] for p in plans)
    assert any(t["kind"] == "mine_site" for p in plans for t in p["targets"])
    mine = (await client.get(f"{API}/patrols", headers=phone)).json()
    assert mine and all(p["distanceM"] > 0 for p in mine)
    boss = await _login(client, "demo-captain", logins["demo-captain"].password)
    month = _month(datetime.fromisoformat(mine[0]["startedAt"]))
    cov = (await client.get(f"{API}/coverage", params={"month": month}, headers=boss)).json()
    assert [a["quotaMet"] for a in cov["areas"]] == [True, True, False, False]
    assert cov["duty"]["sites"] > 0 and cov["duty"]["members"] > 0
    alerts = (
        await client.get(f"{API}/alerts", params={"kind": "site_reopening"}, headers=boss)
    ).json()
    assert len(alerts) == 1
    # names and texts are Chinese: no English role codes or suffixes
    assert not re.search("[A-Za-z]", alerts[0]["message"]), alerts
    async with session_factory() as session:
        names = list(
            await session.scalars(select(User.display_name).where(User.county_id == demo.county.id))
        )
    assert "演示队长" in names, names
    assert all(re.fullmatch(r"[\u4e00-\u9fff0-9]+", n) for n in names), names
    # a few members lapsed ten days ago and are overdue now; the rest are on time
    duty = (await client.get(f"{API}/duty-status", headers=boss)).json()
    members = [m for s in duty for m in s["members"]]
    overdue = [m for m in members if m["overdue"]]
    assert 1 <= len(overdue) <= 4 < len(members), [(m["role"], m["dueAt"]) for m in overdue]
    assert [s["lastStatus"] for s in duty].count("signs_of_reopening") == 1
    # petitions: five at the clue desk, one past its decision date and in the captains' feed
    desk = await _login(client, "demo-clue-desk", logins["demo-clue-desk"].password)
    petitions = (await client.get(f"{API}/petitions", headers=desk)).json()
    assert len(petitions["items"]) == 5
    late = (await client.get(f"{API}/petitions", params={"overdue": "true"}, headers=desk)).json()
    assert [p["status"] for p in late["items"]] == ["registered"]
    kind = {"kind": "petition_overdue"}
    assert len((await client.get(f"{API}/alerts", params=kind, headers=boss)).json()) == 1
    # the procuratorate reads the one referred case (its referral late) and no field work
    supervisor = await _login(client, "demo-procuratorate", logins["demo-procuratorate"].password)
    referred = (await client.get(f"{API}/cases", headers=supervisor)).json()
    assert [c["caseNo"] for c in referred] == [DEMO_CASE_NOS[2]]
    overdue = (await client.get(f"{API}/referrals/overdue", headers=supervisor)).json()
    assert [o["step"] for o in overdue] == ["decision"]
    assert (await client.get(f"{API}/patrols", headers=supervisor)).status_code == 403
