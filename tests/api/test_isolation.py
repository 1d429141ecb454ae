"""County isolation, proven by walking every route of the real app.

County B gets one resource of every kind a path can name. Every user of county A (each role)
then calls every route: routes that name a county-B resource answer 404 (or 403 when the
role may not use the route at all) and never 2xx; list routes never mention a county-B id.
A new route whose path names a resource this test cannot make fails the test until the
resource is added to ``_resources`` below.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases import CaseInput, open_case
from evidence.referrals import create_referral, flag_for_referral
from geofence import SiteInput, create_mine_site, parse_geojson_geometry
from geofence.models import ImportJob
from infra.db import utcnow
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from patrol import AreaService, DutyCheck, PatrolAlert, PatrolService, PlanService, raise_alert
from patrol.accounts import AccountService
from patrol.org import OrgService
from tests.api.test_evidence_api import seed_evidence
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]

_PUBLIC = re.compile(r"^/(health|ready|schema|api/v1/auth/(token|refresh))")
_SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[113.0, 28.0], [113.01, 28.0], [113.01, 28.01], [113.0, 28.01], [113.0, 28.0]]
    ],
}


async def _resources(
    b: CountyFixture, factory: async_sessionmaker[AsyncSession], settings: Any
) -> dict[str, uuid.UUID | str]:
    """One county-B resource per path parameter name."""
    admin = b.principal(Role.ADMIN)
    async with factory() as session:
        org = OrgService(session)
        town = await org.create_township(
            admin, code="B001", name="B镇", kind="town", geometry=_SQUARE
        )
        village = await org.create_village(
            admin, township_id=town.id, code="B001001", name="B村", geometry=_SQUARE
        )
        device = await AccountService(session, settings.auth).register_device(
            b.principal(Role.INSPECTOR), "B phone"
        )
        site = await create_mine_site(
            session,
            admin,
            SiteInput(code="B-KS", name="B矿", geometry=parse_geojson_geometry(_SQUARE)),
        )
        job = ImportJob(
            county_id=b.id, kind="parcels", state="done", source_name="b.gpkg", source_bytes=1,
            options={}, read_count=0, stored_count=0, repaired_count=0, rejected_count=0,
            issues={}, runner="b",
        )  # fmt: skip
        session.add(job)
        await session.commit()
    field_work = await _patrol_resources(b, factory, site.id)
    cases = await _case_resources(b, factory)
    evidence_id = await seed_evidence(
        factory, S3ObjectStore(settings.object_store), settings, b.principal(Role.CAPTAIN),
        lon=113.005, lat=28.005, case_id=uuid.UUID(str(cases["case_id"])),
    )  # fmt: skip
    return {
        **field_work,
        **cases,
        "user_id": b.users[Role.INSPECTOR].id,
        # evidence: one accepted photo of B's flagged case
        "evidence_id": evidence_id,
        "kind": "thumbnail",
        "township_id": town.id,
        "village_id": village.id,
        "device_id": device.id,
        "site_id": site.id,
        "version_id": site.layer_version_id,
        "job_id": job.id,
        "role": "village_cadre",
        # sync: layers are named, not county resources; a county-B layer version id names
        # no layer (404), and each county's layer names only ever serve its own features
        "layer": site.layer_version_id,
        "z": site.id,
        "x": site.id,
        "y": site.id,
    }


async def _patrol_resources(
    b: CountyFixture, factory: async_sessionmaker[AsyncSession], site_id: uuid.UUID
) -> dict[str, uuid.UUID | str]:
    """County B's field work: an area with a target, a rule, a patrol with a sign-in and a
    finding, a duty check and the alert it raised."""
    boss, me = b.principal(Role.CAPTAIN), b.principal(Role.INSPECTOR)
    now = utcnow()
    async with factory() as session:
        areas = AreaService(session)
        area = await areas.create_area(
            boss, code="B-A1", name="B片", grade=1, geometry=_SQUARE, leader_id=me.user_id
        )
        target = await areas.add_target(
            boss, area.id, kind="custom", name="B点", lon=113.005, lat=28.005
        )
        rule = await PlanService(session).set_frequency_rule(boss, name="B规则")
        patrols = PatrolService(session)
        patrol = await patrols.start_patrol(
            me, uuid7(), area_id=area.id, started_at=now - timedelta(hours=1)
        )
        sign_in = await patrols.sign_in(
            me, patrol.id, uuid7(), at=now, lon=113.005, lat=28.005, accuracy_m=5.0
        )
        finding = await patrols.record_finding(
            me, patrol.id, uuid7(), found_at=now, project_name="B项目",
            construction_status="levelled", lon=113.005, lat=28.005,
        )  # fmt: skip
        check = DutyCheck(
            id=uuid7(), county_id=b.id, site_id=site_id, member_id=uuid7(),
            recorded_by=me.user_id, checked_at=now, status="signs_of_reopening", is_night=False,
            note="", evidence_ids=[],
        )  # fmt: skip
        session.add(check)
        await session.flush()
        await raise_alert(
            session, county_id=b.id, kind="site_reopening", severity="high",
            dedupe_key=f"isolation:{check.id}", message="B", site_id=site_id,
            duty_check_id=check.id,
        )  # fmt: skip
        alert_id = await session.scalar(select(PatrolAlert.id).where(PatrolAlert.county_id == b.id))
        assert alert_id is not None
        await session.commit()
    return {
        "area_id": area.id,
        "target_id": target.id,
        "rule_id": rule.id,
        # a month names no county resource; one no list shows, so it cannot look leaked
        "month": "1999-01",
        "patrol_id": patrol.id,
        "sign_in_id": sign_in.id,
        "finding_id": finding.id,
        "check_id": check.id,
        "alert_id": alert_id,
    }


async def _case_resources(
    b: CountyFixture, factory: async_sessionmaker[AsyncSession]
) -> dict[str, uuid.UUID | str]:
    """County B's flagged case and its referral."""
    squad = b.principal(Role.SECURITY_SQUAD)
    async with factory() as session:
        case = await open_case(
            session,
            b.principal(Role.CAPTAIN),
            CaseInput(cause="B案", violation_kind="land_occupation", lon=113.005, lat=28.005),
        )
        await flag_for_referral(session, b.principal(Role.CAPTAIN), case_id=case.id, reason="B")
        team = [squad.user_id, b.users[Role.CAPTAIN].id]
        referral = await create_referral(session, squad, case.id, team_ids=team, report="B")
        await session.commit()
    return {"case_id": case.id, "referral_id": referral.id}


