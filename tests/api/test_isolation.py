"""County isolation, proven by walking every route of the real app.

County B gets one resource of every kind a path can name. Every user of county A (each role)
then calls every operation with a valid request (``tests/api/_calls.py``: the smallest body
and query, naming county B's records), so that each request reaches the county check: an
operation naming a county-B record answers that record's not-found code (or
``role_not_allowed`` to a role ``test_role_matrix.MATRIX`` refuses the operation), never a
validation error and never 2xx; lists filtered by a county-B record, and every other list,
never mention a county-B id. A new route whose path names a resource this test cannot make
fails the test until the resource is added to ``_resources`` below; a new write operation
fails it until its body is added to ``tests/api/_calls.py``.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.calendar import put_calendar_day
from evidence.cases.cases import CaseInput, open_case
from evidence.cases.documents import DocumentInput, DocumentService
from evidence.cases.petitions import Petitioner, PetitionInput, register_petition
from evidence.cases.referrals import create_referral, flag_for_referral
from evidence.cases.report_models import Report
from evidence.cases.satellite_batches import BatchInput, SatelliteBatchService
from evidence.cases.satellite_models import SatelliteTask
from evidence.cases.tip_offs import TipOffInput, TipOffService
from evidence.custody import CustodyLog
from geofence import SiteInput, create_mine_site, parse_geojson_geometry
from geofence.models import ImportJob
from infra.db import utcnow
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from patrol import AreaService, DutyCheck, PatrolAlert, PatrolService, PlanService, raise_alert
from patrol.accounts import AccountService
from patrol.org import OrgService
from patrol.verification import TargetVerificationInput, VerificationService
from tests.api._calls import FRESH, Ctx, Operation, body, missing_bodies, operations, query, request
from tests.api.test_evidence_api import seed_evidence
from tests.api.test_role_matrix import OK, ROLE, refused_roles
from tests.conftest import CountyFixture
from tests.satellite_tasks.seed import seed_task

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
        # a monthly report of county B (queued: the county check comes before its state)
        report = Report(
            county_id=b.id, template="monthly", period_kind="month", period_key="2026-10",
            period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
            requested_by=b.users[Role.CAPTAIN].id,
        )  # fmt: skip
        session.add(report)
        await session.commit()
    field_work = await _patrol_resources(b, factory, site.id)
    cases = await _case_resources(b, factory, settings)
    clues = await _tip_off_resources(b, factory, settings)
    batches = await _satellite_resources(b, factory, settings)
    # a satellite task of B's inspector with a result (the result's id is taken)
    satellite = batches | await seed_task(
        factory, b.id, lon=113.005, lat=28.005, captain_id=b.users[Role.CAPTAIN].id,
        inspector_id=b.users[Role.INSPECTOR].id, area_id=None, status="verified",
        outcome="not_new",
    )  # fmt: skip
    evidence_id = await seed_evidence(
        factory, S3ObjectStore(settings.object_store), settings, b.principal(Role.CAPTAIN),
        lon=113.005, lat=28.005, case_id=uuid.UUID(str(cases["case_id"])),
    )  # fmt: skip
    return {
        **field_work,
        **cases,
        **clues,
        **satellite,
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
        "report_id": report.id,
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
    finding, the target's verification, a duty check and the alert it raised."""
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
        verified = await VerificationService(session).record(
            me,
            TargetVerificationInput(
                target_id=target.id, verification_id=uuid7(), outcome="found", verified_at=now,
                patrol_id=patrol.id,
            ),
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
        "verification_id": verified.id,
    }


async def _case_resources(
    b: CountyFixture, factory: async_sessionmaker[AsyncSession], settings: Any
) -> dict[str, uuid.UUID | str]:
    """County B's flagged case, its referral and the referral's letter, and a petition."""
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
        petition = await register_petition(
            session,
            b.principal(Role.CLUE_DESK),
            PetitionInput("visit", "suggestion", utcnow(), "B信访", "B", Petitioner("B某")),
        )
        await session.commit()
        letter = await DocumentService(
            session,
            S3ObjectStore(settings.object_store),
            custody_key="isolation",
            procedure=settings.procedure,
        ).generate(b.principal(Role.CAPTAIN), case.id, DocumentInput("referral_letter"))
        await session.commit()
    return {
        "case_id": case.id,
        "referral_id": referral.id,
        "petition_id": petition.id,
        "document_id": letter.id,
    }


