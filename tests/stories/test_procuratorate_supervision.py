"""The procuratorate supervises a referral without paper copies, walked through HTTP against
the real app, PostGIS and S3.

The captain opens two cases with a named party; one is flagged and referred (the team's
report, the head's approval, the transfer to the police with its materials), the other is
flagged only. The procuratorate's user lists and reads exactly the referred case (party ID
number masked), its steps and deadlines, the referral with its due times and the overdue feed,
and exports the case's package, which verifies against the keys the brigade publishes. It is
refused everything else — sync, tiles, evidence, the directory, alerts, any change — and the
custody chain holds one ``procuratorate_viewed`` entry per read, naming the reader and what
was read, and nothing for a refusal.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from evidence.cases.package import verify_package
from evidence.cases.package_keys import load_public_keys
from evidence.custody import CustodyAction, CustodyLog
from evidence.models import CustodyEntry
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.cases.conftest import LAT, LON, add_evidence
from tests.cases.rest import MATERIALS
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
API = "/api/v1"
CUSTODY_KEY = "procuratorate-test-custody-key-" + "p" * 16
ID_NO = "43052119800101123X"
PARTY = {"name": "李四", "kind": "person", "idNo": ID_NO, "address": "河西村"}


@pytest.fixture(scope="module")
def signing_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    keys = tmp_path_factory.mktemp("procuratorate-keys")
    evidence = replace(settings.evidence, package_signing_key=CUSTODY_KEY, package_key_dir=keys)
    return replace(settings, evidence=evidence)


@pytest.fixture(scope="module")
async def api(signing_settings: Settings, engine: AsyncEngine) -> AsyncIterator[Client]:
    """The app with a package signing key (the shared app has none)."""
    del engine  # migrated
    app = create_app(signing_settings)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


async def _call(
    api: Client, county: CountyFixture, role: Role, method: str, path: str, body: Any = None
) -> Any:
    resp = await api.request(method, API + path, json=body, headers=county.headers(role))
    assert resp.status_code in {200, 201}, f"{method} {path}: {resp.text}"
    return resp.json()


async def _referred_case(
    api: Client, county: CountyFixture, db: AsyncSession, store: S3ObjectStore
) -> tuple[str, str]:
    """A filed case with two photos, flagged and referred by the captain and moved on to the
    transfer; (case id, referral id)."""
    owner = county.principal(Role.INSPECTOR)
    photos = [
        await add_evidence(db, store, owner, b"\xff\xd8\xff\xe0" + os.urandom(5_000) + b"\xff\xd9")
        for _ in range(2)
    ]
    await db.commit()
    body = {"cause": "非法占用基本农田建厂房", "violationKind": "land_occupation", "lon": LON,
            "lat": LAT, "parties": [PARTY], "evidenceIds": [str(p) for p in photos]}  # fmt: skip
    case = await _call(api, county, Role.CAPTAIN, "POST", "/cases", body)
    cid = case["id"]
    for kind in ("clue", "filing"):
        await _call(api, county, Role.CAPTAIN, "POST", f"/cases/{cid}/steps", {"kind": kind})
    flag = {"caseId": cid, "reason": "占用基本农田超过5亩"}
    await _call(api, county, Role.CAPTAIN, "POST", "/referral-flags", flag)
    team = [str(county.users[r].id) for r in (Role.SECURITY_SQUAD, Role.CAPTAIN)]
    at = clock.ago(days=5)  # the police have not signed for it 3 days after the transfer
    report = {"teamIds": team, "report": "经核实，涉嫌非法占用农用地罪", "at": at.isoformat()}
    referral = await _call(api, county, Role.CAPTAIN, "POST", f"/cases/{cid}/referrals", report)
    rid = referral["id"]
    decision = {"approved": True, "note": "同意移送", "at": (at + timedelta(hours=2)).isoformat()}
    await _call(api, county, Role.CAPTAIN, "POST", f"/referrals/{rid}/decision", decision)
    transfer = {"policeUnit": "县公安局森林警察大队", "materials": MATERIALS,
                "at": (at + timedelta(hours=5)).isoformat()}  # fmt: skip
    await _call(api, county, Role.CAPTAIN, "POST", f"/referrals/{rid}/transfer", transfer)
    return cid, rid


async def _entries(
    factory: async_sessionmaker[AsyncSession], county: CountyFixture
) -> list[CustodyEntry]:
    async with factory() as session:
        rows = await session.scalars(
            select(CustodyEntry)
            .where(
                CustodyEntry.county_id == county.id,
                CustodyEntry.action == CustodyAction.PROCURATORATE_VIEWED.value,
            )
            .order_by(CustodyEntry.seq)
        )
        return list(rows.all())


async def test_the_procuratorate_supervises_a_referral_and_every_read_is_on_record(
    api: Client,
    make_county: Any,
    db: AsyncSession,
    store: S3ObjectStore,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    county: CountyFixture = await make_county()
    cid, rid = await _referred_case(api, county, db, store)
    # another case, flagged but not referred: the squad sees it, the procuratorate does not
    other = await _call(api, county, Role.CAPTAIN, "POST", "/cases",
                        {"cause": "未批先建", "violationKind": "land_occupation", "lon": LON,
                         "lat": LAT, "parties": [PARTY]})  # fmt: skip
    flag = {"caseId": other["id"], "reason": "疑似达到刑事标准"}
    await _call(api, county, Role.CAPTAIN, "POST", "/referral-flags", flag)
    proc = county.headers(Role.PROCURATORATE)
    reader = county.users[Role.PROCURATORATE]
    reads: list[tuple[str, str | None, list[str]]] = []  # what the chain must say, in order

    # the referred case, and only it, with the party's ID number masked
    listed = await api.get(f"{API}/cases", headers=proc)
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()] == [cid]
    reads.append(("list_cases", None, [cid]))
    case = (await api.get(f"{API}/cases/{cid}", headers=proc)).json()
    assert case["status"] == "referred" and case["referralIds"] == [rid]
    assert case["parties"][0]["idNo"] == "**************123X"
    assert ID_NO not in listed.text
    reads.append(("read_case", cid, [cid]))
    for path in (f"/cases/{other['id']}", f"/cases/{other['id']}/steps"):
        hidden = await api.get(API + path, headers=proc)
        assert (hidden.status_code, hidden.json()["code"]) == (404, "case_not_found"), path

    # its steps and deadlines
    steps = (await api.get(f"{API}/cases/{cid}/steps", headers=proc)).json()
    assert [s["kind"] for s in steps] == ["clue", "filing"]
    reads.append(("list_case_steps", cid, [cid]))
    procedure = await api.get(f"{API}/cases/{cid}/procedure", headers=proc)
    assert procedure.status_code == 200, procedure.text
    filing = next(d for d in procedure.json()["deadlines"] if d["step"] == "filing")
    assert filing["dueAt"] and filing["doneAt"]
    reads.append(("read_procedure", cid, [cid]))

    # the referral with its due times, and the overdue feed: the police's receipt is late
    referrals = (await api.get(f"{API}/referrals", headers=proc)).json()
    assert [r["id"] for r in referrals] == [rid]
    reads.append(("list_referrals", None, [rid]))
    referral = (await api.get(f"{API}/referrals/{rid}", headers=proc)).json()
    assert referral["status"] == "transferred" and referral["policeUnit"] == "县公安局森林警察大队"
    assert referral["nextStep"] == "police_receipt" and referral["overdue"] is True
    assert referral["decisionDueAt"] and referral["transferDueAt"] and referral["receiptDueAt"]
    reads.append(("read_referral", rid, [rid]))
    overdue = (await api.get(f"{API}/referrals/overdue", headers=proc)).json()
    assert [(o["referralId"], o["step"]) for o in overdue] == [(rid, "police_receipt")]
    reads.append(("list_overdue_referral_steps", None, [rid]))

    # the package of the case, verified with the keys the brigade publishes
    package = tmp_path / "package.zip"
    async with api.stream("POST", f"{API}/cases/{cid}/package", headers=proc) as resp:
        assert resp.status_code == 200
        package_id = resp.headers["x-package-id"]
        with package.open("wb") as fh:
            async for chunk in resp.aiter_bytes():
                fh.write(chunk)
    reads.append(("export_package", cid, [cid, package_id]))
    published = await api.get(f"{API}/signing-keys", headers=proc)
    assert published.status_code == 200
    listing = tmp_path / "signing-keys.json"
    listing.write_bytes(published.content)
    report = verify_package(package, public_keys=load_public_keys(listing))
    assert report.ok and report.signature_valid, report.problems
    assert report.package_id == package_id and report.case_no == case["caseNo"]
    with zipfile.ZipFile(package) as zf:  # the party's number is masked in the package too
        names = zf.namelist()
        assert sum(n.startswith("originals/") for n in names) == 2, names
        assert not [n for n in names if ID_NO.encode() in zf.read(n)]

    # everything else is refused, before anything is read
    refused = [
        ("POST", "/sync/pull", {"cursor": None}),
        ("POST", "/sync/push", {"ops": []}),
        ("GET", "/tiles/parcels/14/13293/6885.mvt", None),
        ("GET", "/evidence", None),
        ("GET", f"/evidence/{case['evidenceIds'][0]}", None),
        ("GET", "/admin/users", None),
        ("GET", "/alerts", None),
        ("GET", "/referral-flags", None),
        ("PATCH", f"/cases/{cid}", {"cause": "改"}),
        ("POST", f"/cases/{cid}/steps", {"kind": "investigation"}),
        ("POST", f"/referrals/{rid}/police-receipt", {"receiptNo": "R1"}),
    ]
    for method, path, body in refused:
        resp = await api.request(method, API + path, json=body, headers=proc)
        answer = (resp.status_code, resp.json()["code"])
        assert answer == (403, "role_not_allowed"), (method, path, resp.text)

    # one entry per read, naming the reader and what was read, in the order of the reads
    entries = await _entries(session_factory, county)
    assert [
        (e.details["operation"], str(e.subject_id) if e.subject_id else None, e.details["ids"])
        for e in entries
    ] == reads
    assert {e.actor_id for e in entries} == {reader.id}
    assert {e.details["reader"] for e in entries} == {reader.username}
    async with session_factory() as session:
        chain = await CustodyLog(CUSTODY_KEY.encode()).verify(session, county.id)
    assert chain.ok, chain.problems


async def test_other_roles_reads_are_not_procuratorate_entries(
    api: Client,
    make_county: Any,
    db: AsyncSession,
    store: S3ObjectStore,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The squad and the captain read the same case and referral: no supervision entries."""
    county: CountyFixture = await make_county()
    cid, rid = await _referred_case(api, county, db, store)
    for role in (Role.SECURITY_SQUAD, Role.CAPTAIN):
        for path in (f"/cases/{cid}", f"/cases/{cid}/steps", f"/referrals/{rid}", "/cases"):
            await _call(api, county, role, "GET", path)
        case = await _call(api, county, role, "GET", f"/cases/{cid}")
        assert case["parties"][0]["idNo"] == ID_NO  # the brigade reads the number in full
    assert await _entries(session_factory, county) == []