def _routes(app: Litestar) -> list[tuple[str, str, list[str]]]:
    out: list[tuple[str, str, list[str]]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or _PUBLIC.match(route.path):
            continue
        params = re.findall(r"\{(\w+)(?::\w+)?\}", route.path)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, route.path, params))
    return out


async def test_no_route_reveals_another_county(
    client: Client, app: Litestar, make_county: Any, session_factory: Any, settings: Any
) -> None:
    a: CountyFixture = await make_county()
    b: CountyFixture = await make_county(lon=113.0, lat=28.0)
    b_ids = await _resources(b, session_factory, settings)
    b_strings = {str(v) for v in b_ids.values()} | {str(u.id) for u in b.users.values()}
    checked = 0
    for method, path, params in _routes(app):
        missing = [p for p in params if p not in b_ids]
        assert not missing, f"{method} {path}: add a county-B resource for {missing}"
        url = path
        for name in params:
            url = re.sub(r"\{" + name + r"(:[a-z]+)?\}", str(b_ids[name]), url)
        for role in Role:
            body: Any = {} if method in {"POST", "PATCH", "PUT"} else None
            resp = await client.request(method, url, headers=a.headers(role), json=body)
            checked += 1
            assert resp.status_code < 500, f"{method} {url} as {role}: {resp.text}"
            if params:
                assert resp.status_code in {400, 403, 404, 422}, (
                    f"{method} {url} as {role} answered {resp.status_code}: {resp.text}"
                )
                if method in {"GET", "DELETE"}:
                    assert resp.status_code in {403, 404}, f"{method} {url} as {role}"
            elif method == "GET" and resp.status_code == 200:
                leaked = [s for s in b_strings if s in resp.text]
                assert not leaked, f"GET {url} as {role} shows county-B ids {leaked}"
    assert checked >= 5 * 10


async def test_admin_endpoints_need_the_admin_role(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    body = {
        "username": "newbie",
        "displayName": "N",
        "role": "inspector",
        "password": "long-enough-pass",
    }
    for role in (Role.INSPECTOR, Role.CAPTAIN, Role.SECURITY_SQUAD, Role.JOINT_TEAM):
        resp = await client.post("/api/v1/admin/users", json=body, headers=county.headers(role))
        assert resp.status_code == 403, resp.text
        assert resp.json()["code"] == "role_not_allowed"
        assert resp.json()["details"] == {"allowedRoles": ["admin"]}


async def test_sync_pulls_and_pushes_nothing_of_another_county(
    client: Client, make_county: Any, session_factory: Any, settings: Any
) -> None:
    """Every role of county A pulls none of county B's records (cases included), and
    operations naming county B's records are rejected without touching them."""
    a: CountyFixture = await make_county()
    b: CountyFixture = await make_county(lon=113.0, lat=28.0)
    b_ids = await _resources(b, session_factory, settings)
    b_strings = {str(v) for v in b_ids.values()} | {str(u.id) for u in b.users.values()}
    at = utcnow().isoformat()
    ops: list[dict[str, Any]] = [
        {"type": "updateEvidence", "opId": str(uuid7()), "evidenceId": str(b_ids["evidence_id"]),
         "caption": "A县改"},
        {"type": "updateFinding", "opId": str(uuid7()), "findingId": str(b_ids["finding_id"]),
         "baseVersion": 0, "changes": {"note": "A县改"}},
        {"type": "signIn", "opId": str(uuid7()), "patrolId": str(b_ids["patrol_id"]),
         "signInId": str(uuid7()), "at": at, "lon": 113.005, "lat": 28.005, "accuracyM": 5.0},
        {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(b_ids["patrol_id"]),
         "endedAt": at},
    ]  # fmt: skip
    for role in Role:
        cursor = None
        while True:
            resp = await client.post(
                "/api/v1/sync/pull", json={"cursor": cursor}, headers=a.headers(role)
            )
            assert resp.status_code == 200, resp.text
            leaked = [s for s in b_strings if s in resp.text]
            assert not leaked, f"SyncPull as {role} shows county-B ids {leaked}"
            cursor = resp.json()["cursor"]
            if not resp.json()["hasMore"]:
                break
        fresh = [{**op, "opId": str(uuid7())} for op in ops]
        resp = await client.post("/api/v1/sync/push", json={"ops": fresh}, headers=a.headers(role))
        assert resp.status_code == 200, resp.text
        receipts = resp.json()["receipts"]
        assert [r["status"] for r in receipts] == ["rejected"] * len(ops), (role, receipts)
        assert receipts[0]["code"] == "evidence_not_found"
        assert receipts[1]["code"] == "finding_not_found"
