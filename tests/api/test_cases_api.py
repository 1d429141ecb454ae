"""Cases, flags, referrals and evidence packages through the real app."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from evidence.cases.models import CasePackage, Referral
from evidence.cases.package import MANIFEST, verify_package
from evidence.cases.package_keys import PackageKeyring
from evidence.models import CustodyEntry
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.cases.conftest import LAT, LON, add_evidence, add_parcels, geojson, square
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]

SIGNING_KEY = "api-test-package-signing-key-" + secrets.token_hex(16)
MATERIALS = [
    {"kind": "referral_letter", "title": "涉嫌犯罪案件移送书", "reference": "移字〔2026〕7号"},
    {"kind": "investigation_report", "title": "涉嫌犯罪案件情况的调查报告"},
    {"kind": "items_list", "title": "涉案物品清单"},
]
PHOTO_A = b"\xff\xd8\xff\xe0" + os.urandom(200_000) + b"\xff\xd9"
PHOTO_B = b"\xff\xd8\xff\xe1" + os.urandom(900_000) + b"\xff\xd9"


# -- fixtures ------------------------------------------------------------------------------------
class _WatchedStore(S3ObjectStore):
    """The app's object store, noting what the database looks like while originals stream."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.object_store)
        self.engine: AsyncEngine | None = None
        self.checked_out_while_streaming: list[int] = []

    async def aiter_chunks(
        self,
        key: str,
        *,
        chunk_size: int = 1024 * 1024,
        start: int | None = None,
        end: int | None = None,
    ) -> AsyncIterator[bytes]:
        assert self.engine is not None
        async for chunk in super().aiter_chunks(key, chunk_size=chunk_size, start=start, end=end):
            self.checked_out_while_streaming.append(self.engine.pool.checkedout())  # type: ignore[attr-defined]
            yield chunk


@dataclass
class Signed:
    """An app with a package signing key, its client and its watched store."""

    client: Client
    store: _WatchedStore


@pytest.fixture(scope="module")
async def signed(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Signed]:
    del engine  # migrated
    keyed = replace(settings, evidence=replace(settings.evidence, package_signing_key=SIGNING_KEY))
    store = _WatchedStore(keyed)
    app = create_app(keyed, store=store)
    store.engine = app.state.engine
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield Signed(client=client, store=store)


@pytest.fixture(scope="module")
def s3(settings: Settings) -> S3ObjectStore:
    return S3ObjectStore(settings.object_store)


# -- helpers -------------------------------------------------------------------------------------
def _case_body(**extra: Any) -> dict[str, Any]:
    return {
        "cause": "未经批准占用耕地建设厂房",
        "violationKind": "land_occupation",
        "lon": LON,
        "lat": LAT,
        **extra,
    }


async def _open(client: Client, county: CountyFixture, **extra: Any) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/cases", json=_case_body(**extra), headers=county.headers(Role.CAPTAIN)
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _flag(client: Client, county: CountyFixture, case_id: str) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/referral-flags",
        json={"caseId": case_id, "reason": "疑似非法占用农用地罪"},
        headers=county.headers(Role.CAPTAIN),  # the squad cannot flag what it cannot see
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _team(county: CountyFixture) -> list[str]:
    return [str(county.users[Role.SECURITY_SQUAD].id), str(county.users[Role.CAPTAIN].id)]


async def _refer(
    client: Client, county: CountyFixture, case_id: str, *, at: datetime | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"teamIds": _team(county), "report": "调查报告：占地15亩"}
    if at is not None:
        body["at"] = at.isoformat()
    resp = await client.post(
        f"/api/v1/cases/{case_id}/referrals", json=body, headers=county.headers(Role.SECURITY_SQUAD)
    )
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def _ids(resp_json: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in resp_json}