async def _tip_off_resources(
    b: CountyFixture, factory: async_sessionmaker[AsyncSession], settings: Any
) -> dict[str, uuid.UUID | str]:
    """County B's tip-off and a holiday of its calendar."""
    async with factory() as session:
        service = TipOffService(session, settings.tip_offs, CustodyLog(b"isolation"))
        clue = await service.open_tip_off(
            b.principal(Role.CLUE_DESK),
            TipOffInput(
                channel="letter", received_at=utcnow(), facts="B线索",
                clue_type="land_other", lon=113.005, lat=28.005,
            ),
        )  # fmt: skip
        await put_calendar_day(session, b.principal(Role.ADMIN), date(2030, 1, 1), "holiday")
        await session.commit()
    return {"tip_off_id": clue.id, "day": "2030-01-01"}


async def _satellite_resources(
    b: CountyFixture, factory: async_sessionmaker[AsyncSession], settings: Any
) -> dict[str, uuid.UUID | str]:
    """County B's satellite batch of one polygon and its task."""
    feature = {"type": "Feature", "properties": {"JCBH": "B-1", "PCNF": 2026, "JD": 4},
               "geometry": _SQUARE}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        async with factory() as session:
            done = await SatelliteBatchService(session, settings.satellite).create_batch(
                b.principal(Role.CAPTAIN),
                BatchInput(name="B卫片", kind="quarterly", year=2026, quarter=4),
                path,
                source_name="b.geojson",
            )
            await session.commit()
    assert done.batch is not None
    async with factory() as session:
        task_id = await session.scalar(
            select(SatelliteTask.id).where(SatelliteTask.batch_id == done.batch.id)
        )
    assert task_id is not None
    return {"batch_id": done.batch.id, "task_id": task_id}


# the not-found code of each kind of record a path names (its first parameter)
_NOT_FOUND = {
    "alert_id": "alert_not_found",
    "area_id": "area_not_found",
    "batch_id": "satellite_batch_not_found",
    "case_id": "case_not_found",
    "day": "holiday_not_found",
    "device_id": "device_not_found",
    "document_id": "case_document_not_found",
    "evidence_id": "evidence_not_found",
    "job_id": "import_job_not_found",
    "layer": "layer_not_found",
    "patrol_id": "patrol_not_found",
    "petition_id": "petition_not_found",
    "referral_id": "referral_not_found",
    "report_id": "report_not_found",
    "rule_id": "rule_not_found",
    "site_id": "mine_site_not_found",
    "target_id": "target_not_found",
    "task_id": "satellite_task_not_found",
    "tip_off_id": "tip_off_not_found",
    "township_id": "township_not_found",
    "user_id": "user_not_found",
    "version_id": "layer_version_not_found",
    "village_id": "village_not_found",
}
# the county check's answer where it is not the not-found code of the path's first record:
# an upload is its own record; a body naming a county-B record (a fresh id in the path)
_ANSWER = {
    "AbortUpload": "404 upload_not_found",
    "AssignSatelliteTasks": "404 satellite_task_not_found",
    "CompleteUpload": "404 upload_not_found",
    "GetUpload": "404 upload_not_found",
    "CreateUpload": "422 reference_not_found",  # the patrol the evidence is of
    "CreateArea": "422 unknown_user",  # the leader
    "CreateVillage": "404 township_not_found",
    "FlagForReferral": "404 case_not_found",
    "RecordDutyCheck": "404 site_not_found",
    "StartPatrol": "404 area_not_found",
    "SubmitSatelliteTasks": "404 satellite_task_not_found",
}
# phones mint the ids of what they create; a county-B record's id is taken, and the answer
# says no more than that
_TAKEN = {
    "CreateUpload": "409 evidence_id_conflict",
    "RecordDutyCheck": "409 id_reused",
    "RecordTargetVerification": "409 id_reused",
    "RecordSatelliteResult": "409 id_reused",
    "SetFrequencyRule": "409 id_reused",
    "StartPatrol": "409 id_reused",
}


