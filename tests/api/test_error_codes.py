"""Errors people meet that no other test provokes, each through the real app with its status
and stable ``code`` (see tests/error_codes.py, which checks every code is produced)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
from litestar import get
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from infra.error_codes import CATALOGUE
from infra.ids import uuid7
from infra.scope import Role
from infra.settings import Settings
from patrol.models import User
from tests import clock, error_codes
from tests.cases.rest import MATERIALS, Rest
from tests.conftest import TEST_PASSWORD, CountyFixture
from tests.evidence import media
from tests.sync.conftest import Client

API = "/api/v1"


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert status in CATALOGUE[code].statuses, (code, status)
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


async def _area(client: Client, county: CountyFixture, **extra: Any) -> dict[str, Any]:
    body = {"code": "A1", "name": "北片", "grade": 1, "geometry": _box(112.05, 28.45, 112.15, 28.5),
            "leaderId": str(county.users[Role.INSPECTOR].id), **extra}  # fmt: skip
    resp = await client.post(f"{API}/areas", json=body, headers=county.headers(Role.CAPTAIN))
    assert resp.status_code == 201, resp.text
    area: dict[str, Any] = resp.json()
    return area


async def test_a_disabled_account_cannot_refresh_its_session(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Switched off outside the API (the database, an import): the refresh token still
    exists, and refreshing says the account is disabled."""
    county: CountyFixture = await make_county()
    user = county.users[Role.INSPECTOR]
    login = await client.post(
        f"{API}/auth/token", json={"username": user.username, "password": TEST_PASSWORD}
    )
    assert login.status_code == 200, login.text
    async with session_factory() as session:
        await session.execute(update(User).where(User.id == user.id).values(active=False))
        await session.commit()
    refresh = {"refreshToken": login.json()["refreshToken"]}
    _problem(await client.post(f"{API}/auth/refresh", json=refresh), 401, "account_disabled")