# -- cases ---------------------------------------------------------------------------------------
async def test_case_workflow_with_areas_and_a_screening_suggestion(
    client: Client, make_county: Any, db: AsyncSession
) -> None:
    county: CountyFixture = await make_county()
    await add_parcels(db, county.id)  # west half permanent basic farmland
    polygon = geojson(square(LON - 0.03, LAT, 100))  # 10,000 m² = 15 mu of basic farmland
    case = await _open(client, county, surveyedGeometry=polygon, caseNo="测试-001")

    assert case["status"] == "clue"
    assert case["caseNo"] == "测试-001"
    assert case["areas"]["basicFarmlandMu"] == pytest.approx(15.0, rel=0.02)
    codes = {s["ruleCode"] for s in case["suggestions"]}
    assert "342.basic_farmland" in codes  # a suggestion for a human, never a referral
    assert case["referralIds"] == [] and case["flagged"] is False

    captain = county.headers(Role.CAPTAIN)
    url = f"/api/v1/cases/{case['id']}"
    for status in ("filed", "investigating"):
        resp = await client.post(f"{url}/status", json={"status": status}, headers=captain)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == status
    resp = await client.post(f"{url}/status", json={"status": "closed"}, headers=captain)
    assert resp.status_code == 409 and resp.json()["code"] == "invalid_status_transition"
    resp = await client.post(f"{url}/status", json={"status": "suspended"}, headers=captain)
    assert resp.status_code == 422 and resp.json()["code"] == "reason_required"
    resp = await client.post(
        f"{url}/status", json={"status": "filed"}, headers=county.headers(Role.INSPECTOR)
    )
    assert resp.status_code == 403

    resp = await client.patch(
        url,
        json={"cause": "占用永久基本农田建设厂房", "oreValueYuan": "1200.50"},
        headers=captain,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["cause"] == "占用永久基本农田建设厂房"
    assert resp.json()["oreValueYuan"] == "1200.50"

    got = (await client.get(url, headers=captain)).json()
    assert got["status"] == "investigating" and got["suggestions"]
    listed = await client.get(
        "/api/v1/cases", params={"suggested": "true", "status": "investigating"}, headers=captain
    )
    assert listed.status_code == 200
    assert case["id"] in _ids(listed.json())

    rules = await client.get("/api/v1/referral-rules", headers=captain)
    assert rules.status_code == 200
    assert "342.basic_farmland" in {r["code"] for r in rules.json()}


async def test_bad_case_input_is_refused(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    captain = county.headers(Role.CAPTAIN)
    resp = await client.post("/api/v1/cases", json=_case_body(lat=95.0), headers=captain)
    assert resp.status_code == 400
    resp = await client.post(
        "/api/v1/cases", json=_case_body(evidenceIds=[str(uuid.uuid4())]), headers=captain
    )
    assert resp.status_code == 422 and resp.json()["code"] == "unknown_evidence"
    resp = await client.post(
        "/api/v1/cases", json=_case_body(), headers=county.headers(Role.SECURITY_SQUAD)
    )
    assert resp.status_code == 403
    listed = await client.get("/api/v1/cases", headers=captain)
    assert listed.json() == []  # nothing stored


# -- flags and referrals -------------------------------------------------------------------------
async def test_squad_sees_only_flagged_cases_and_runs_the_referral(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    squad = county.headers(Role.SECURITY_SQUAD)
    captain = county.headers(Role.CAPTAIN)
    case = await _open(client, county)
    other = await _open(client, county, cause="另一宗违法建设")

    before = await client.get("/api/v1/cases", headers=squad)
    assert before.status_code == 200 and before.json() == []
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=squad)).status_code == 404
    resp = await client.post(
        f"/api/v1/cases/{case['id']}/referrals",
        json={"teamIds": _team(county), "report": "报告"},
        headers=squad,
    )
    assert resp.status_code == 404  # not visible to the squad before a flag

    flag = await _flag(client, county, case["id"])
    assert flag["caseId"] == case["id"]
    after = await client.get("/api/v1/cases", headers=squad)
    assert _ids(after.json()) == {case["id"]}  # never the unflagged one
    assert other["id"] not in after.text
    flags = await client.get("/api/v1/referral-flags", headers=squad)
    assert {f["id"] for f in flags.json()} == {flag["id"]}

    one = await client.post(
        f"/api/v1/cases/{case['id']}/referrals",
        json={"teamIds": [str(county.users[Role.SECURITY_SQUAD].id)], "report": "报告"},
        headers=squad,
    )
    assert one.status_code == 422 and one.json()["code"] == "team_too_small"
    assert (await client.get("/api/v1/referrals", headers=squad)).json() == []

    referral = await _refer(client, county, case["id"])
    assert referral["status"] == "reported" and referral["nextStep"] == "decision"
    rid = referral["id"]
    base = f"/api/v1/referrals/{rid}"

    early = await client.post(
        f"{base}/transfer", json={"policeUnit": "县公安局", "materials": MATERIALS}, headers=squad
    )
    assert early.status_code == 409 and early.json()["code"] == "step_out_of_order"
    assert (await client.get(base, headers=squad)).json()["status"] == "reported"  # unchanged

    decided = await client.post(f"{base}/decision", json={"approved": True}, headers=captain)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved" and decided.json()["nextStep"] == "transfer"
    moved = await client.post(
        f"{base}/transfer", json={"policeUnit": "县公安局", "materials": MATERIALS}, headers=squad
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "transferred"
    assert [m["kind"] for m in moved.json()["materials"]] == [m["kind"] for m in MATERIALS]
    receipt = await client.post(
        f"{base}/police-receipt", json={"receiptNo": "回执1"}, headers=squad
    )
    assert receipt.status_code == 200 and receipt.json()["status"] == "received"
    police = await client.post(
        f"{base}/police-decision", json={"filed": True, "decisionNo": "立字1号"}, headers=squad
    )
    assert police.status_code == 200 and police.json()["status"] == "police_filed"
    again = await client.post(f"{base}/police-receipt", json={}, headers=squad)
    assert again.status_code == 409 and again.json()["code"] == "step_out_of_order"
    handed = await client.post(
        f"{base}/handover",
        json={"items": [{"kind": "item", "title": "挖掘机一台", "quantity": 1}]},
        headers=squad,
    )
    assert handed.status_code == 200 and handed.json()["status"] == "handed_over"
    assert handed.json()["nextStep"] is None

    listed = await client.get(
        "/api/v1/referrals", params={"status": "handed_over", "case_id": case["id"]}, headers=squad
    )
    assert [r["id"] for r in listed.json()] == [rid]
    opened = await client.get("/api/v1/referrals", params={"open_only": "true"}, headers=squad)
    assert opened.json() == []
    got = (await client.get(f"/api/v1/cases/{case['id']}", headers=squad)).json()
    assert got["referralIds"] == [rid] and got["flagged"] is True


async def test_late_steps_appear_in_the_overdue_feed(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    case = await _open(client, county)
    await _flag(client, county, case["id"])
    late = await _refer(client, county, case["id"], at=clock.now() - timedelta(days=5))
    assert late["overdue"] is True

    feed = await client.get(
        "/api/v1/referrals/overdue", headers=county.headers(Role.SECURITY_SQUAD)
    )
    assert feed.status_code == 200
    steps = feed.json()
    assert [(s["referralId"], s["step"]) for s in steps] == [(late["id"], "decision")]
    assert steps[0]["overdueS"] > 24 * 3600
    overdue = await client.get(
        "/api/v1/referrals", params={"overdue": "true"}, headers=county.headers(Role.CAPTAIN)
    )
    assert [r["id"] for r in overdue.json()] == [late["id"]]
    inspector = await client.get(
        "/api/v1/referrals/overdue", headers=county.headers(Role.INSPECTOR)
    )
    assert inspector.status_code == 403


async def test_another_countys_case_and_referral_do_not_exist(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    a: CountyFixture = await make_county()
    b: CountyFixture = await make_county(lon=113.0, lat=28.0)
    case = await _open(client, a)
    await _flag(client, a, case["id"])
    referral = await _refer(client, a, case["id"])

    for role in (Role.CAPTAIN, Role.SECURITY_SQUAD, Role.ADMIN):
        headers = b.headers(role)
        resp = await client.get(f"/api/v1/cases/{case['id']}", headers=headers)
        assert resp.status_code == 404 and resp.json()["code"] == "case_not_found"
        resp = await client.get(f"/api/v1/referrals/{referral['id']}", headers=headers)
        assert resp.status_code == 404
        assert case["id"] not in (await client.get("/api/v1/cases", headers=headers)).text
    b_squad = b.headers(Role.SECURITY_SQUAD)
    resp = await client.post(
        "/api/v1/referral-flags", json={"caseId": case["id"], "reason": "x"}, headers=b_squad
    )
    assert resp.status_code == 404
    resp = await client.post(
        f"/api/v1/cases/{case['id']}/referrals",
        json={"teamIds": _team(b), "report": "报告"},
        headers=b_squad,
    )
    assert resp.status_code == 404
    resp = await client.post(
        f"/api/v1/referrals/{referral['id']}/decision",
        json={"approved": True},
        headers=b.headers(Role.CAPTAIN),
    )
    assert resp.status_code == 404
    resp = await client.post(f"/api/v1/cases/{case['id']}/package", headers=b_squad)
    assert resp.status_code == 404
    async with session_factory() as session:
        row = await session.get(Referral, uuid.UUID(referral["id"]))
        assert row is not None and row.status == "reported"  # nothing changed


def _cli_verify(good: Path, tampered: Path, changed: str, key: Path) -> None:
    """``patrol package verify`` needs no database and no S3; exit 1 on any problem."""
    env = {**os.environ, "DATABASE_URL": "", "S3_ENDPOINT_URL": ""}
    patrol = [
        str(Path(sys.executable).with_name("patrol")), "package", "verify", "--public-key", str(key)
    ]  # fmt: skip
    ok = subprocess.run([*patrol, str(good)], env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    bad = subprocess.run(
        [*patrol, str(tampered)], env=env, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1, bad.stderr
    assert f"file_modified: {changed}" in bad.stdout


def _cli_export(settings: Settings, county: CountyFixture, case_id: str, out: Path) -> None:
    """``patrol package export`` as a captain, against the same database and S3."""
    store = settings.object_store
    env = {
        **os.environ,
        "PATROL_DATA_DIR": str(out.parent / "data"),
        "DATABASE_URL": settings.database.url,
        "S3_ENDPOINT_URL": store.endpoint_url,
        "S3_BUCKET": store.bucket,
        "S3_ACCESS_KEY_ID": store.access_key_id,
        "S3_SECRET_ACCESS_KEY": store.secret_access_key,
        "PATROL_SECRET_KEY": settings.auth.secret_key,
        "PATROL_PACKAGE_SIGNING_KEY": SIGNING_KEY,
    }
    captain = county.users[Role.CAPTAIN].username
    command = [str(Path(sys.executable).with_name("patrol")), "package", "export", case_id]
    done = subprocess.run(
        [*command, "--out", str(out), "--username", captain],
        env={**env, "PATROL_PACKAGE_KEY_DIR": str(settings.package_key_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    keys = PackageKeyring.from_settings(settings).public_keys()
    assert verify_package(out, public_keys=keys).ok


# -- packages ------------------------------------------------------------------------------------
async def test_package_is_streamed_verified_and_logged(
    signed: Signed,
    *,
    settings: Settings,
    make_county: Any,
    db: AsyncSession,
    s3: S3ObjectStore,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    client = signed.client
    county: CountyFixture = await make_county()
    owner = county.principal(Role.INSPECTOR)
    a = await add_evidence(db, s3, owner, PHOTO_A, caption="远景")
    b = await add_evidence(db, s3, owner, PHOTO_B, lon=LON + 0.0003, caption="近景")
    case = await _open(client, county, evidenceIds=[str(a)])
    linked = await client.post(
        f"/api/v1/cases/{case['id']}/evidence",
        json={"evidenceIds": [str(b), str(a)]},
        headers=county.headers(Role.CAPTAIN),
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["evidenceIds"] == [str(a), str(b)]
    await _flag(client, county, case["id"])

    path = tmp_path / "package.zip"
    signed.store.checked_out_while_streaming.clear()
    async with client.stream(
        "POST",
        f"/api/v1/cases/{case['id']}/package",
        headers=county.headers(Role.SECURITY_SQUAD),
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/zip"
        assert "attachment; filename=" in resp.headers["content-disposition"]
        assert ".zip" in resp.headers["content-disposition"]
        assert "content-encoding" not in resp.headers  # a ZIP is not gzipped again
        package_id = resp.headers["x-package-id"]
        with path.open("wb") as out:
            async for chunk in resp.aiter_bytes():
                out.write(chunk)
    # the request's transaction was committed before the first original was read
    assert signed.store.checked_out_while_streaming
    assert set(signed.store.checked_out_while_streaming) == {0}

    keys = PackageKeyring.from_settings(settings).public_keys()
    report = verify_package(path, public_keys=keys)
    assert report.ok, list(report.lines())
    assert report.signature_valid is True and report.case_no == case["caseNo"]
    with zipfile.ZipFile(path) as zf:
        originals = sorted(n for n in zf.namelist() if n.startswith("originals/"))
        assert sorted(zf.read(n) for n in originals) == sorted([PHOTO_A, PHOTO_B])
        assert MANIFEST in zf.namelist()

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == originals[0]:
                data = data[:-10] + b"0123456789"
            dst.writestr(info, data)
    bad = verify_package(tampered, public_keys=keys)
    assert not bad.ok
    assert [(p.path, p.problem) for p in bad.problems] == [(originals[0], "file_modified")]
    other = PackageKeyring(tmp_path / "other-keys").public_keys()
    wrong_key = verify_package(path, public_keys=other)
    assert {p.problem for p in wrong_key.problems} == {"signature_invalid"}
    pem = tmp_path / "published.pem"
    pem.write_text("".join(k.public_key_pem for k in keys))
    _cli_verify(path, tampered, originals[0], pem)

    async with session_factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry).where(
                    CustodyEntry.subject_id.in_([a, b]), CustodyEntry.action == "exported"
                )
            )
        ).all()
        assert {e.subject_id for e in entries} == {a, b}
        assert {e.details["package_id"] for e in entries} == {package_id}
        assert {e.actor_id for e in entries} == {county.users[Role.SECURITY_SQUAD].id}
        row = await session.get(CasePackage, uuid.UUID(package_id))
        assert row is not None and row.evidence_count == 2

    _cli_export(settings, county, case["id"], tmp_path / "cli.zip")
    async with session_factory() as session:
        exports = await session.scalar(
            select(func.count())
            .select_from(CasePackage)
            .where(CasePackage.case_id == uuid.UUID(case["id"]))
        )
        assert exports == 2  # the command's export is logged too


async def test_package_refusals(
    signed: Signed, client: Client, make_county: Any, session_factory: Any
) -> None:
    county: CountyFixture = await make_county()
    case = await _open(signed.client, county)
    squad = county.headers(Role.SECURITY_SQUAD)
    url = f"/api/v1/cases/{case['id']}/package"

    resp = await signed.client.post(url, headers=county.headers(Role.INSPECTOR))
    assert resp.status_code in {403, 404}
    await _flag(signed.client, county, case["id"])
    resp = await signed.client.post(url, headers=squad)
    assert resp.status_code == 409 and resp.json()["code"] == "case_has_no_evidence"
    resp = await client.post(url, headers=squad)  # the default test app has no signing key
    assert resp.status_code == 503 and resp.json()["code"] == "package_signing_key_missing"
    async with session_factory() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(CasePackage)
            .where(CasePackage.case_id == uuid.UUID(case["id"]))
        )
        assert count == 0


def test_a_zip_that_is_not_a_package_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "other.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    path.write_bytes(buf.getvalue())
    report = verify_package(path)
    assert [p.problem for p in report.problems] == ["manifest_missing"]