def _names_b(op: Operation, ctx: Ctx, b_strings: set[str]) -> bool:
    """Whether the request of ``op`` names a county-B record (path, query or body)."""
    if op.params:
        return True
    text = json.dumps([body(op.operation_id, ctx), query(op.operation_id, ctx)], default=str)
    return any(s in text for s in b_strings)


def _county_check(op: Operation, *, fresh: bool) -> str:
    """The answer of the county check to ``op`` naming county-B records."""
    if not fresh and op.operation_id in _TAKEN:
        return _TAKEN[op.operation_id]
    if op.operation_id in _ANSWER:
        return _ANSWER[op.operation_id]
    return f"404 {_NOT_FOUND[op.params[0]]}"


def _answer(resp: Any) -> str:
    return (
        str(resp.status_code)
        if resp.status_code < 300
        else f"{resp.status_code} {resp.json()['code']}"
    )


async def test_no_route_reveals_another_county(
    client: Client, app: Litestar, make_county: Any, session_factory: Any, settings: Any
) -> None:
    """Every role of county A calls every operation with a valid request naming county B's
    records: the answer is the county check's (the record's not-found code, or
    ``role_not_allowed`` to a role ``MATRIX`` refuses the operation), never a validation
    error and never 2xx; lists filtered by a county-B record show nothing of county B."""
    a: CountyFixture = await make_county()
    b: CountyFixture = await make_county(lon=113.0, lat=28.0)
    b_ids = await _resources(b, session_factory, settings)
    b_strings = {str(v) for v in b_ids.values() if isinstance(v, uuid.UUID)}
    b_strings |= {str(u.id) for u in b.users.values()}
    team = f"{b.users[Role.SECURITY_SQUAD].id},{b.users[Role.CAPTAIN].id}"
    ctx = Ctx({k: str(v) for k, v in {**b_ids, "team_ids": team}.items()}, 113.005, 28.005)
    ops = [op for op in operations(app) if not _PUBLIC.match(op.path)]
    assert not missing_bodies(ops), (
        f"add the smallest valid body of {missing_bodies(ops)} to tests/api/_calls.py BODIES"
    )
    wrong: list[str] = []
    checked = 0
    for op in ops:
        missing = [p for p in op.params if p not in ctx.ids]
        assert not missing, f"{op.method} {op.path}: add a county-B resource for {missing}"
        names_b = _names_b(op, ctx, b_strings)
        for role in Role:
            for fresh in (False, True) if op.operation_id in FRESH else (False,):
                resp = await request(client, op, ctx, a.headers(role), fresh=fresh)
                checked += 1
                got = _answer(resp)
                assert resp.status_code < 500, f"{op.operation_id} as {role}: {resp.text}"
                if resp.status_code == 200:
                    leaked = [s for s in b_strings if s in resp.text]
                    assert not leaked, f"{op.operation_id} as {role} shows county-B ids {leaked}"
                if not names_b:
                    continue
                if got == ROLE and role in refused_roles(op.operation_id):
                    continue
                if op.params or op.operation_id in _ANSWER:
                    want = _county_check(op, fresh=fresh)
                elif op.operation_id == "SyncPush":
                    want = OK
                    receipts = resp.json()["receipts"] if got == OK else []
                    assert [r["code"] for r in receipts] == ["patrol_not_found"], receipts
                else:  # a list filtered by a county-B record: empty (checked above)
                    want = OK
                if got != want:
                    wrong.append(f"{op.operation_id} as {role}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 5 * 100


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
        if role in refused_roles("SyncPull"):  # an external role: no sync at all
            for path, data in (("pull", {"cursor": None}), ("push", {"ops": ops})):
                resp = await client.post(f"/api/v1/sync/{path}", json=data, headers=a.headers(role))
                assert (resp.status_code, resp.json()["code"]) == (403, "role_not_allowed"), role
            continue
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