async def test_a_referrals_lateness_follows_the_apps_clock(
    api: Client, make_county: Any, db: AsyncSession, store: S3ObjectStore
) -> None:
    """Overdue is judged at the app's clock (``app.state.clock``), on the referral, the list
    and the overdue feed alike: a microsecond before the police's receipt is due, it is not."""
    county: CountyFixture = await make_county()
    _cid, rid = await _referred_case(api, county, db, store)
    squad = county.headers(Role.SECURITY_SQUAD)
    due = datetime.fromisoformat(
        (await api.get(f"{API}/referrals/{rid}", headers=squad)).json()["nextDueAt"]
    )
    app_state = api.app.state
    try:
        for at, late in ((due - timedelta(microseconds=1), False), (due, False),
                         (due + timedelta(microseconds=1), True)):  # fmt: skip
            app_state.clock = lambda at=at: at
            one = (await api.get(f"{API}/referrals/{rid}", headers=squad)).json()
            listed = (await api.get(f"{API}/referrals", headers=squad)).json()
            feed = (await api.get(f"{API}/referrals/overdue", headers=squad)).json()
            assert one["overdue"] is late, at
            assert [r["overdue"] for r in _items(listed) if r["id"] == rid] == [late]
            assert (rid in [o["referralId"] for o in feed]) is late
    finally:
        del app_state.clock


def _items(answer: Any) -> list[Any]:
    return list(answer["items"] if isinstance(answer, dict) else answer)