async def test_organisation_codes_and_references(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    admin = county.headers(Role.ADMIN)
    town = {
        "code": "T01",
        "name": "东山镇",
        "kind": "town",
        "geometry": _box(112, 28.4, 112.1, 28.5),
    }
    assert (await client.post(f"{API}/townships", json=town, headers=admin)).status_code == 201
    again = await client.post(f"{API}/townships", json={**town, "name": "西山镇"}, headers=admin)
    _problem(again, 409, "code_taken")
    cap = county.headers(Role.CAPTAIN)
    body = {"code": "A9", "name": "南片", "grade": 1, "geometry": _box(112.05, 28.45, 112.1, 28.5),
            "leaderId": str(county.users[Role.INSPECTOR].id)}  # fmt: skip
    for field, code in (
        ("townshipIds", "unknown_township"),
        ("villageIds", "unknown_village"),
        ("memberIds", "unknown_user"),
    ):
        resp = await client.post(f"{API}/areas", json={**body, field: [str(uuid7())]}, headers=cap)
        _problem(resp, 422, code)


async def test_a_retired_area_takes_no_new_patrol(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    area = await _area(client, county)
    cap, me = county.headers(Role.CAPTAIN), county.headers(Role.INSPECTOR)
    retired = await client.patch(f"{API}/areas/{area['id']}", json={"active": False}, headers=cap)
    assert retired.status_code == 200, retired.text
    start = {"areaId": area["id"], "startedAt": clock.now().isoformat()}
    resp = await client.put(f"{API}/patrols/{uuid7()}", json=start, headers=me)
    _problem(resp, 422, "area_inactive")


async def test_a_point_before_the_patrol_started_is_listed_not_stored(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    area = await _area(client, county)
    me = county.headers(Role.INSPECTOR)
    started = clock.now() - timedelta(hours=2)
    patrol = uuid7()
    body = {"areaId": area["id"], "startedAt": started.isoformat()}
    assert (await client.put(f"{API}/patrols/{patrol}", json=body, headers=me)).status_code == 200
    early = {"id": str(uuid7()), "t": (started - timedelta(hours=1)).isoformat(),
             "lon": 112.1, "lat": 28.5, "accuracyM": 5.0}  # fmt: skip
    resp = await client.post(f"{API}/patrols/{patrol}/track", json={"points": [early]}, headers=me)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["stored"] == 0
    assert [(r["id"], r["reason"]) for r in answer["rejected"]] == [(early["id"], "before_start")]


async def test_a_plan_names_only_the_areas_targets(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    area = await _area(client, county)
    month = f"{clock.this_month():%Y-%m}"
    resp = await client.put(
        f"{API}/areas/{area['id']}/plans/{month}",
        json={"targetIds": [str(uuid7())]},
        headers=county.headers(Role.CAPTAIN),
    )
    _problem(resp, 422, "unknown_target")


async def test_duty_checks_need_a_roster_and_a_place_on_it(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    cap, me = county.headers(Role.CAPTAIN), county.headers(Role.INSPECTOR)
    site = await client.post(
        f"{API}/geofence/mine-sites",
        json={"code": "KS-9", "name": "老矿", "geometry": {"type": "Point",
              "coordinates": [112.1, 28.5]}},
        headers=cap,
    )  # fmt: skip
    assert site.status_code == 201, site.text
    check = {"siteId": site.json()["id"], "checkedAt": clock.now().isoformat(),
             "status": "still_closed"}  # fmt: skip
    resp = await client.put(f"{API}/duty-checks/{uuid7()}", json=check, headers=me)
    _problem(resp, 404, "site_not_found")
    cadre = await client.put(
        f"{API}/geofence/mine-sites/{site.json()['id']}/roster/village_cadre",
        json={"userId": str(county.users[Role.JOINT_TEAM].id)},
        headers=cap,
    )
    assert cadre.status_code == 200, cadre.text
    resp = await client.put(f"{API}/duty-checks/{uuid7()}", json=check, headers=me)
    _problem(resp, 403, "not_roster_member")


async def test_referral_steps_refuse_what_the_procedure_forbids(
    client: Client, make_county: Any
) -> None:
    rest = Rest(client, await make_county())
    squad = rest.county.headers(Role.SECURITY_SQUAD)
    team = [str(rest.county.users[r].id) for r in (Role.SECURITY_SQUAD, Role.CAPTAIN)]
    t0 = clock.now() - timedelta(hours=10)
    # not flagged yet
    body = {"cause": "非法占地", "violationKind": "land_occupation", "lon": 112.1, "lat": 28.5}
    plain = await rest.post(Role.CAPTAIN, "/cases", body, expect=201)
    resp = await client.post(
        f"{API}/cases/{plain['id']}/referrals",
        json={"teamIds": team, "report": "调查报告", "at": t0.isoformat()},
        headers=rest.county.headers(Role.CAPTAIN),
    )
    _problem(resp, 409, "case_not_flagged")
    case_id = await rest.flagged_case(statuses=("filed", "investigating"))
    path = f"{API}/cases/{case_id}/referrals"
    blank = {"teamIds": team, "report": "   ", "at": t0.isoformat()}
    _problem(await client.post(path, json=blank, headers=squad), 422, "report_required")
    stranger = {"teamIds": [team[0], str(uuid7())], "report": "报告", "at": t0.isoformat()}
    _problem(await client.post(path, json=stranger, headers=squad), 422, "unknown_team_member")
    referral = await rest.refer(case_id, t0)
    again = {"teamIds": team, "report": "报告", "at": t0.isoformat()}
    _problem(await client.post(path, json=again, headers=squad), 409, "referral_already_open")
    rid = referral["id"]
    await rest.step(rid, "decision", t0 + timedelta(hours=1), role=Role.CAPTAIN, approved=True)
    transfer = f"{API}/referrals/{rid}/transfer"
    at = (t0 + timedelta(hours=2)).isoformat()
    no_unit = {"policeUnit": "  ", "materials": MATERIALS, "at": at}
    _problem(await client.post(transfer, json=no_unit, headers=squad), 422, "police_unit_required")
    short = {"policeUnit": "县公安局", "materials": MATERIALS[:1], "at": at}
    body = _problem(
        await client.post(transfer, json=short, headers=squad), 422, "missing_materials"
    )
    assert sorted(body["details"]["missing"]) == ["investigation_report", "items_list"]


async def test_a_rule_code_starts_once_on_a_date(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    admin = county.headers(Role.ADMIN)
    body = {
        "code": f"test.{uuid7().hex[-8:]}", "violationKind": "land_occupation",
        "crime": "非法占用农用地罪", "article": "第三百四十二条", "metric": "basic_farmland_mu",
        "threshold": "3", "unit": "mu", "citation": "省意见", "effectiveFrom": "2999-01-01",
    }  # fmt: skip
    first = await client.post(f"{API}/referral-rules", json=body, headers=admin)
    assert first.status_code == 201, first.text
    again = await client.post(f"{API}/referral-rules", json=body, headers=admin)
    _problem(again, 409, "rule_exists")
    unknown = {**body, "metric": "acres_of_moon"}
    _problem(
        await client.post(f"{API}/referral-rules", json=unknown, headers=admin), 422, "invalid_rule"
    )


async def test_case_numbers_are_unique_in_a_county(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    cap = county.headers(Role.CAPTAIN)
    body = {"cause": "非法占地", "violationKind": "land_occupation", "lon": 112.1, "lat": 28.5,
            "caseNo": "国土立〔2026〕7号"}  # fmt: skip
    assert (await client.post(f"{API}/cases", json=body, headers=cap)).status_code == 201
    _problem(await client.post(f"{API}/cases", json=body, headers=cap), 409, "case_no_taken")
    source = {**body, "caseNo": None, "sourceKind": "finding", "sourceId": str(uuid7())}
    _problem(
        await client.post(f"{API}/cases", json=source, headers=cap), 404, "case_source_not_found"
    )
    without = {**body, "caseNo": None, "sourceKind": "finding"}
    _problem(await client.post(f"{API}/cases", json=without, headers=cap), 422, "invalid_source")


async def test_a_case_refuses_what_its_fields_cannot_mean(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    cap = county.headers(Role.CAPTAIN)
    body = {"cause": "非法占地", "violationKind": "land_occupation", "lon": 112.1, "lat": 28.5}
    tomorrow = (clock.today() + timedelta(days=2)).isoformat()
    for extra, code in (
        ({"cause": "   "}, "invalid_case"),
        ({"parties": [{"name": "  ", "kind": "person"}]}, "invalid_party"),
        ({"declaredAreasM2": {"moon_dust": 10.0}}, "invalid_area"),
        ({"illegalGainYuan": "-5"}, "invalid_amount"),
        ({"priorPenalties": [{"kind": "other", "decidedOn": tomorrow}]}, "invalid_penalty"),
    ):
        resp = await client.post(f"{API}/cases", json={**body, **extra}, headers=cap)
        _problem(resp, 422, code)


async def test_a_flag_names_a_case_or_a_finding(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    cap = county.headers(Role.CAPTAIN)
    for body in ({"reason": "两者皆无"}, {"reason": "两者都有", "caseId": str(uuid7()),
                                          "findingId": str(uuid7())}):  # fmt: skip
        resp = await client.post(f"{API}/referral-flags", json=body, headers=cap)
        _problem(resp, 422, "invalid_flag_subject")


async def test_upload_declarations_the_store_cannot_take(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    me = county.headers(Role.INSPECTOR)
    base = {
        "sha256": "a" * 64, "sizeBytes": 1_000, "contentType": "image/jpeg",
        "fix": {"lon": 112.1, "lat": 28.5, "accuracyM": 6.0, "crs": "wgs84"},
    }  # fmt: skip
    video = 20 * 1024 * 1024
    for extra, code in (
        ({"sizeBytes": 10**12}, "upload_too_large"),
        ({"contentType": "video/mp4", "sizeBytes": video, "partSize": 1024}, "invalid_part_size"),
        ({"contentType": "video/mp4", "sizeBytes": video, "partMd5s": ["1B2M2Y8AsgTpgAmY7PhCfg=="]},
         "invalid_part_md5s"),
    ):  # fmt: skip
        resp = await client.post(
            f"{API}/evidence/uploads/{uuid7()}", json={**base, **extra}, headers=me
        )
        _problem(resp, 422, code)
    listed = await client.get(f"{API}/evidence", params={"cursor": "not-a-cursor"}, headers=me)
    _problem(listed, 422, "invalid_cursor")


async def test_layer_imports_list_what_they_repaired_and_rejected(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    admin = county.headers(Role.ADMIN)
    x, y, d = 112.1, 28.5, 0.001
    flat = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    raised = [[*p, 120.0] for p in flat]
    sliver = [[x, y], [x + d, y], [x + d, y + 1e-11], [x, y]]
    features = [
        {"type": "Feature", "properties": {"DLBM": "0103"},
         "geometry": {"type": "Polygon", "coordinates": [raised]}},
        {"type": "Feature", "properties": {"DLBM": "0101"},
         "geometry": {"type": "Polygon", "coordinates": [flat]}},
        {"type": "Feature", "properties": {"DLBM": "0301"},
         "geometry": {"type": "Polygon", "coordinates": [sliver]}},
    ]  # fmt: skip
    content = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    resp = await client.post(
        f"{API}/geofence/layers/import",
        headers=admin,
        files={"file": ("parcels.geojson", content, "application/octet-stream")},
        data={"kind": "parcels"},
    )
    assert resp.status_code == 200, resp.text
    summary = resp.json()
    assert [(r["feature"], r["code"]) for r in summary["rejections"]] == [(3, "degenerate_polygon")]
    assert summary["stored"] == 2
    changes = [
        {"type": "Feature",
         "properties": {"monitoring_no": "WP-1", "batch_year": 1900, "batch_quarter": 1},
         "geometry": {"type": "Polygon", "coordinates": [flat]}},
        {"type": "Feature",
         "properties": {"monitoring_no": "WP-2", "batch_year": 2026, "batch_quarter": 3},
         "geometry": {"type": "Polygon", "coordinates": [flat]}},
    ]  # fmt: skip
    content = json.dumps({"type": "FeatureCollection", "features": changes}).encode()
    resp = await client.post(
        f"{API}/geofence/layers/import",
        headers=admin,
        files={"file": ("changes.geojson", content, "application/octet-stream")},
        data={"kind": "change_polygons"},
    )
    assert resp.status_code == 200, resp.text
    assert [(r["feature"], r["code"]) for r in resp.json()["rejections"]] == [
        (1, "invalid_attributes")
    ]


async def _declare_and_send(
    client: Client, county: CountyFixture, declared: bytes, sent: bytes, content_type: str
) -> str:
    """Declare ``declared`` (its SHA-256 and size) and send ``sent``; the upload's URL."""
    url = f"{API}/evidence/uploads/{uuid7()}"
    body = {
        "sha256": hashlib.sha256(declared).hexdigest(), "sizeBytes": len(declared),
        "contentType": content_type, "contentMd5": media.md5_b64(sent),
        "fix": {"lon": 112.1, "lat": 28.5, "accuracyM": 6.0, "crs": "wgs84"},
    }  # fmt: skip
    ticket = await client.post(url, json=body, headers=county.headers(Role.INSPECTOR))
    assert ticket.status_code == 200, ticket.text
    async with httpx.AsyncClient(timeout=60) as http:
        for item in ticket.json()["requests"]:
            put = await http.request(item["method"], item["url"], content=sent,
                                     headers=item["headers"])  # fmt: skip
            assert put.status_code == 200, put.text
    return url


async def test_a_picture_too_large_to_open_is_refused_from_its_header(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    bomb = media.png_bomb()
    url = await _declare_and_send(client, county, bomb, bomb, "image/png")
    done = await client.post(f"{url}/complete", headers=county.headers(Role.INSPECTOR))
    body = _problem(done, 422, "image_too_large")
    assert body["details"]["width"] == 100_000


async def test_what_arrived_is_not_the_size_declared(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    declared = media.photo("JPEG")
    url = await _declare_and_send(client, county, declared, declared[:-100], "image/jpeg")
    done = await client.post(f"{url}/complete", headers=county.headers(Role.INSPECTOR))
    body = _problem(done, 422, "evidence_size_mismatch")
    assert (body["details"]["declared"], body["details"]["stored"]) == (
        len(declared), len(declared) - 100,
    )  # fmt: skip


async def test_an_unexpected_failure_is_a_500_problem_with_the_request_id(
    settings: Settings, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    app = create_app(settings)

    @get("/api/v1/test-only/boom", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("secret internals")

    app.register(boom)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as own:
        headers = {**county.headers(Role.ADMIN), "X-Request-ID": "req-500"}
        resp = await own.get("/api/v1/test-only/boom", headers=headers)
    body = _problem(resp, 500, "internal_error")
    assert body["requestId"] == "req-500"
    assert "secret internals" not in resp.text


async def test_a_single_upload_needs_its_md5(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    body = {
        "sha256": "a" * 64, "sizeBytes": 1_000, "contentType": "image/jpeg",
        "fix": {"lon": 112.1, "lat": 28.5, "accuracyM": 6.0, "crs": "wgs84"},
    }  # fmt: skip
    resp = await client.post(
        f"{API}/evidence/uploads/{uuid7()}", json=body, headers=county.headers(Role.INSPECTOR)
    )
    assert _problem(resp, 422, "invalid_md5")["errors"][0]["field"] == "content_md5"


async def test_a_county_boundary_file_holds_one_feature(
    settings: Settings, make_county: Any
) -> None:
    operator: CountyFixture = await make_county()
    admin = operator.users[Role.ADMIN].username
    configured = replace(settings, auth=replace(settings.auth, platform_admins=(admin,)))
    square = _box(112.0, 28.0, 112.1, 28.1)
    two = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": square},
        {"type": "Feature", "properties": {}, "geometry": square},
    ]}  # fmt: skip
    body = {"code": "439901", "name": "新县", "boundary": two}
    async with AsyncTestClient(app=create_app(configured), raise_server_exceptions=False) as own:
        resp = await own.post(
            f"{API}/admin/counties", json=body, headers=operator.headers(Role.ADMIN)
        )
    assert _problem(resp, 422, "invalid_boundary")["details"]["features"] == 2


async def test_a_garbled_form_upload_is_a_bad_request_and_stores_nothing(
    client: Client, make_county: Any
) -> None:
    """A form body that is not the multipart it claims (a proxy cut it, a client bug)."""
    county = await make_county()
    headers = county.headers(Role.ADMIN)
    for content_type in ("multipart/form-data; boundary=xyz", "multipart/form-data"):
        resp = await client.post(
            "/api/v1/geofence/layers/import",
            headers={**headers, "content-type": content_type},
            content=b"not a form",
        )
        body = _problem(resp, 400, "bad_request")
        assert body["title"] == "请求格式有误"
    versions = await client.get(
        "/api/v1/geofence/layers/versions", headers=headers, params={"kind": "parcels"}
    )
    assert versions.status_code == 200 and versions.json() == []


def test_the_recorder_flags_answers_off_the_catalogue() -> None:
    """A problem answer with a code the catalogue lacks, or with a status it does not list
    for the code, fails the run (tests/error_codes.py), whatever subset ran."""
    headers = {"content-type": "application/problem+json"}
    answers = [
        httpx.Response(418, headers=headers, json={"code": "no_such_code_here"}),
        httpx.Response(409, headers=headers, json={"code": "case_not_found"}),
        httpx.Response(404, headers=headers, json={"code": "case_not_found"}),
        httpx.Response(422, headers=headers, json={"code": "unsupported_media_type"}),
    ]
    before_off, before_produced = error_codes.off_catalogue.copy(), error_codes.produced.copy()
    try:
        for answer in answers:
            error_codes._record(answer)
        added = error_codes.off_catalogue - before_off
        assert set(added) == {("no_such_code_here", 418), ("case_not_found", 409)}
        (line,) = error_codes.off_catalogue_verdict()
        assert "no_such_code_here 418 (not in infra/error_codes.py)" in line
        assert "case_not_found 409 (the catalogue says 404)" in line
    finally:
        error_codes.off_catalogue.clear()
        error_codes.off_catalogue.update(before_off)
        error_codes.produced.clear()
        error_codes.produced.update(before_produced)
